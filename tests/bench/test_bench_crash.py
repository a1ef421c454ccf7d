"""bench/crash.py --quick: ``istifta serve`` is killed with SIGKILL twice while clients cast,
restarted on the same data each time, on SQLite and on PostgreSQL. What holds on any machine:
no receipt a client got is lost, every tree head a client saw is consistent with the final
one, and every ballot ends up on the board exactly once. How fast it restarts is reported,
never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .runner import store_arguments

ROOT = Path(__file__).resolve().parents[2]
QUICK_BALLOTS, KILLS = 200, 2


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def result(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store = store_arguments(request.param)
    cache = str(tmp_path_factory.mktemp("ballots"))
    command = [sys.executable, str(ROOT / "bench" / "crash.py"), "--quick", *store, "--cache", cache]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr  # 1 would mean a check failed
    assert done.stderr.count("killed at") == KILLS  # progress goes to stderr
    report: dict[str, Any] = json.loads(done.stdout)  # one JSON object, nothing else
    assert report["mode"] == "quick" and report["setup"]["kills"] == KILLS
    assert len(report["machine"]["load_average_1min"]) == 2
    assert list(report["stores"]) == [request.param]
    figures: dict[str, Any] = report["stores"][request.param]
    assert figures["store"]["kind"] == request.param
    return figures


def test_the_server_was_killed_mid_load_and_came_back(result: dict[str, Any]) -> None:
    assert result["kills"] == KILLS
    points, sizes = result["kill_points"], result["board_size_at_kills"]
    assert 0 < points[0] < points[1] < QUICK_BALLOTS
    for receipts, size in zip(points, sizes, strict=True):
        assert size >= receipts + 1  # what was receipted before the kill is on the board after it
    assert all(n >= 1 for n in result["in_flight_at_kills"])
    for name in ("restart_s", "ready_s"):
        f = result[name]
        assert f["repeats"] == KILLS and 0 < f["min"] <= f["median"] <= f["max"] and f["unit"] == "s"
    retries = result["retries"]
    assert retries["ballots_sent_again"] >= 1 and sum(retries["failed_requests"].values()) >= 1
    assert retries["rejected"] == 0


def test_no_receipt_is_lost_and_every_tree_head_is_consistent(result: dict[str, Any]) -> None:
    receipts = result["receipts"]
    assert receipts["checked"] == QUICK_BALLOTS
    assert result["kill_points"][-1] <= receipts["received_before_a_kill"] < QUICK_BALLOTS
    assert receipts["lost"] == 0 and receipts["bad_inclusion_proofs"] == 0
    assert 0 <= receipts["committed_but_unanswered_at_a_kill"] <= receipts["checked"]
    heads = result["tree_heads"]
    assert heads["checked"] >= 1 and heads["consistency_proofs_from_api"] == heads["checked"]
    assert heads["inconsistent"] == 0 and heads["consistency_proofs_failed"] == 0


def test_every_ballot_is_on_the_board_once(result: dict[str, Any]) -> None:
    board = result["board"]
    assert board["size"] == QUICK_BALLOTS + 1 and board["ballots"] == QUICK_BALLOTS
    assert board["duplicate_trackers"] == 0
    assert board["every_ballot_has_a_receipt"] and board["board_is_ballots_plus_election_entry"]
    assert board["tree_heads_stored"] >= 1
