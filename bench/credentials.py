"""How long issuing credentials for 25 million voters takes, as one JSON object.

    .venv/bin/python bench/credentials.py [--sample N] [--import-rows M] [--repeats R]
                                          [--store sqlite|postgresql]… [--database URL] [--quick]

Times what ``istifta electorate import`` does for each voter's credential
(``istifta.electorate.issuing.issue``: a code from the OS's CSPRNG, ``x = Hs(…)``,
``P = x·G``, the code sealed with the data directory's key) over a sample:
in this process (one core), then through the import's own ``Issuer`` with 1
and with 2 worker processes, and each step alone. Then the whole import of a CSV of phones
(``import_registrations``: rows checked, credentials issued by 2 workers,
both tables written) on a fresh store. Every rate is extrapolated to 25
million voters, against the target of 15 minutes on 2 cores. Prints the
figures to stdout (progress to stderr); bench/README.md says what each means.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

import board
import sms
from common import Figure, add_store_arguments, chosen_stores, figure, load_average, machine, say, sig
from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.hashing import sha256
from istifta.electorate.importer import ImportReport, import_registrations
from istifta.electorate.issuing import CHUNK, Issuer, issue
from istifta.electorate.sealing import CodeBox, load_code_box
from istifta.parallel.pool import default_workers
from istifta.store.db import Store
from istifta.store.referendums import Referendums
from istifta.testing import manifest_json

ELECTORATE = 25_000_000
TARGET_S, TARGET_CORES = 15 * 60, 2
"""Issue 7's target: credentials for 25 million voters in 15 minutes on 2 cores."""
MANIFEST_HASH = sha256(b"bench credentials")


Timing = tuple[float, float]
"""Wall seconds, and CPU seconds of this process and its finished children."""


def rate(count: int, runs: Sequence[Timing]) -> dict[str, Any]:
    """Per-voter figures over repeats of ``count`` voters each."""
    return {
        "voters": count,
        "per_s": figure([count / wall for wall, _ in runs], "voters/s"),
        "us_per_voter": sig(statistics.median(wall for wall, _ in runs) / count * 1e6),
        "cpus_busy": sig(statistics.median(cpu / wall for wall, cpu in runs)),
        "cpu_us_per_voter": sig(statistics.median(cpu for _, cpu in runs) / count * 1e6),
    }


def cpu_seconds() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def timed(work: Callable[[], object]) -> Timing:
    cpu, started = cpu_seconds(), time.perf_counter()
    work()
    return time.perf_counter() - started, cpu_seconds() - cpu


STEPS = ("new_code", "credential_secret", "public_credential", "seal")


def step_us(box: CodeBox, count: int, repeats: int) -> dict[str, Figure]:
    """Each step of :func:`issue` alone, in µs a voter over ``count`` voters: where the time goes
    (``public_credential`` is the base multiplication ``x·G``)."""
    samples: dict[str, list[float]] = {name: [] for name in STEPS}
    for _ in range(repeats):
        marks = [time.perf_counter()]
        codes = [new_code(os.urandom) for _ in range(count)]
        marks.append(time.perf_counter())
        secrets = [credential_secret(MANIFEST_HASH, code) for code in codes]
        marks.append(time.perf_counter())
        publics = [public_credential(x).to_bytes() for x in secrets]
        marks.append(time.perf_counter())
        sealed = [box.seal(code) for code in codes]
        marks.append(time.perf_counter())
        assert len(publics) == len(sealed) == count
        for name, start, end in zip(STEPS, marks, marks[1:], strict=False):
            samples[name].append((end - start) / count * 1e6)
    return {name: figure(us, "us/voter") for name, us in samples.items()}


def in_process(box: CodeBox, count: int) -> None:
    made = issue(MANIFEST_HASH, box, os.urandom, count)
    assert len(made) == count


def through_issuer(box: CodeBox, count: int, workers: int) -> None:
    """As an import takes them: a batch at a time from an :class:`Issuer` started for it
    (its workers' start-up included; the first chunk is made in this process)."""
    issuer = Issuer(MANIFEST_HASH, box, workers=workers)
    try:
        taken = sum(len(issuer.take(min(CHUNK, count - done))) for done in range(0, count, CHUNK))
    finally:
        issuer.close()
    assert taken == count


def bench_issuing(box: CodeBox, count: int, repeats: int) -> dict[str, Any]:
    say(f"issuing {count:,} credentials in this process, {repeats} repeats")
    figures: dict[str, Any] = {
        "in_process": rate(count, [timed(partial(in_process, box, count)) for _ in range(repeats)])
    }
    for workers in (1, 2):
        say(f"issuing {count:,} credentials through the Issuer with {workers} worker(s)")
        runs = [timed(partial(through_issuer, box, count, workers)) for _ in range(repeats)]
        figures[f"issuer_{workers}_workers"] = {"workers": workers, **rate(count, runs)}
    return figures


def fresh_store(kind: str, url: str | None) -> AbstractContextManager[tuple[Store, Callable[[], int]]]:
    """bench/board.py's: a temporary SQLite file or PostgreSQL schema, removed at the end."""
    if kind == "postgresql":
        assert url is not None
        return board.postgresql_store(url)
    return board.sqlite_store()


def one_import(kind: str, url: str | None, rows: int, data: Path) -> Timing:
    """``istifta electorate import`` of ``rows`` phones into a draft on a fresh store."""
    with fresh_store(kind, url) as (store, _):
        refs = Referendums(store, SigningKey(sha256(b"bench credentials board")), data_dir=data)
        slug = refs.create(manifest_json(slug="bench-credentials")).slug
        csv, box = io.BytesIO(sms.voters_csv(rows)), load_code_box(data)
        done: list[ImportReport] = []
        timing = timed(lambda: done.append(import_registrations(refs, slug, csv, box, dry_run=False)))
    assert done[0].imported == rows
    return timing


def bench_import(stores: dict[str, str | None], rows: int, repeats: int, data: Path) -> dict[str, Any]:
    figures = {}
    for kind, url in stores.items():
        say(f"importing {rows:,} phones on {kind}, {repeats} repeats")
        runs = [one_import(kind, url, rows, data) for _ in range(repeats)]
        figures[kind] = {"workers": default_workers(), **rate(rows, runs)}
    return figures


def extrapolated(measured: Iterator[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Each median rate carried to 25 million voters; and its CPU time, spread over 2 idle
    cores, for a bound that another job's load does not move."""
    by = {}
    for name, figures in measured:
        seconds = ELECTORATE / figures["per_s"]["median"]
        floor = ELECTORATE * figures["cpu_us_per_voter"] / 1e6 / TARGET_CORES
        by[name] = {
            "seconds": sig(seconds),
            "minutes": sig(seconds / 60),
            "within_target": seconds <= TARGET_S,
            "idle_cores_floor_s": sig(floor),
        }
    return {
        "note": "EXTRAPOLATED from the samples measured here, not measured",
        "voters": ELECTORATE,
        "target_s": TARGET_S,
        "by": by,
    }


def run(sample: int, rows: int, repeats: int, stores: dict[str, str | None]) -> dict[str, Any]:
    started, load_before = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="istifta-bench-credentials-") as folder:
        data = Path(folder)
        box = load_code_box(data)
        issuing = bench_issuing(box, sample, repeats)
        say("each step of issuing alone")
        steps = step_us(box, min(sample, 50_000), repeats)
        imports = bench_import(stores, rows, repeats, data)
    rates = [*issuing.items(), *((f"import_{kind}", f) for kind, f in imports.items())]
    return {
        "machine": {**machine(), "load_before": load_before, "load_after": load_average()},
        "issuing": issuing,
        "steps_us_per_voter": steps,
        "import": imports,
        "extrapolated_25M": extrapolated(iter(rates)),
        "elapsed_s": sig(time.perf_counter() - started),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=200_000, help="credentials issued a repeat")
    parser.add_argument("--import-rows", type=int, default=100_000, help="phones imported a repeat")
    parser.add_argument("--repeats", type=int, default=3)
    add_store_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="6,000 credentials, 6,000 rows, 1 repeat")
    args = parser.parse_args(argv)
    stores = chosen_stores(parser, args)
    sample, rows, repeats = (6_000, 6_000, 1) if args.quick else (args.sample, args.import_rows, args.repeats)
    if min(sample, rows, repeats) < 1:
        parser.error("at least 1 credential, 1 row and 1 repeat")
    json.dump(run(sample, rows, repeats, stores), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
