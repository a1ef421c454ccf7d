"""bench/board.py --quick runs on SQLite and reports every figure. Speed itself is never
asserted: machines are shared and noisy, and the benchmark is where speed is read. What is
asserted is what holds on any machine: the figures are there and positive, the fill wrote
exactly the rows a board of that size has, and its proofs were checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK_ENTRIES = 20_000
OPERATIONS = ("inclusion_ms", "consistency_ms", "receipt_ms")


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ISTIFTA_TEST_PG_URL"}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "board.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    done = run_bench("--quick", "--store", "sqlite")
    assert done.returncode == 0, done.stderr
    assert "filling a board of 20,000 entries directly" in done.stderr  # progress goes to stderr
    parsed: dict[str, Any] = json.loads(done.stdout)  # one JSON object, nothing else
    return parsed


def assert_timed(f: dict[str, Any], unit: str) -> None:
    assert 0 < f["min"] <= f["median"] <= f["max"], f
    assert f["unit"] == unit
    assert f.get("repeats", f.get("samples", 0)) >= 1, f


def test_the_quick_run_is_labelled_and_on_sqlite_only(report: dict[str, Any]) -> None:
    assert report["mode"] == "quick"
    assert list(report["stores"]) == ["sqlite"]
    sqlite = report["stores"]["sqlite"]
    assert sqlite["store"]["kind"] == "sqlite"
    assert sqlite["store"]["journal_mode"] == "wal" and sqlite["store"]["synchronous"] == "full"
    assert sqlite["store_bytes"] > 0 and sqlite["elapsed_s"] > 0 and report["elapsed_s"] > 0
    assert report["machine"]["nproc"] >= 1 and report["machine"]["python"]


def test_appends_with_one_and_with_many_submitters(report: dict[str, Any]) -> None:
    appends = report["stores"]["sqlite"]["appends"]
    assert appends["entry_bytes"] > 0
    by = appends["by_submitters"]
    assert set(by) == {"1", "8"}
    for threads, figures in by.items():
        assert_timed(figures["appends_per_s"], "entries/s")
        assert_timed(figures["mean_batch"], "entries/commit")
        # a writer batch holds what is waiting: never more than one entry per submitter
        assert 1 <= figures["mean_batch"]["min"] <= figures["mean_batch"]["max"] <= int(threads)
        wait = figures["receipt_wait_ms"]
        assert_timed(wait, "ms")
        assert wait["min"] <= wait["p95"] <= wait["max"]
    assert by["1"]["mean_batch"]["max"] == 1  # one submitter waiting: a commit per entry
    assert appends["over_one_submitter"]["8"] > 0
    assert appends["board_size_after"] > sum(f["receipt_wait_ms"]["samples"] for f in by.values())


def test_the_board_filled_directly_says_so_and_has_every_row(report: dict[str, Any]) -> None:
    board = report["stores"]["sqlite"]["proofs"][str(QUICK_ENTRIES)]
    fill = board["fill"]
    assert fill["bypassed_writer"] is True
    assert "executemany" in fill["how"]
    assert fill["seconds"] > 0 and fill["entries_per_s"] > 0 and fill["entry_bytes_mean"] > 0
    complete_subtrees = 2 * QUICK_ENTRIES - bin(QUICK_ENTRIES).count("1")
    assert fill["rows"] == {"board_entries": QUICK_ENTRIES, "board_nodes": complete_subtrees, "tree_heads": 1}
    checked = " / ".join(board["checked"])
    for what in ("tree head", "inclusion proofs", "consistency proof", "through the writer"):
        assert what in checked, checked


def test_proof_latencies_with_their_spread(report: dict[str, Any]) -> None:
    board = report["stores"]["sqlite"]["proofs"][str(QUICK_ENTRIES)]
    for op in OPERATIONS:
        assert_timed(board[op], "ms")
        assert board[op]["samples"] == 100
        assert board[op]["median"] <= board[op]["p95"] <= board[op]["max"]
    depth = (QUICK_ENTRIES - 1).bit_length()
    for kind, mean in board["proof_hashes_mean"].items():
        assert 1 <= mean <= depth + 1, kind


def test_postgresql_without_a_url_is_refused() -> None:
    done = run_bench("--quick", "--store", "postgresql")
    assert done.returncode == 2
    assert "--store postgresql needs --database or ISTIFTA_TEST_PG_URL" in done.stderr
    assert done.stdout == ""
