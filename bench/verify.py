"""How fast ``istifta verify`` checks a whole election record, as one JSON object.

    .venv/bin/python bench/verify.py [--ballots N] [--seed S] [--processes P] [--quick]

Builds (or takes from ``bench/.cache/``) a record of N yes/no ballots, writes
it with ``write_record``, then times what ``istifta verify`` does — read the
record, run every check — with 1 process and with P processes for the
ballots. Prints the figures to stdout (progress to stderr); bench/README.md
says what each one means. Building 100,000 ballots takes minutes, so it runs
in P spawned processes and the record is cached, keyed by N and the seed.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import resource
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from common import load_average, say, sig, usable_cpus
from istifta.crypto.hashing import sha256
from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import Ballot, build_ballot
from istifta.protocol.entries import BallotBatch
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.protocol.record import Record
from istifta.protocol.verify import BallotVerifier, verify_ballots_in_process, verify_record
from istifta.record_io import FILES, read_record, write_record
from istifta.testing import make_election, record_from_ballots
from istifta.verify_pool import process_pool_verifier

ROOT = Path(__file__).resolve().parent
REGIONS = ("Baghdad", "Basra", "Erbil", "Nineveh")
BUILD_CHUNK = 250


# ---------------------------------------------------------------- building the record


def plan(ballots: int) -> tuple[int, list[tuple[int, int]]]:
    """Voters and ``(voter, choice)`` per ballot: one ballot in 20 is a revote
    (by the earliest voters, after everyone else), and as many voters abstain."""
    revotes = ballots // 20
    first = ballots - revotes
    votes = [(v, v % 2) for v in range(first)] + [(v, (v + 1) % 2) for v in range(revotes)]
    return first + revotes, votes


_params: ElectionParameters | None = None


def _start_builder(parameters: bytes) -> None:
    global _params
    _params = parse_parameters(json.loads(parameters))


def _build(job: tuple[str, list[tuple[str, int]]]) -> list[Ballot]:
    seed, votes = job
    assert _params is not None
    rng = SeededRandom(seed)
    return [build_ballot(_params, code, [[choice]], rng) for code, choice in votes]


def build(ballots: int, seed: str, processes: int) -> Record:
    voters, votes = plan(ballots)
    say(f"building an electorate of {voters:,} and {ballots:,} ballots in {processes} processes")
    election = make_election(SeededRandom(f"bench verify {seed}"), voters=voters, regions=REGIONS)
    coded = [(election.codes[v], choice) for v, choice in votes]
    jobs = [
        (f"bench verify {seed} ballots {k}", coded[k : k + BUILD_CHUNK])
        for k in range(0, len(coded), BUILD_CHUNK)
    ]
    parameters = json.dumps(election.params.to_json()).encode()
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_start_builder, initargs=(parameters,)) as pool:
        built = [b for chunk in pool.imap(_build, jobs) for b in chunk]
    key = SigningKey(sha256(f"bench verify {seed} board key".encode()))
    return record_from_ballots(election, built, rng=SeededRandom(f"bench verify {seed} tally"), board_key=key)


def cached_record(ballots: int, seed: str, processes: int, cache: Path) -> tuple[Path, Path, bool, float]:
    """The record's folder and zip under ``cache``, building them if missing."""
    folder = cache / f"verify-{ballots}-{sha256(seed.encode()).hex()[:12]}"
    archive = folder.with_suffix(".zip")
    if all((folder / name).exists() for name in FILES) and archive.exists():
        return folder, archive, True, 0.0
    started = time.perf_counter()
    record = build(ballots, seed, processes)
    write_record(folder, record)
    write_record(archive, record)
    return folder, archive, False, time.perf_counter() - started


# ---------------------------------------------------------------- timing verification


def timed_verifier(inner: BallotVerifier, spans: list[float]) -> BallotVerifier:
    """``inner``, with the seconds from its call to its last batch appended to ``spans``."""

    def verify(
        params: ElectionParameters, entries: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
    ) -> Iterable[BallotBatch]:
        started = time.perf_counter()
        yield from inner(params, entries, eligible)
        spans.append(time.perf_counter() - started)

    return verify


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers, once shut down)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def verify_once(folder: Path, processes: int) -> dict[str, Any]:
    gc.collect()
    cpu = cpu_seconds()
    started = time.perf_counter()
    record = read_record(folder)
    read_s = time.perf_counter() - started
    spans: list[float] = []
    inner = process_pool_verifier(processes) if processes > 1 else verify_ballots_in_process
    report = verify_record(record, verify_ballots=timed_verifier(inner, spans))
    total_s = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    if not report.complete:
        raise RuntimeError(f"the benchmark record does not verify: {report.failure}")
    ballots = report["ballots"].figures["ballots"]
    return {
        "processes": processes,
        "total_s": sig(total_s),
        "read_s": sig(read_s),
        "ballot_checks_s": sig(spans[0]),
        "other_checks_s": sig(total_s - read_s - spans[0]),
        "ballots_per_s": sig(ballots / spans[0]),
        "ballots_per_s_overall": sig(ballots / total_s),
        "cpu_s": sig(cpu),
        "cpus_busy": sig(cpu / total_s),
    }


def sizes(folder: Path, archive: Path) -> dict[str, int]:
    return {
        "board_jsonl_bytes": (folder / "board.jsonl").stat().st_size,
        "folder_bytes": sum((folder / name).stat().st_size for name in FILES),
        "zip_bytes": archive.stat().st_size,
    }


def run(ballots: int, seed: str, processes: int, cache: Path) -> dict[str, Any]:
    started, load_before = time.perf_counter(), load_average()
    folder, archive, cached, build_s = cached_record(ballots, seed, processes, cache)
    say(f"verifying {folder} with 1 process")
    one = verify_once(folder, 1)
    say(f"verifying {folder} with {processes} processes")
    many = verify_once(folder, processes)
    voters, _ = plan(ballots)
    return {
        "machine": {"nproc": usable_cpus(), "load_before": load_before, "load_after": load_average()},
        "record": {
            "ballots": ballots,
            "electorate": voters,
            "revotes": ballots // 20,
            "cached": cached,
            "build_s": sig(build_s),
            **sizes(folder, archive),
        },
        "one_process": one,
        "parallel": many,
        "speedup_total": sig(one["total_s"] / many["total_s"]),
        "speedup_ballot_checks": sig(one["ballot_checks_s"] / many["ballot_checks_s"]),
        "elapsed_s": sig(time.perf_counter() - started),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", type=int, default=100_000, help="ballots on the board")
    parser.add_argument("--quick", action="store_true", help="a small record (200 ballots)")
    parser.add_argument("--seed", default="1", help="the record's seed (part of the cache key)")
    parser.add_argument("--processes", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache", help="where records are kept")
    args = parser.parse_args(argv)
    ballots = 200 if args.quick else args.ballots
    if ballots < 1 or args.processes < 2:
        parser.error("at least 1 ballot and 2 processes")
    print(json.dumps(run(ballots, args.seed, args.processes, args.cache), indent=2))


if __name__ == "__main__":
    main()
