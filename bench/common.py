"""What every benchmark in bench/ shares: progress on stderr, figures as
medians with their spread, and the machine they were measured on."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Sequence
from typing import Any

Figure = dict[str, Any]


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
