"""How fast istifta's cryptography runs on this machine, as one JSON object.

    .venv/bin/python bench/crypto.py [--quick] [--processes N]

Prints the figures to stdout (progress to stderr); bench/README.md says what
each one means. Every timed figure is the median over several repeats, with
the min, the max, the repeat count and the unit. The "libsodium floor" puts
the ballot figures in terms of this machine's own group operations, so that a
run on a slower or faster machine can be compared with this one.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import multiprocessing
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing.synchronize import Barrier
from typing import Any, TypeVar

import pysodium

import common
from common import Figure, figure, load_average, say, sig
from istifta.crypto import group
from istifta.crypto.dlog import DlogTable
from istifta.crypto.group import Point, Scalar, random_scalar
from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot, parse_ballot, verify_ballot
from istifta.testing import Election, make_election, manifest_json, question_json

Timer = Callable[[], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """How much work each part does; --quick trades precision for a run of a few seconds."""

    mode: str
    op_batch: int
    """Group operations per timed batch (distinct inputs)."""
    op_repeats: int
    yes_no_pool: int
    """Distinct voters, hence distinct ballots, in the yes/no pool."""
    one_of_3_pool: int
    ballot_repeats: int
    dlog_bound: int
    dlog_builds: int
    dlog_solves: int


QUICK = Settings("quick", 200, 3, 60, 30, 3, 1_000_000, 3, 15)
FULL = Settings("full", 2000, 11, 500, 200, 7, 50_000_000, 5, 51)
FULL_DLOG_BOUND = FULL.dlog_bound

# libsodium calls that verifying a yes/no ballot makes (parse_ballot + verify_ballot),
# counted from the code; the run checks the count by instrumenting istifta's libsodium handle.
#   parse_ballot: credential P, alpha, beta                      -> 3 decodes
#   verify_range over (0, 1), per branch: z_i·G, c_i·α, z_i·K, c_i·β' and two subtractions,
#     and for v_i = 1 also β' = β − 1·G (1·G is cached)          -> 2 base, 6 var, 5 sub
#   exactly-one question with 2 options: no sum proof            -> nothing
#   verify_schnorr: z·G, c·P, one subtraction                    -> 1 base, 1 var, 1 sub
YES_NO_VERIFY_OPS = {"base_mul": 3, "var_mul": 7, "add": 0, "sub": 6, "decode": 3}
SODIUM_NAMES = {
    "crypto_scalarmult_ristretto255_base": "base_mul",
    "crypto_scalarmult_ristretto255": "var_mul",
    "crypto_core_ristretto255_add": "add",
    "crypto_core_ristretto255_sub": "sub",
    "crypto_core_ristretto255_is_valid_point": "decode",
}


def timed(run: Callable[[], T]) -> tuple[T, float]:
    """``run()``'s result and the seconds it took, after a collection so that none falls inside."""
    gc.collect()
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


# ---------------------------------------------------------------- group operations


def istifta_ops(n: int) -> dict[str, Timer]:
    """The group operations as istifta calls them, each over ``n`` distinct inputs."""
    rng = SeededRandom("bench group ops")
    scalars = [random_scalar(rng) for _ in range(n)]
    points = [Point.base_mul(s) for s in scalars]
    others = points[1:] + points[:1]
    encodings = [p.to_bytes() for p in points]

    def base_mul() -> None:
        for s in scalars:
            Point.base_mul(s)

    def var_mul() -> None:
        for p, s in zip(points, scalars, strict=True):
            p * s

    def add() -> None:
        for p, q in zip(points, others, strict=True):
            p + q

    def sub() -> None:
        for p, q in zip(points, others, strict=True):
            p - q

    def decode() -> None:
        for e in encodings:
            Point.decode(e)

    return {"base_mul": base_mul, "var_mul": var_mul, "add": add, "sub": sub, "decode": decode}


def raw_ops(n: int) -> dict[str, Timer]:
    """The same operations straight into libsodium through ctypes: bytes in, one reused buffer."""
    rng = SeededRandom("bench group ops")
    scalars = [random_scalar(rng).to_bytes() for _ in range(n)]
    points = [Point.base_mul(Scalar.decode(s)).to_bytes() for s in scalars]
    others = points[1:] + points[:1]
    lib = pysodium.sodium
    out = ctypes.create_string_buffer(32)

    def base_mul() -> None:
        f = lib.crypto_scalarmult_ristretto255_base
        for s in scalars:
            f(out, s)

    def var_mul() -> None:
        f = lib.crypto_scalarmult_ristretto255
        for p, s in zip(points, scalars, strict=True):
            f(out, s, p)

    def add() -> None:
        f = lib.crypto_core_ristretto255_add
        for p, q in zip(points, others, strict=True):
            f(out, p, q)

    def sub() -> None:
        f = lib.crypto_core_ristretto255_sub
        for p, q in zip(points, others, strict=True):
            f(out, p, q)

    def decode() -> None:
        f = lib.crypto_core_ristretto255_is_valid_point
        for p in points:
            f(p)

    return {"base_mul": base_mul, "var_mul": var_mul, "add": add, "sub": sub, "decode": decode}


def bench_group_ops(s: Settings) -> dict[str, Any]:
    """Microseconds per op, both ways; the repeats interleave them so drift hits both alike."""
    suites = {"istifta": istifta_ops(s.op_batch), "raw_ctypes": raw_ops(s.op_batch)}
    samples: dict[str, dict[str, list[float]]] = {k: {} for k in suites}
    for _ in range(s.op_repeats):
        for suite, ops in suites.items():
            for name, run in ops.items():
                per_op = timed(run)[1] / s.op_batch * 1e6
                samples[suite].setdefault(name, []).append(per_op)
    result: dict[str, Any] = {
        suite: {name: op_figures(xs) for name, xs in ops.items()} for suite, ops in samples.items()
    }
    result["wrapper_overhead"] = {}
    for name in samples["raw_ctypes"]:
        wrapped = result["istifta"][name]["us_per_op"]["median"]
        raw = result["raw_ctypes"][name]["us_per_op"]["median"]
        result["wrapper_overhead"][name] = {
            "us_per_op": sig(wrapped - raw),
            "ratio": sig(wrapped / raw),
        }
    result["batch"] = s.op_batch
    return result


def op_figures(us_per_op: Sequence[float]) -> dict[str, Figure]:
    return {
        "us_per_op": figure(us_per_op, "us/op"),
        "ops_per_s": figure([1e6 / x for x in us_per_op], "ops/s"),
    }


# ---------------------------------------------------------------- ballots


@dataclass(frozen=True)
class Case:
    name: str
    manifest: dict[str, Any]
    options: int

    def election(self, voters: int) -> Election:
        """Deterministic: a worker process rebuilds the same election from the same seed."""
        return make_election(SeededRandom(f"bench election {self.name}"), self.manifest, voters)


CASES = {
    "yes_no": Case("yes_no", manifest_json([question_json(["yes", "no"])]), 2),
    "one_of_3": Case("one_of_3", manifest_json([question_json(["a", "b", "c"])]), 3),
}


def build_pool(case: Case, e: Election, seed: str) -> list[bytes]:
    """One ballot per voter, choices cycling through the options, as canonical JSON."""
    rng = SeededRandom(seed)
    return [
        build_ballot(e.params, code, [[i % case.options]], rng).canonical_bytes
        for i, code in enumerate(e.codes)
    ]


def verify_pool(e: Election, pool: Sequence[bytes]) -> int:
    """What a server does with a ballot it receives: JSON → Ballot → every check."""
    for raw in pool:
        verify_ballot(e.params, parse_ballot(json.loads(raw)), e.is_eligible)
    return len(pool)


def bench_case(case: Case, voters: int, repeats: int) -> tuple[dict[str, Any], Election, list[bytes]]:
    e = case.election(voters)
    built: list[float] = []
    verified: list[float] = []
    pool: list[bytes] = []
    for r in range(repeats):
        pool, t_build = timed(partial(build_pool, case, e, f"bench {case.name} {r}"))
        _, t_verify = timed(partial(verify_pool, e, pool))
        built.append(voters / t_build)
        verified.append(voters / t_verify)
    sizes = {len(b) for b in pool}
    if len(sizes) != 1:
        raise RuntimeError(f"{case.name}: ballots of different sizes {sorted(sizes)}")
    return (
        {
            "build_per_s": figure(built, "ballots/s"),
            "verify_per_s": figure(verified, "ballots/s"),
            "canonical_json_bytes": sizes.pop(),
            "pool": voters,
        },
        e,
        pool,
    )


class CountingLib:
    """Stands in for istifta's libsodium handle and counts the calls by name."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.counts: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        f = getattr(self.lib, name)

        def counted(*args: Any) -> Any:
            self.counts[name] += 1
            return f(*args)

        return counted


@contextmanager
def counting_sodium() -> Iterator[CountingLib]:
    original = group._lib
    counter = CountingLib(original)
    group._lib = counter
    try:
        yield counter
    finally:
        group._lib = original


def observed_ops(e: Election, ballot: bytes) -> dict[str, int]:
    with counting_sodium() as counter:
        verify_pool(e, [ballot])
    unknown = set(counter.counts) - set(SODIUM_NAMES)
    if unknown:
        raise RuntimeError(f"verification made libsodium calls the floor ignores: {unknown}")
    return {op: counter.counts[name] for name, op in SODIUM_NAMES.items()}


def libsodium_floor(ops: dict[str, Any], measured: Figure, observed: dict[str, int]) -> Figure:
    raw = {name: ops["raw_ctypes"][name]["us_per_op"]["median"] for name in YES_NO_VERIFY_OPS}
    floor_us = sum(n * raw[name] for name, n in YES_NO_VERIFY_OPS.items())
    measured_per_s = measured["median"]
    return {
        "ops_per_ballot": YES_NO_VERIFY_OPS,
        "ops_observed": observed,
        "ops_match": observed == YES_NO_VERIFY_OPS,
        "floor_us_per_ballot": sig(floor_us),
        "floor_ballots_per_s": sig(1e6 / floor_us),
        "measured_us_per_ballot": sig(1e6 / measured_per_s),
        "measured_ballots_per_s": measured_per_s,
        "measured_over_floor": sig(measured_per_s * floor_us / 1e6),
    }


# ---------------------------------------------------------------- worker processes


@dataclass
class Worker:
    election: Election
    barrier: Barrier


_WORKER: list[Worker] = []
"""The worker process's state, set by :func:`worker_init` (spawned: nothing is inherited)."""


def worker_init(voters: int, barrier: Barrier) -> None:
    _WORKER.append(Worker(CASES["yes_no"].election(voters), barrier))


def worker_ready(_: int) -> None:
    """Blocks until every worker is up, so that each takes exactly one of these."""
    _WORKER[0].barrier.wait()


def worker_verify(share: list[bytes]) -> int:
    return verify_pool(_WORKER[0].election, share)


def shares(pool: Sequence[bytes], parts: int) -> list[list[bytes]]:
    return [list(pool[i::parts]) for i in range(parts)]


def bench_processes(e: Election, pool: list[bytes], n: int, repeats: int) -> dict[str, Any]:
    """Verification spread over ``n`` spawned workers, start-up excluded. Each repeat also
    times one process on the same pool, so the speed-up compares runs a moment apart."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    parts = shares(pool, 4 * n)  # small enough shares that a slow worker does not hold the rest
    one: list[float] = []
    many: list[float] = []
    with ctx.Pool(n, initializer=worker_init, initargs=(len(pool), barrier)) as workers:
        workers.map(worker_ready, range(n), chunksize=1)
        for _ in range(repeats):
            done, t = timed(lambda: sum(workers.map(worker_verify, parts, chunksize=1)))
            many.append(done / t)
            one.append(len(pool) / timed(partial(verify_pool, e, pool))[1])
    return {
        "processes": n,
        "total_verify_per_s": figure(many, "ballots/s"),
        "one_process_verify_per_s": figure(one, "ballots/s"),
        "speedup_over_one_process": figure([m / o for m, o in zip(many, one, strict=True)], "x"),
        "pool": len(pool),
    }


# ---------------------------------------------------------------- baby-step giant-step


def bench_dlog(s: Settings) -> dict[str, Any]:
    builds: list[float] = []
    table = DlogTable(0)
    for _ in range(s.dlog_builds):
        table, t = timed(lambda: DlogTable(s.dlog_bound))
        builds.append(t * 1e3)
    draw = random.Random("bench dlog")
    counts = [draw.randint(0, s.dlog_bound) for _ in range(s.dlog_solves)]
    solves = [solve_ms(table, n) for n in counts]
    result: dict[str, Any] = {
        "bound": s.dlog_bound,
        "baby_steps": table.m,
        "build_ms": figure(builds, "ms"),
        "solve_ms": figure(solves, "ms per count, counts uniform in [0, bound]"),
    }
    if s.dlog_bound != FULL_DLOG_BOUND:
        result["note"] = f"quick mode: the full run uses a bound of {FULL_DLOG_BOUND:,}"
    return result


def solve_ms(table: DlogTable, n: int) -> float:
    Y = Point.base_mul(Scalar(n))  # noqa: N806 - Y as in the docstring of DlogTable.solve
    found, t = timed(lambda: table.solve(Y))
    if found != n:
        raise RuntimeError(f"DlogTable.solve gave {found} for {n}")
    return t * 1e3


# ---------------------------------------------------------------- the run


def machine() -> dict[str, Any]:
    version: bytes = pysodium.sodium.sodium_version_string()
    return {**common.machine(), "libsodium": version.decode()}


def run(s: Settings, processes: int) -> dict[str, Any]:
    started, load_before = time.perf_counter(), load_average()
    say(f"[{s.mode}] group operations, {s.op_repeats} × {s.op_batch} of each")
    ops = bench_group_ops(s)
    say(f"[{s.mode}] yes/no ballots, {s.ballot_repeats} × {s.yes_no_pool}")
    yes_no, election, pool = bench_case(CASES["yes_no"], s.yes_no_pool, s.ballot_repeats)
    say(f"[{s.mode}] 3-option ballots, {s.ballot_repeats} × {s.one_of_3_pool}")
    one_of_3, _, _ = bench_case(CASES["one_of_3"], s.one_of_3_pool, s.ballot_repeats)
    floor = libsodium_floor(ops, yes_no["verify_per_s"], observed_ops(election, pool[0]))
    say(f"[{s.mode}] yes/no verification in {processes} worker process(es)")
    parallel = bench_processes(election, pool, processes, s.ballot_repeats)
    say(f"[{s.mode}] baby-step giant-step up to {s.dlog_bound:,}")
    dlog = bench_dlog(s)
    return {
        "benchmark": "istifta bench/crypto.py",
        "mode": s.mode,
        "machine": {**machine(), "load_average_1min": [load_before, load_average()]},
        "group_ops": ops,
        "ballots": {"yes_no": yes_no, "one_of_3": one_of_3},
        "libsodium_floor_yes_no": floor,
        "parallel_verify_yes_no": parallel,
        "dlog": dlog,
        "elapsed_s": sig(time.perf_counter() - started),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a run of a few seconds (the test's)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    report = run(QUICK if args.quick else FULL, args.processes)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
