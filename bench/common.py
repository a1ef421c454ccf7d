"""What every benchmark in bench/ shares: progress on stderr, figures as
medians with their spread, and the machine they were measured on."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from typing import Any

Figure = dict[str, Any]
PG_ENV = "ISTIFTA_TEST_PG_URL"
"""The PostgreSQL database a bench may use (scripts/test sets it to a throwaway server)."""


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """``--store`` (repeatable) and ``--database``: which stores a bench runs on."""
    parser.add_argument(
        "--store",
        action="append",
        choices=("sqlite", "postgresql"),
        help=f"repeatable; default: sqlite, and postgresql too when {PG_ENV} is set",
    )
    parser.add_argument("--database", help=f"the PostgreSQL URL (default: {PG_ENV})")


def chosen_stores(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str | None]:
    """Store kind → its URL (``None`` for SQLite in a temporary directory), as asked."""
    url = args.database or os.environ.get(PG_ENV)
    chosen = args.store or (["sqlite", "postgresql"] if url else ["sqlite"])
    if "postgresql" in chosen and not url:
        parser.error(f"--store postgresql needs --database or {PG_ENV}")
    return {kind: (None if kind == "sqlite" else url) for kind in dict.fromkeys(chosen)}


def say(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON."""
    print(message, file=sys.stderr, flush=True)


def sig(x: float) -> float:
    """Four significant digits: more would be noise."""
    return float(f"{x:.4g}")


def figure(samples: Sequence[float], unit: str) -> Figure:
    return {
        "median": sig(statistics.median(samples)),
        "min": sig(min(samples)),
        "max": sig(max(samples)),
        "repeats": len(samples),
        "unit": unit,
    }


def usable_cpus() -> int | None:
    """What ``nproc`` prints: the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def load_average() -> float | None:
    """Other work on a shared machine skews every figure: this says how much there was."""
    return sig(os.getloadavg()[0]) if hasattr(os, "getloadavg") else None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "nproc": usable_cpus(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }
