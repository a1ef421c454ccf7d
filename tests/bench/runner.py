"""Running a benchmark script as a user would, for the smoke tests beside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    """``bench/SCRIPT ARGS`` must exit 0 and print one JSON object; returns it."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def store_arguments(kind: str) -> list[str]:
    """A bench's ``--store`` for ``kind``, with the test database's URL for PostgreSQL."""
    if kind == "sqlite":
        return ["--store", kind]
    url = os.environ.get("ISTIFTA_TEST_PG_URL")
    if not url:
        pytest.fail("ISTIFTA_TEST_PG_URL is not set: run the tests with scripts/test")
    return ["--store", kind, "--database", url]
