"""bench/crypto.py --quick runs and reports every figure. Speed itself is never asserted:
machines are shared and noisy, and the benchmark is where speed is read."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot
from istifta.testing import make_election, manifest_json, question_json

ROOT = Path(__file__).resolve().parents[2]
OPS = ("base_mul", "var_mul", "add", "sub", "decode")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "crypto.py"), "--quick", "--processes", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)  # one JSON object, nothing else
    return parsed


def figures(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every timed figure in the report, with its path."""
    if isinstance(node, dict):
        if "median" in node:
            yield path, node
        for key, value in node.items():
            yield from figures(value, f"{path}.{key}")


def test_every_timed_figure_is_positive_with_its_spread(report: dict[str, Any]) -> None:
    found = dict(figures(report))
    group_ops, ballots, parallel, dlog = 2 * 2 * len(OPS), 2 * 2, 3, 2
    assert len(found) >= group_ops + ballots + parallel + dlog
    for path, f in found.items():
        assert 0 < f["min"] <= f["median"] <= f["max"], path
        assert f["repeats"] >= 1, path
        assert isinstance(f["unit"], str) and f["unit"], path


def test_group_operations_both_ways(report: dict[str, Any]) -> None:
    for suite in ("istifta", "raw_ctypes"):
        for op in OPS:
            assert report["group_ops"][suite][op]["us_per_op"]["unit"] == "us/op"
            assert report["group_ops"][suite][op]["ops_per_s"]["median"] > 0
    for op in OPS:
        assert report["group_ops"]["wrapper_overhead"][op]["ratio"] > 0


def test_ballot_throughput_for_both_cases(report: dict[str, Any]) -> None:
    for case in ("yes_no", "one_of_3"):
        ballots = report["ballots"][case]
        assert ballots["build_per_s"]["unit"] == ballots["verify_per_s"]["unit"] == "ballots/s"
        assert ballots["pool"] > 1


def test_floor_counts_the_operations_verification_makes(report: dict[str, Any]) -> None:
    floor = report["libsodium_floor_yes_no"]
    assert floor["ops_match"], (floor["ops_per_ballot"], floor["ops_observed"])
    assert floor["floor_ballots_per_s"] > 0 and floor["floor_us_per_ballot"] > 0
    assert floor["measured_ballots_per_s"] == report["ballots"]["yes_no"]["verify_per_s"]["median"]
    assert floor["measured_over_floor"] > 0


def test_parallel_figure_with_the_requested_processes(report: dict[str, Any]) -> None:
    parallel = report["parallel_verify_yes_no"]
    assert parallel["processes"] == 1
    for key in ("total_verify_per_s", "one_process_verify_per_s", "speedup_over_one_process"):
        assert parallel[key]["median"] > 0, key


def test_dlog_in_quick_mode_is_labelled(report: dict[str, Any]) -> None:
    assert report["mode"] == "quick"
    assert report["dlog"]["bound"] == 1_000_000
    assert "50,000,000" in report["dlog"]["note"]
    assert report["dlog"]["baby_steps"] ** 2 > report["dlog"]["bound"]


def test_machine_is_described(report: dict[str, Any]) -> None:
    machine = report["machine"]
    assert machine["nproc"] >= 1
    assert machine["cpu_model"] and machine["python"]
    assert machine["libsodium"].count(".") == 2
    assert len(machine["load_average_1min"]) == 2


def test_byte_sizes_are_those_of_a_ballot_built_here(report: dict[str, Any]) -> None:
    cases = {
        "yes_no": (question_json(["yes", "no"]), [[0]]),
        "one_of_3": (question_json(["a", "b", "c"]), [[2]]),
    }
    for case, (question, selections) in cases.items():
        rng = SeededRandom(f"bench size {case}")
        e = make_election(rng, manifest_json([question]), voters=1)
        ballot = build_ballot(e.params, e.codes[0], selections, rng)
        assert report["ballots"][case]["canonical_json_bytes"] == len(ballot.canonical_bytes)
