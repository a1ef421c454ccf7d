"""How fast istifta's bulletin board appends and proves, as one JSON object.

    .venv/bin/python bench/board.py [--quick] [--store sqlite|postgresql]…
                                    [--database URL] [--entries N[,N…]]

On each store, two parts:

- appends: durable appends per second through :class:`BoardLog`, with many
  submitter threads each waiting for its receipt (the writer commits them in
  batches) and with one submitter waiting for each receipt (a commit per
  entry), with the mean batch the writer committed;
- proofs: inclusion, consistency and receipt latency on a board of
  ``--entries`` entries. A board that big would take hours through the
  writer, so the bench fills its tables directly (the entries, the RFC 9162
  complete-subtree hashes computed level by level in memory, one signed tree
  head) and says so in the report; it then checks proofs against roots
  recomputed from the entries, and appends through the writer to check that
  the writer extends the board it made.

Prints the figures to stdout (progress to stderr); bench/README.md says what
each one means. Everything the bench writes lives in a temporary directory
(SQLite) or a temporary schema (PostgreSQL) that is removed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from common import Figure, add_store_arguments, chosen_stores, figure, load_average, machine, say, sig
from istifta.board.merkle import (
    leaf_hash,
    range_hash,
    tree_hash_of_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from istifta.protocol.record import entry_bytes, format_time
from istifta.protocol.treehead import TreeHead
from istifta.store.board import Admitted, BoardLog, Receipt
from istifta.store.db import Store
from istifta.store.models import BoardNode, Election, TreeHeadRow

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Settings:
    """How much work each part does; --quick trades precision for a run of seconds."""

    mode: str
    entries: tuple[int, ...]
    """Board sizes for the proof latencies."""
    submitters: tuple[int, ...]
    """Submitter thread counts for the appends; 1 is the commit-per-entry contrast."""
    append_seconds: float
    """How long each repeat keeps submitting."""
    append_repeats: int
    proof_samples: int
    """Random indices timed per operation and board."""


QUICK = Settings("quick", (20_000,), (1, 8), 0.5, 3, 100)
FULL = Settings("full", (1_000_000,), (1, 8, 32, 64), 3.0, 5, 1000)
CHUNK_LEVEL = 16
CHUNK = 1 << CHUNK_LEVEL
"""The fill writes and hashes 65,536 entries at a time (aligned, so every
complete subtree below level 16 lies inside one chunk)."""
WARMUP = 10
EXTEND = 3
"""Entries appended through the writer after the fill, to check it takes the board on."""


def latency(seconds: Sequence[float]) -> Figure:
    ms = [s * 1e3 for s in seconds]
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) > 1 else ms[0]
    return {
        "median": sig(statistics.median(ms)),
        "p95": sig(p95),
        "min": sig(min(ms)),
        "max": sig(max(ms)),
        "samples": len(ms),
        "unit": "ms",
    }


# ---------------------------------------------------------------- stores


@contextmanager
def sqlite_store() -> Iterator[tuple[Store, Callable[[], int]]]:
    """A fresh SQLite store in a temporary directory, and a function giving its size in bytes."""
    with tempfile.TemporaryDirectory(prefix="istifta-bench-") as tmp:
        folder = Path(tmp)
        store = Store(f"sqlite:///{folder / 'board.db'}")
        try:
            store.migrate()
            yield store, lambda: sum(f.stat().st_size for f in folder.iterdir())
        finally:
            store.close()


@contextmanager
def postgresql_store(url: str) -> Iterator[tuple[Store, Callable[[], int]]]:
    """A fresh schema in the database at ``url``, dropped at the end: nothing
    there is read or changed, and nothing is left behind."""
    schema = f"istifta_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    store = Store(scoped.render_as_string(hide_password=False))

    def size() -> int:
        with store.engine.connect() as c:
            tables = ("board_entries", "board_nodes", "tree_heads")
            return sum(
                c.execute(text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar_one() for t in tables
            )

    try:
        store.migrate()
        yield store, size
    finally:
        store.close()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def describe(store: Store) -> dict[str, Any]:
    """What decides durability and speed on this store."""
    with store.engine.connect() as c:
        if store.is_sqlite:
            return {
                "kind": "sqlite",
                "version": sqlite3.sqlite_version,
                "journal_mode": c.exec_driver_sql("PRAGMA journal_mode").scalar(),
                "synchronous": {0: "off", 1: "normal", 2: "full", 3: "extra"}.get(
                    c.exec_driver_sql("PRAGMA synchronous").scalar_one()
                ),
            }
        settings = ("server_version", "fsync", "synchronous_commit", "wal_sync_method", "shared_buffers")
        return {"kind": "postgresql"} | {s: c.exec_driver_sql(f"SHOW {s}").scalar() for s in settings}


def new_board(store: Store, slug: str) -> int:
    """An election row for a board, open, with nothing on it."""
    with store.session() as session, session.begin():
        row = Election(
            slug=slug,
            manifest="{}",
            manifest_hash="0" * 64,
            state="open",
            board_size=0,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return row.id


def count_heads(store: Store, election_id: int) -> int:
    with store.session() as session:
        return session.execute(
            select(func.count()).select_from(TreeHeadRow).where(TreeHeadRow.election_id == election_id)
        ).scalar_one()


# ---------------------------------------------------------------- appends through the writer


def append_note(log: BoardLog, election_id: int, appended: list[bytes] | None = None) -> Receipt:
    """Append a small entry with a fresh tracker and credential; the writer looks the
    tracker up first, as for a ballot (the ballot's own checks run before the writer
    and are measured by bench/crypto.py)."""
    tracker = os.urandom(32).hex()
    credential = os.urandom(32)

    def admit(session: Session, election: Election, now: datetime) -> Admitted:
        entry = {"type": "note", "received_at": format_time(now), "tracker": tracker}
        if appended is not None:
            appended.append(entry_bytes(entry))
        return Admitted(entry, tracker, credential)

    return log.append(election_id, admit, tracker)


def note_size() -> int:
    entry = {"type": "note", "received_at": format_time(datetime.now(UTC)), "tracker": "0" * 64}
    return len(entry_bytes(entry))


def submit_for(
    log: BoardLog, election_id: int, threads: int, seconds: float
) -> tuple[int, float, list[float]]:
    """``threads`` submitters, each appending and waiting for its receipt until
    ``seconds`` have passed: (entries appended, seconds until the last receipt,
    each append's seconds from submission to receipt)."""
    barrier = threading.Barrier(threads + 1)
    deadline = [0.0]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(mine: list[float]) -> None:
        barrier.wait()
        try:
            while time.perf_counter() < deadline[0]:
                start = time.perf_counter()
                append_note(log, election_id)
                mine.append(time.perf_counter() - start)
        except BaseException as exc:  # reported below: a failed append fails the bench
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(mine,)) for mine in latencies]
    for w in workers:
        w.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    barrier.wait()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"an append failed: {errors[0]!r}") from errors[0]
    every = [x for mine in latencies for x in mine]
    return len(every), elapsed, every


def bench_appends(store: Store, key: SigningKey, s: Settings) -> dict[str, Any]:
    election_id = new_board(store, "bench-appends")
    log = BoardLog(store, key)
    by_submitters: dict[str, Any] = {}
    try:
        for _ in range(WARMUP):  # the writer thread and the connections, started outside the timing
            append_note(log, election_id)
        for threads in s.submitters:
            say(f"  appends: {threads} submitter(s), {s.append_repeats} × {s.append_seconds} s")
            rates: list[float] = []
            batches: list[float] = []
            waits: list[float] = []
            for _ in range(s.append_repeats):
                heads = count_heads(store, election_id)
                done, elapsed, each = submit_for(log, election_id, threads, s.append_seconds)
                rates.append(done / elapsed)
                batches.append(done / (count_heads(store, election_id) - heads))
                waits += each
            by_submitters[str(threads)] = {
                "appends_per_s": figure(rates, "entries/s"),
                "mean_batch": figure(batches, "entries/commit"),
                "receipt_wait_ms": latency(waits),
            }
    finally:
        log.stop()
    one = by_submitters.get("1")
    return {
        "entry_bytes": note_size(),
        "board_size_after": log.tree_head(election_id).size,
        "by_submitters": by_submitters,
        "over_one_submitter": {
            n: sig(f["appends_per_s"]["median"] / one["appends_per_s"]["median"])
            for n, f in by_submitters.items()
            if one is not None and n != "1"
        },
    }


# ---------------------------------------------------------------- a big board, filled directly


def bench_entry(i: int) -> bytes:
    """Entry ``i`` of a filled board: small, canonical JSON (keys sorted, no spaces)."""
    return b'{"i":%d,"type":"bench"}' % i


def frontier_keys(size: int) -> list[tuple[int, int]]:
    """The complete subtrees on the right edge of a tree of ``size`` leaves: the root's parts."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


class SQLiteSink:
    """Rows into SQLite with ``executemany``, a transaction per chunk."""

    how = "executemany, one transaction per 65,536 entries, a 256 MiB page cache on that connection"

    def __init__(self, store: Store) -> None:
        self.raw = store.engine.raw_connection()
        self.db: sqlite3.Connection = self.raw.driver_connection  # type: ignore[assignment]
        self.db.execute("PRAGMA cache_size=-262144")  # this connection only: it is closed after the fill

    def entries(self, rows: list[Row]) -> None:
        self.db.executemany(
            'INSERT INTO board_entries (election_id, "index", kind, data, tracker, credential) '
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )

    def nodes(self, rows: list[Row]) -> None:
        self.db.executemany(
            'INSERT INTO board_nodes (election_id, level, "index", hash) VALUES (?, ?, ?, ?)', rows
        )

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        self.raw.close()


class PostgresSink:
    """Rows into PostgreSQL with binary ``COPY`` through psycopg, a transaction per chunk."""

    how = "COPY … FROM STDIN (FORMAT BINARY) through psycopg, one transaction per 65,536 entries"

    def __init__(self, store: Store) -> None:
        self.raw = store.engine.raw_connection()
        self.db: Any = self.raw.driver_connection

    def _copy(self, sql: str, types: list[str], rows: list[Row]) -> None:
        with self.db.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def entries(self, rows: list[Row]) -> None:
        self._copy(
            'COPY board_entries (election_id, "index", kind, data, tracker, credential) '
            "FROM STDIN (FORMAT BINARY)",
            ["int4", "int8", "varchar", "bytea", "varchar", "bytea"],
            rows,
        )

    def nodes(self, rows: list[Row]) -> None:
        self._copy(
            'COPY board_nodes (election_id, level, "index", hash) FROM STDIN (FORMAT BINARY)',
            ["int4", "int2", "int8", "bytea"],
            rows,
        )

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        self.raw.close()


class Levels:
    """Complete-subtree hashes, level by level, from a contiguous run of nodes of one level."""

    def __init__(self, election_id: int, size: int) -> None:
        self.election_id = election_id
        self.edge = dict(frontier_keys(size))
        """Level → the index of the right edge's complete subtree at that level, if any."""
        self.frontier: dict[tuple[int, int], bytes] = {}

    def rows(
        self, level: int, start: int, hashes: list[bytes], skip_first: bool = False
    ) -> tuple[list[Row], bytes]:
        """Rows for ``hashes`` (nodes ``start…`` of ``level``) and every complete
        subtree above them; ``start`` is even unless it is the only node. Returns
        the rows and the top node's hash."""
        rows: list[Row] = []
        sha = hashlib.sha256
        while True:
            if not skip_first:
                rows += [(self.election_id, level, start + k, h) for k, h in enumerate(hashes)]
            skip_first = False
            edge = self.edge.get(level, -1)
            if start <= edge < start + len(hashes):
                self.frontier[(level, edge)] = hashes[edge - start]
            if len(hashes) < 2:
                return rows, hashes[0] if hashes else b""
            hashes = [sha(b"\x01" + hashes[k] + hashes[k + 1]).digest() for k in range(0, len(hashes) - 1, 2)]
            level, start = level + 1, start >> 1

    def root(self, size: int) -> bytes:
        return range_hash(0, size, lambda level, index: self.frontier[(level, index)])


def fill(store: Store, election_id: int, size: int, key: SigningKey) -> tuple[dict[str, Any], bytes]:
    """Write a board of ``size`` entries straight into the tables, bypassing the
    writer: its report and the root computed in memory."""
    sink: SQLiteSink | PostgresSink = SQLiteSink(store) if store.is_sqlite else PostgresSink(store)
    levels = Levels(election_id, size)
    tops: list[bytes] = []
    nodes = entry_bytes_total = 0
    started = time.perf_counter()
    try:
        for c0 in range(0, size, CHUNK):
            c1 = min(size, c0 + CHUNK)
            data = [bench_entry(i) for i in range(c0, c1)]
            entry_bytes_total += sum(map(len, data))
            leaves = [hashlib.sha256(b"\x00" + d).digest() for d in data]
            sink.entries(
                [
                    (election_id, c0 + k, "bench", d, h.hex(), None)
                    for k, (d, h) in enumerate(zip(data, leaves, strict=True))
                ]
            )
            rows, top = levels.rows(0, c0, leaves)
            if c1 - c0 == CHUNK:
                tops.append(top)
            sink.nodes(rows)
            sink.commit()
            nodes += len(rows)
            if c0 // CHUNK % 16 == 15:
                say(f"    filled {c1:,} of {size:,} ({time.perf_counter() - started:.0f} s)")
        if len(tops) > 1:
            rows, _ = levels.rows(CHUNK_LEVEL, 0, tops, skip_first=True)
            sink.nodes(rows)
            sink.commit()
            nodes += len(rows)
    finally:
        sink.close()
    root = levels.root(size)
    with store.session() as session, session.begin():
        head = TreeHead.sign(size, root, format_time(datetime.now(UTC)), key)
        session.add(TreeHeadRow(election_id=election_id, **head.to_json()))
        session.get_one(Election, election_id).board_size = size
    seconds = time.perf_counter() - started
    if not store.is_sqlite:
        with store.engine.begin() as c:  # what any bulk load is followed by
            c.exec_driver_sql("ANALYZE board_entries, board_nodes, tree_heads")
    return {
        "bypassed_writer": True,
        "how": sink.how,
        "seconds": sig(seconds),
        "entries_per_s": sig(size / seconds),
        "rows": {"board_entries": size, "board_nodes": nodes, "tree_heads": 1},
        "entry_bytes_mean": sig(entry_bytes_total / size),
    }, root


# ---------------------------------------------------------------- proofs on the big board


def node_lookup(session: Session, election_id: int) -> Callable[[int, int], bytes]:
    def node(level: int, index: int) -> bytes:
        return session.execute(
            select(BoardNode.hash).where(
                BoardNode.election_id == election_id, BoardNode.level == level, BoardNode.index == index
            )
        ).scalar_one()

    return node


def check_board(
    store: Store, log: BoardLog, election_id: int, size: int, root: bytes, key: SigningKey
) -> list[str]:
    """Proofs from the store checked against roots computed from the entries themselves."""
    rng = random.Random(f"bench board check {size}")
    head = log.tree_head(election_id)
    if head.size != size or head.root != root or not head.verifies(bytes(key.verify_key)):
        raise RuntimeError(f"the filled board's tree head is wrong: {head}")
    picks = [0, size - 1, *(rng.randrange(size) for _ in range(8))]
    for i in picks:
        proof = [bytes.fromhex(p) for p in log.inclusion(election_id, i, size)]
        if not verify_inclusion(leaf_hash(bench_entry(i)), i, size, proof, root):
            raise RuntimeError(f"the inclusion proof of entry {i} does not verify")
    old = rng.randrange(1, size) if size > 1 else 1
    old_root = tree_hash_of_leaf_hashes(leaf_hash(bench_entry(i)) for i in range(old))
    with store.session() as session:
        if range_hash(0, old, node_lookup(session, election_id)) != old_root:
            raise RuntimeError(f"the stored subtrees give a wrong root for size {old}")
    proof = [bytes.fromhex(p) for p in log.consistency(election_id, old, size)]
    if not verify_consistency(old, size, old_root, root, proof):
        raise RuntimeError(f"the consistency proof from {old} to {size} does not verify")
    return [
        "tree head: size, root and signature",
        f"{len(picks)} inclusion proofs against the root computed from the entries",
        f"a consistency proof from size {old:,}, against both roots computed from the entries",
    ]


def check_extension(log: BoardLog, election_id: int, size: int, root: bytes) -> str:
    """The writer appends to the filled board: its receipts and a consistency proof verify."""
    appended: list[bytes] = []
    receipts = [append_note(log, election_id, appended) for _ in range(EXTEND)]
    new_size = size + EXTEND
    head = receipts[-1].tree_head
    new_root = head.root
    for k, (receipt, data) in enumerate(zip(receipts, appended, strict=True)):
        proof = [bytes.fromhex(p) for p in log.inclusion(election_id, size + k, new_size)]
        if receipt.index != size + k or not verify_inclusion(
            leaf_hash(data), size + k, new_size, proof, new_root
        ):
            raise RuntimeError(f"the writer's append {k} to the filled board does not verify")
    proof = [bytes.fromhex(p) for p in log.consistency(election_id, size, new_size)]
    if head.size != new_size or not verify_consistency(size, new_size, root, new_root, proof):
        raise RuntimeError("the board after the writer's appends is not consistent with the filled one")
    return f"{EXTEND} appends through the writer after the fill: receipts and consistency verify"


def timed_calls(call: Callable[[int], object], draws: Sequence[int]) -> list[float]:
    for d in draws[:WARMUP]:
        call(d)
    seconds = []
    for d in draws:
        start = time.perf_counter()
        call(d)
        seconds.append(time.perf_counter() - start)
    return seconds


def bench_proofs(store: Store, key: SigningKey, size: int, s: Settings) -> dict[str, Any]:
    election_id = new_board(store, f"bench-{size}")
    say(f"  filling a board of {size:,} entries directly (bypassing the writer)")
    filled, root = fill(store, election_id, size, key)
    say(f"    filled in {filled['seconds']} s")
    store.engine.dispose()  # fresh connections: nothing of the fill's is reused
    log = BoardLog(store, key)
    try:
        checked = check_board(store, log, election_id, size, root, key)
        rng = random.Random(f"bench proofs {size}")
        indices = [rng.randrange(size) for _ in range(s.proof_samples)]
        olds = [rng.randrange(1, size) if size > 1 else 1 for _ in range(s.proof_samples)]
        say(f"  timing {s.proof_samples} inclusion, consistency and receipt calls on random indices")
        result: dict[str, Any] = {
            "fill": filled,
            "inclusion_ms": latency(timed_calls(lambda i: log.inclusion(election_id, i, size), indices)),
            "consistency_ms": latency(timed_calls(lambda m: log.consistency(election_id, m, size), olds)),
            "receipt_ms": latency(timed_calls(lambda i: log.receipt(election_id, i), indices)),
            "proof_hashes_mean": {
                "inclusion": sig(
                    statistics.mean(len(log.inclusion(election_id, i, size)) for i in indices[:50])
                ),
                "consistency": sig(
                    statistics.mean(len(log.consistency(election_id, m, size)) for m in olds[:50])
                ),
            },
        }
        checked.append(check_extension(log, election_id, size, root))
    finally:
        log.stop()
    result["checked"] = checked
    return result


# ---------------------------------------------------------------- the run


def bench_store(kind: str, url: str | None, s: Settings) -> dict[str, Any]:
    started = time.perf_counter()
    key = SigningKey(hashlib.sha256(b"istifta bench board key").digest())  # no secret: a bench
    opened = sqlite_store() if url is None else postgresql_store(url)
    with opened as (store, size):
        say(f"[{s.mode}] {kind}")
        result: dict[str, Any] = {"store": describe(store)}
        result["appends"] = bench_appends(store, key, s)
        result["proofs"] = {}
        for entries in s.entries:
            result["proofs"][str(entries)] = bench_proofs(store, key, entries, s)
        result["store_bytes"] = size()
    result["elapsed_s"] = sig(time.perf_counter() - started)
    return result


def run(s: Settings, stores: dict[str, str | None]) -> dict[str, Any]:
    started, load_before = time.perf_counter(), load_average()
    results = {kind: bench_store(kind, url, s) for kind, url in stores.items()}
    return {
        "benchmark": "istifta bench/board.py",
        "mode": s.mode,
        "machine": {**machine(), "load_average_1min": [load_before, load_average()]},
        "stores": results,
        "elapsed_s": sig(time.perf_counter() - started),
    }


def sizes(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x.replace("_", "")) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected sizes like 1000000 or 1000000,10000000"
        ) from None
    if any(v < 2 for v in values):
        raise argparse.ArgumentTypeError("a board needs at least 2 entries")
    return values


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a run of seconds (the test's): 20,000 entries")
    add_store_arguments(parser)
    parser.add_argument("--entries", type=sizes, help="board sizes for the proofs, e.g. 10000000")
    args = parser.parse_args(argv)
    stores = chosen_stores(parser, args)
    s = QUICK if args.quick else FULL
    if args.entries:
        s = dataclasses.replace(s, entries=args.entries)
    report = run(s, stores)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
