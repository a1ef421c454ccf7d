"""bench/verify.py runs on a tiny record and reports every figure of the post-close path.
Speed is never asserted: machines are shared and noisy, and the benchmark is where speed
is read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot
from istifta.testing import make_election, manifest_json, question_json

ROOT = Path(__file__).resolve().parents[2]


def bench_verify(*args: str) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "bench" / "verify.py"), *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def report(cache: Path) -> dict[str, Any]:
    return bench_verify("--ballots", "40", "--repeats", "2", "--cache", str(cache))


def test_the_record_is_built_then_cached(report: dict[str, Any], cache: Path) -> None:
    record = report["record"]
    assert (record["ballots"], record["revotes"], record["cached"]) == (40, 2, False)
    assert 0 < record["zip_bytes"] < record["board_jsonl_bytes"] < record["folder_bytes"]
    again = bench_verify("--ballots", "40", "--repeats", "1", "--cache", str(cache))
    assert again["record"]["cached"] is True


def test_verification_with_one_process_and_with_two(report: dict[str, Any]) -> None:
    for run, processes in (("one_process", 1), ("parallel", 2)):
        figures = report[run]
        assert figures["processes"] == processes
        assert (
            0 < figures["read_s"] < figures["total_s"] and 0 < figures["ballot_checks_s"] < figures["total_s"]
        )
        assert figures["ballots_per_s"] >= figures["ballots_per_s_overall"] > 0
        assert figures["cpu_s"] > 0 and figures["cpus_busy"] > 0
        assert figures["electorate_s"] > 0 and figures["peak_rss_mb"] > 0
    assert (
        report["parallel"]["workers_peak_rss_mb"] > 0 and "workers_peak_rss_mb" not in report["one_process"]
    )
    assert report["speedup_total"] > 0 and report["speedup_ballot_checks"] > 0


def test_the_tally_and_the_decryption(report: dict[str, Any]) -> None:
    tally = report["tally"]
    assert (tally["ballots"], tally["counted"], tally["processes"]) == (40, 38, 1)
    assert tally["seconds"]["repeats"] == 2 and 0 < tally["seconds"]["min"] <= tally["seconds"]["max"]
    assert tally["ballots_per_s"] > 0 and tally["peak_rss_mb"] > 0
    decryption = report["decryption"]
    assert (decryption["trustees"], decryption["options"]) == (2, 1)  # threshold 2; yes/no carries 1
    assert decryption["trustee_s"]["repeats"] == 2 * decryption["combine_s"]["repeats"]
    assert decryption["dlog_s"]["median"] > 0 and decryption["dlog_10M_worst_s"] > 0


def test_the_extrapolation_to_10_million_says_it_is_one(report: dict[str, Any]) -> None:
    future = report["extrapolated_10M"]
    assert "EXTRAPOLATED" in future["note"]
    assert (future["ballots"], future["electorate"], future["verify_target_s"]) == (10**7, 25 * 10**6, 3600)
    assert future["tally_s"] == pytest.approx(report["tally"]["seconds"]["median"] * 10**7 / 40, rel=1e-3)
    assert future["decryption_s"] > 0
    assert set(future["verify_by_processes"]) == {"1", "2"}
    for verify in future["verify_by_processes"].values():
        assert verify["seconds"] > 0 and verify["within_target"] == (verify["seconds"] <= 3600)
        assert verify["peak_rss_gb"] > 0 and verify["cpu_s"] >= verify["idle_cores_floor_s"] > 0


def test_ballot_sizes_are_those_of_ballots_built_here(report: dict[str, Any]) -> None:
    sizes = bench_verify("--sizes")["ballot_bytes"]
    for case, options in (("yes_no", ["yes", "no"]), ("one_of_3", ["a", "b", "c"])):
        rng = SeededRandom(f"test size {case}")
        e = make_election(rng, manifest_json([question_json(options)]), voters=1)
        assert sizes[case] == len(build_ballot(e.params, e.codes[0], [[1]], rng).canonical_bytes)
        assert report["ballot_bytes"][case] == sizes[case]
    assert sizes["yes_no_target"] == 850 and sizes["unit"] == "bytes"
    assert report["ballot_bytes"]["yes_no_board_entry"] > sizes["yes_no"]  # with its type and time
