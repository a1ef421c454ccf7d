"""How long the post-close path takes for a whole election, as one JSON object.

    .venv/bin/python bench/verify.py [--ballots N] [--seed S] [--processes P] [--repeats R] [--quick]
    .venv/bin/python bench/verify.py --sizes      # the ballots' sizes alone, at once

Builds (or takes from ``bench/.cache/``) a record of N yes/no ballots, then
times what follows the close: the tally (the last ballot of each credential,
parsed and summed, as ``istifta tally`` does), the trustees' decryption
(``t`` partial decryptions with their proofs, then their combination, the
discrete logarithm and the result's turnout) and ``istifta verify`` (read the
record, run every check) with 1 process and with P. Each of these runs in a
fresh process, so that its memory peak is its own. Ends with the figures
extrapolated to 10 million ballots from 25 million voters. Prints the figures
to stdout (progress to stderr); bench/README.md says what each one means.
Building the record takes a while (a million ballots: 37 minutes on a shared
2-core machine, 6 GB of memory), so it runs in P processes and is cached,
keyed by N and the seed.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from nacl.signing import SigningKey

from common import figure, load_average, machine, say, sig
from istifta.crypto.dlog import DlogTable
from istifta.crypto.group import IDENTITY, Point, Scalar
from istifta.crypto.hashing import sha256
from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import Ballot, build_ballot, parse_ballot
from istifta.protocol.entries import BallotBatch, sniff_type
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.protocol.record import Record, turnout
from istifta.protocol.tally import (
    Tally,
    combine,
    parse_tally,
    partial_decrypt,
    tally,
    verify_partial_decryption,
)
from istifta.protocol.verify import BallotVerifier, verify_ballots_in_process, verify_record
from istifta.protocol.verify_parts import check_electorate
from istifta.record.io import FILES, read_record, write_record
from istifta.record.pool import process_pool_verifier
from istifta.testing import make_election, manifest_json, question_json, record_from_ballots

ROOT = Path(__file__).resolve().parent
REGIONS = ("Baghdad", "Basra", "Erbil", "Nineveh")
BUILD_CHUNK = 250
TARGET = {"ballots": 10_000_000, "electorate": 25_000_000, "verify_s": 3600, "yes_no_bytes": 850}
"""Issue 7's targets: 10 million ballots verified in an hour on 2 cores, from an electorate of
25 million; a yes/no ballot of at most 850 bytes."""
T = TypeVar("T")


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


def election_rng(seed: str) -> SeededRandom:
    """Draws the trustees first, then the voters' codes (:func:`make_election`)."""
    return SeededRandom(f"bench verify {seed}")


def build(ballots: int, seed: str, processes: int) -> Record:
    voters, votes = plan(ballots)
    say(f"building an electorate of {voters:,} and {ballots:,} ballots in {processes} processes")
    election = make_election(election_rng(seed), voters=voters, regions=REGIONS)
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


# ---------------------------------------------------------------- each phase in a process of its own


def isolated(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``function(*args)`` in a fresh spawned process: its memory peak is the phase's own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def peak_rss_mb(workers: bool = False) -> float:
    """This process's memory high-water mark or, with ``workers``, its largest finished child's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if workers else resource.RUSAGE_SELF)
    return sig(usage.ru_maxrss / 1024)


def timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    gc.collect()
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


# ---------------------------------------------------------------- the tally and the decryption


def board_entries(folder: Path) -> dict[str, list[bytes]]:
    """The board's entries by type."""
    by_type: dict[str, list[bytes]] = {}
    with open(folder / "board.jsonl", "rb") as f:
        for line in f:
            entry = line.rstrip(b"\n")
            by_type.setdefault(sniff_type(entry) or "?", []).append(entry)
    return by_type


def count_ballots(params: ElectionParameters, rows: Sequence[tuple[str, bytes]]) -> Tally:
    """What ``Referendums.tally`` does once the store has given the ballot entries with their
    credentials in board order: keep the last of each credential, parse it, sum."""
    last: dict[str, bytes] = {}
    for credential, data in rows:
        last.pop(credential, None)
        last[credential] = data
    return tally(params, (parse_ballot(json.loads(e)["ballot"]) for e in last.values()))


def post_close(folder: Path, seed: str, repeats: int) -> dict[str, Any]:
    """The tally, then the decryption and the result: timed, and checked against the record's entries."""
    entries = board_entries(folder)
    params = parse_parameters(json.loads(entries["election"][0])["parameters"])
    rows = [(json.loads(e)["ballot"]["credential"], e) for e in entries.pop("ballot")]
    published = json.loads(entries["tally"][0])
    seconds = []
    for _ in range(repeats):
        t, s = timed(count_ballots, params, rows)
        if t.to_json() != published:
            raise RuntimeError("the tally differs from the record's")
        seconds.append(s)
    tally_figures = {
        "processes": 1,
        "ballots": len(rows),
        "counted": t.counted,
        "seconds": figure(seconds, "s"),
        "ballots_per_s": sig(len(rows) / statistics.median(seconds)),
        "peak_rss_mb": peak_rss_mb(),
    }
    result = json.loads(entries["result"][0])
    counted = {bytes.fromhex(credential) for credential, _ in rows}
    return {
        "tally": tally_figures,
        "decryption": {
            **decryption(params, parse_tally(published, params), seed, result["counts"], repeats),
            **turnout_seconds(folder, counted, result["turnout"], repeats),
        },
    }


def decryption(
    params: ElectionParameters, t: Tally, seed: str, counts: list[list[int]], repeats: int
) -> dict[str, Any]:
    """``t`` trustees' partial decryptions, each checked as ``istifta trustee decrypt`` does,
    then :func:`combine` (every share's proof, Lagrange, the discrete logarithms)."""
    shares = make_election(election_rng(seed), voters=1).shares  # the trustees are drawn first
    trustees = range(1, params.manifest.threshold + 1)
    per_trustee, combined, dlogs = [], [], []
    questions = params.manifest.questions
    carried = [n for q, row in zip(questions, counts, strict=True) for n in row[: q.explicit_options]]
    for r in range(max(repeats, 3)):
        rng = SeededRandom(f"bench verify decrypt {r}")
        partials = []
        for j in trustees:
            pd, s = timed(partial_decrypt, params, t, j, shares[j], rng)
            verify_partial_decryption(params, t, pd)
            partials.append(pd)
            per_trustee.append(s)
        got, s = timed(combine, params, t, partials)
        if got != counts:
            raise RuntimeError(f"the decryption gives {got}; the record's result says {counts}")
        combined.append(s)
        dlogs.append(dlog_seconds(t.counted, carried))
    worst_10m = min(dlog_seconds(TARGET["ballots"], [TARGET["ballots"]]) for _ in range(3))
    return {
        "trustees": len(trustees),
        "options": sum(len(row) for row in t.ciphertexts),
        "trustee_s": figure(per_trustee, "s"),
        "combine_s": figure(combined, "s"),
        "dlog_s": figure(dlogs, "s"),
        "dlog_10M_worst_s": sig(worst_10m),
    }


def turnout_seconds(folder: Path, counted: set[bytes], expected: Any, repeats: int) -> dict[str, Any]:
    """The result's turnout, from the electorate's credentials and regions (the store's read excluded)."""
    with open(folder / "electorate.jsonl", "rb") as f:
        voters = [(bytes.fromhex(v["credential"]), v.get("region")) for v in map(json.loads, f)]
    seconds = []
    for _ in range(repeats):
        got, s = timed(turnout, voters, counted)
        if got.to_json() != expected:
            raise RuntimeError("the turnout differs from the record's")
        seconds.append(s)
    return {"electorate": len(voters), "turnout_s": figure(seconds, "s")}


def dlog_seconds(bound: int, counts: Sequence[int]) -> float:
    """A :class:`DlogTable` up to ``bound`` and each count solved: the discrete log's part of combining."""
    points = [Point.base_mul(Scalar(n)) if n else IDENTITY for n in counts]
    started = time.perf_counter()
    table = DlogTable(bound)
    for point in points:
        table.solve(point)
    return time.perf_counter() - started


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


def progress_every(fraction: float) -> Callable[[str, int, int], None]:
    """Says how far the ballot checks are, each ``fraction`` of the way."""
    said = [0.0]

    def progress(check: str, done: int, total: int) -> None:
        if total and done / total >= said[0] + fraction:
            said[0] = done / total
            say(f"  {check}: {done:,} of {total:,}")

    return progress


def verify_once(folder: Path, processes: int) -> dict[str, Any]:
    gc.collect()
    cpu = cpu_seconds()
    started = time.perf_counter()
    record = read_record(folder)
    read_s = time.perf_counter() - started
    spans: list[float] = []
    inner = process_pool_verifier(processes) if processes > 1 else verify_ballots_in_process
    report = verify_record(record, verify_ballots=timed_verifier(inner, spans), progress=progress_every(0.1))
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
        "electorate_s": sig(electorate_seconds(record)),
        "peak_rss_mb": peak_rss_mb(),
        **({"workers_peak_rss_mb": peak_rss_mb(workers=True)} if processes > 1 else {}),
    }


def electorate_seconds(record: Record) -> float:
    """The part of a verification that grows with the electorate rather than the ballots:
    its lines read as JSON (as ``read_record`` does) and the electorate check."""
    params = parse_parameters(json.loads(record.board[0])["parameters"])
    gc.collect()
    started = time.perf_counter()
    for line in record.electorate:
        json.loads(line)
    check_electorate(record.electorate, params, {})
    return time.perf_counter() - started


# ---------------------------------------------------------------- sizes and the 10 million extrapolation


def ballot_bytes(folder: Path | None = None) -> dict[str, Any]:
    """The canonical JSON size of a yes/no ballot and of an exactly-one-of-3 one (every ballot
    of an election has the same size), and of a ballot entry on the record's board."""
    sizes: dict[str, Any] = {}
    for name, options in (("yes_no", ["yes", "no"]), ("one_of_3", ["a", "b", "c"])):
        rng = SeededRandom(f"bench verify size {name}")
        e = make_election(rng, manifest_json([question_json(options)]), voters=1)
        sizes[name] = len(build_ballot(e.params, e.codes[0], [[0]], rng).canonical_bytes)
    if folder is not None:
        with open(folder / "board.jsonl", "rb") as f:
            next(f)  # the election entry; then the first ballot's
            sizes["yes_no_board_entry"] = len(next(f).rstrip(b"\n"))
    return {**sizes, "yes_no_target": TARGET["yes_no_bytes"], "unit": "bytes"}


def extrapolated(
    ballots: int, electorate: int, post: dict[str, Any], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The measured seconds scaled to 10 million ballots and 25 million voters: each phase
    in proportion to the ballots, but the parts that go through the electorate (its check,
    the turnout) to the electorate; the discrete logarithm measured at 10 million instead."""
    scale = TARGET["ballots"] / ballots
    d = post["decryption"]
    decrypt_s = d["trustees"] * d["trustee_s"]["median"] + d["combine_s"]["median"] - d["dlog_s"]["median"]
    decrypt_s += d["dlog_10M_worst_s"] + d["turnout_s"]["median"] * TARGET["electorate"] / electorate
    electorate_s: float = runs[0]["electorate_s"]
    verify = {}

    def scaled(seconds: float) -> float:
        return (seconds - electorate_s) * scale + electorate_s * TARGET["electorate"] / electorate

    for run in runs:
        seconds, cpu = scaled(run["total_s"]), scaled(run["cpu_s"])
        verify[str(run["processes"])] = {
            "seconds": sig(seconds),
            "minutes": sig(seconds / 60),
            "within_target": seconds <= TARGET["verify_s"],
            "cpu_s": sig(cpu),
            "idle_cores_floor_s": sig(cpu / run["processes"]),
            "peak_rss_gb": sig(run["peak_rss_mb"] * scale / 1024),
        }
    return {
        "note": f"EXTRAPOLATED from {ballots:,} ballots measured here, not measured",
        "ballots": TARGET["ballots"],
        "electorate": TARGET["electorate"],
        "tally_s": sig(post["tally"]["seconds"]["median"] * scale),
        "decryption_s": sig(decrypt_s),
        "verify_by_processes": verify,
        "verify_target_s": TARGET["verify_s"],
    }


# ---------------------------------------------------------------- the run


def run(ballots: int, seed: str, processes: int, repeats: int, cache: Path) -> dict[str, Any]:
    started, load_before = time.perf_counter(), load_average()
    folder, archive, cached, build_s = cached_record(ballots, seed, processes, cache)
    say(f"the tally and the decryption of {folder}, {repeats} repeats")
    post = isolated(post_close, folder, seed, repeats)
    say(f"  {json.dumps(post)}")  # a long run's finished phases survive its interruption
    runs = []
    for p in (1, processes):
        say(f"verifying {folder} with {p} process(es)")
        runs.append(isolated(verify_once, folder, p))
        say(f"  {json.dumps(runs[-1])}")
    voters, _ = plan(ballots)
    one, many = runs
    return {
        "machine": {**machine(), "load_before": load_before, "load_after": load_average()},
        "record": {
            "ballots": ballots,
            "electorate": voters,
            "revotes": ballots // 20,
            "cached": cached,
            "build_s": sig(build_s),
            **sizes(folder, archive),
        },
        "ballot_bytes": ballot_bytes(folder),
        **post,
        "one_process": one,
        "parallel": many,
        "speedup_total": sig(one["total_s"] / many["total_s"]),
        "speedup_ballot_checks": sig(one["ballot_checks_s"] / many["ballot_checks_s"]),
        "extrapolated_10M": extrapolated(ballots, voters, post, runs),
        "elapsed_s": sig(time.perf_counter() - started),
    }


def sizes(folder: Path, archive: Path) -> dict[str, int]:
    return {
        "board_jsonl_bytes": (folder / "board.jsonl").stat().st_size,
        "folder_bytes": sum((folder / name).stat().st_size for name in FILES),
        "zip_bytes": archive.stat().st_size,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", type=int, default=100_000, help="ballots on the board")
    parser.add_argument("--quick", action="store_true", help="a small record (200 ballots)")
    parser.add_argument("--sizes", action="store_true", help="only the ballots' sizes (no record)")
    parser.add_argument("--seed", default="1", help="the record's seed (part of the cache key)")
    parser.add_argument("--processes", type=int, default=2, help="processes for the parallel run")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the tally and the decryption")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache", help="where records are kept")
    args = parser.parse_args(argv)
    if args.sizes:
        print(json.dumps({"ballot_bytes": ballot_bytes()}, indent=2))
        return
    ballots = 200 if args.quick else args.ballots
    if ballots < 1 or args.processes < 2 or args.repeats < 1:
        parser.error("at least 1 ballot, 2 processes and 1 repeat")
    print(json.dumps(run(ballots, args.seed, args.processes, args.repeats, args.cache), indent=2))


if __name__ == "__main__":
    main()
