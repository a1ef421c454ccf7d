"""bench/cast.py --quick: ``istifta serve`` with one and with two workers takes ballots over
HTTP, on SQLite and on PostgreSQL, and every receipt checks out against the board. Speed is
never asserted (machines are shared and noisy; the benchmark is where speed is read): what
holds on any machine is that every ballot was accepted once, each receipt's ballot is at its
index under a tree head whose root the board's entries give, and every figure is there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .runner import store_arguments

ROOT = Path(__file__).resolve().parents[2]
QUICK_BALLOTS, WARMUP, CLIENTS = 200, 20, 16


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ISTIFTA_TEST_PG_URL"}
    command = [sys.executable, str(ROOT / "bench" / "cast.py"), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = store_arguments(request.param)
    done = run_bench("--quick", *store, "--cache", str(tmp_path_factory.mktemp("ballots")))
    assert done.returncode == 0, done.stderr
    assert "building 200 ballots" in done.stderr  # progress goes to stderr
    parsed: dict[str, Any] = json.loads(done.stdout)  # one JSON object, nothing else
    assert list(parsed["stores"]) == [request.param]
    return parsed


def assert_figure(f: dict[str, Any], unit: str) -> None:
    assert 0 < f["min"] <= f["median"] <= f["max"], f
    assert f["unit"] == unit


def test_the_quick_run_says_what_it_ran_on(report: dict[str, Any]) -> None:
    assert report["mode"] == "quick"
    assert report["machine"]["nproc"] >= 1 and len(report["machine"]["load_average_1min"]) == 2
    setup = report["setup"]
    assert (setup["ballots"], setup["warmup_ballots"], setup["clients"]) == (QUICK_BALLOTS, WARMUP, CLIENTS)
    assert setup["timed_ballots"] == QUICK_BALLOTS - WARMUP and setup["ballot_bytes"] > 0
    assert setup["ballots_cached"] is False and setup["build_s"] > 0
    assert float(setup["server_environment"]["ISTIFTA_CAST_RATE"]) >= 1e9  # the limiter is lifted
    ((kind, result),) = report["stores"].items()
    store = result["store"]
    assert store["kind"] == kind
    if kind == "sqlite":
        assert (store["journal_mode"], store["synchronous"]) == ("wal", "full")
    else:
        assert (store["fsync"], store["synchronous_commit"]) == ("on", "on")


def test_every_ballot_is_accepted_once_and_every_receipt_checks_out(report: dict[str, Any]) -> None:
    (result,) = report["stores"].values()
    assert set(result["by_workers"]) == {"1", "2"}
    for workers, figures in result["by_workers"].items():
        assert figures["accepted"] == QUICK_BALLOTS - WARMUP and figures["errors_by_status"] == {}
        checked = figures["checked"]
        assert checked["receipts_checked"] == QUICK_BALLOTS == checked["ballots_on_board"]
        assert checked["board_size"] == QUICK_BALLOTS + 1 and checked["board_is_accepted_plus_election_entry"]
        for failure in ("lost", "bad_inclusion_proofs", "tree_heads_inconsistent", "duplicate_trackers"):
            assert checked[failure] == 0, (workers, failure)
        assert 1 <= checked["tree_heads_checked"] <= checked["tree_heads_stored"]
        # a batch holds at most what the clients have in flight
        assert 1 <= figures["mean_batch"]["median"] <= CLIENTS


def test_rates_latencies_and_where_the_cpu_went(report: dict[str, Any]) -> None:
    (result,) = report["stores"].values()
    for workers, figures in result["by_workers"].items():
        assert_figure(figures["ballots_per_s"], "ballots/s")
        latency = figures["latency_ms"]
        assert 0 < latency["min"] <= latency["median"] <= latency["p95"] <= latency["max"]
        assert latency["samples"] == QUICK_BALLOTS - WARMUP
        assert_figure(figures["server_cpu_ms_per_ballot"], "ms")
        assert_figure(figures["load_generator_cpu_ms_per_ballot"], "ms")
        assert_figure(figures["cpus_busy"]["server"], "CPUs")
        assert_figure(figures["server_ready_s"], "s")
        (processes,) = figures["server_cpu_by_process_s"]
        if workers == "1":
            assert len(processes) == 1  # uvicorn serves in its own process
        else:
            assert len(processes) > 2  # a supervisor and its worker processes
    assert result["over_one_worker"]["2"] > 0
    inside = result["in_process"]
    assert inside["ballots"] == 99 and inside["ballots_per_s"] > 0
    cpu = inside["cpu_ms_per_ballot"]
    assert cpu["checks"] > 0 and cpu["board_writer"] > 0 and cpu["verify_ballot_alone"] > 0
    assert cpu["checks"] + cpu["board_writer"] == pytest.approx(cpu["total"], rel=0.01)
    split = result["one_worker_cpu_ms_per_ballot"]
    assert split["server"] == result["by_workers"]["1"]["server_cpu_ms_per_ballot"]["median"]
    assert split["load_generator"] > 0


def test_postgresql_without_a_url_is_refused() -> None:
    done = run_bench("--quick", "--store", "postgresql")
    assert done.returncode == 2
    assert "--store postgresql needs --database or ISTIFTA_TEST_PG_URL" in done.stderr
    assert done.stdout == ""
