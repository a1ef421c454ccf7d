"""bench/verify.py runs on a tiny record and reports every figure. Speed itself is never
asserted: machines are shared and noisy, and the benchmark is where speed is read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_verify_benchmark_reports_consistent_figures(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "bench" / "verify.py"), "--ballots", "40", "--cache", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    record = report["record"]
    assert (record["ballots"], record["revotes"], record["cached"]) == (40, 2, False)
    assert 0 < record["zip_bytes"] < record["board_jsonl_bytes"] < record["folder_bytes"]
    for run, processes in (("one_process", 1), ("parallel", 2)):
        figures = report[run]
        assert figures["processes"] == processes
        assert (
            0 < figures["read_s"] < figures["total_s"] and 0 < figures["ballot_checks_s"] < figures["total_s"]
        )
        assert figures["ballots_per_s"] >= figures["ballots_per_s_overall"] > 0
        assert figures["cpu_s"] > 0 and figures["cpus_busy"] > 0
    assert report["speedup_total"] > 0 and report["speedup_ballot_checks"] > 0
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert json.loads(again.stdout)["record"]["cached"] is True
