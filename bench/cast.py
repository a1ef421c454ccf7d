"""Ballots per second accepted end to end over HTTP by ``istifta serve``, as one JSON object.

    .venv/bin/python bench/cast.py [--quick] [--ballots N] [--clients C] [--workers 1,2]
                                   [--repeats R] [--keep-alive] [--store sqlite|postgresql]… [--database URL]

For each store and each number of server workers, every repeat opens a fresh
yes/no referendum of N voters, starts ``istifta serve`` in a process of its
own on 127.0.0.1 (the per-address rate limit lifted through its settings), and
has C concurrent clients (asyncio sockets and httptools, in this process) post
one ballot per voter, each on a new connection (every voter is another phone),
or with --keep-alive on one connection a client (as from a proxy). The ballots
are built before any timing, in parallel processes, and cached under
``bench/.cache/`` (keyed by N and the election hash). Only 2xx answers
carrying a receipt count. Afterwards every receipt is
checked against the board in the store: its tree head's signature, the head's
root recomputed from the entries, its inclusion proof, and the ballot at its
index; the board must hold exactly the accepted ballots and the election entry.

To say where the server's time goes, the same ballots also go through
``Referendums.cast`` in this process, without HTTP (C threads), with the CPU
time of the checks and of the board's writer thread apart.

Prints the figures to stdout (progress to stderr); bench/README.md says what
each one means. bench/crash.py reuses the pieces.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import multiprocessing
import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httptools
import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from board import latency
from common import (
    add_store_arguments,
    chosen_stores,
    figure,
    load_average,
    machine,
    say,
    sig,
    usable_cpus,
)
from istifta.board.merkle import leaf_hash, node_hash, verify_inclusion
from istifta.crypto.hashing import jcs_plain, sha256
from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot, parse_ballot, verify_ballot
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.protocol.treehead import verify_tree_head
from istifta.store.db import Store
from istifta.store.models import BoardEntry, Election, TreeHeadRow
from istifta.store.referendums import Referendums, load_board_key
from istifta.testing import Opened, live_manifest, open_referendum

JsonHead = dict[str, Any]
"""A signed tree head as the API and receipts give it."""

ROOT = Path(__file__).resolve().parent
SLUG = "bench-cast"
MANIFEST = live_manifest(slug=SLUG, now=datetime(2024, 1, 1, 1, tzinfo=UTC), hours=24 * 365 * 70)
"""Open from 2024 to 2094: fixed, so that the election hash, and the cached ballots, stay valid."""
REGIONS = ("Baghdad", "Basra", "Erbil", "Nineveh")
SERVER_ENV = {"ISTIFTA_CAST_RATE": "1e12", "ISTIFTA_CAST_BURST": "1000000000"}
"""Every client of the bench comes from 127.0.0.1: the per-address limit is lifted."""
BUILD_CHUNK = 250
SERIAL_BUILD = 1000
"""Up to this many ballots are built here: starting worker processes would take longer."""
JSON_HEADERS = {"content-type": "application/json"}
TLS = ssl.create_default_context()
"""Unused (plain HTTP), but httpx loads the CA certificates for each client not given one."""


@dataclass(frozen=True)
class Settings:
    mode: str
    ballots: int
    clients: int
    workers: tuple[int, ...]
    repeats: int
    warmup: int
    """Ballots posted before the clock starts (on the board, not in the rate)."""
    in_process: int
    """Ballots cast without HTTP, to split the server's CPU time."""
    keep_alive: bool = False
    """Each client keeps its connection (as a proxy does to the server), or opens one a ballot."""


QUICK = Settings("quick", 200, 16, (1, 2), 1, 20, 100)
FULL = Settings("full", 6000, 32, (1, 2), 3, 200, 3000)


# ---------------------------------------------------------------- the referendum and its ballots


def open_board(data_dir: Path, url: str | None, voters: int) -> Opened:
    """The bench's referendum, open, on a fresh store (closed again for the server). It is
    the same referendum every time (seeded), so the cached ballots fit it."""
    refs = Referendums.open(data_dir, url)
    try:
        return open_referendum(refs, MANIFEST, voters, REGIONS, SeededRandom(f"bench cast {voters}"))
    finally:
        refs.close_store()


_params: ElectionParameters | None = None


def _start_builder(parameters: bytes) -> None:
    global _params
    _params = parse_parameters(json.loads(parameters))


def _build(job: tuple[int, list[str]]) -> list[bytes]:
    first, codes = job
    assert _params is not None
    rng = SeededRandom(f"bench cast ballots from {first}")
    return [build_ballot(_params, c, [[(first + k) % 2]], rng).canonical_bytes for k, c in enumerate(codes)]


@dataclass(frozen=True)
class Ballots:
    params: ElectionParameters
    bodies: list[bytes]
    """One per voter, yes and no in turn: canonical JSON, so its sha256 is its tracker."""
    cached: bool
    build_s: float


def prepare(voters: int, cache: Path) -> Ballots:
    """The ballots, from ``cache`` or built in parallel processes (and cached)."""
    with tempfile.TemporaryDirectory(prefix="istifta-bench-cast-") as tmp:
        say(f"opening a referendum of {voters:,} voters for its parameters and codes")
        opened = open_board(Path(tmp), None, voters)
    path = cache / f"cast-{voters}-{opened.params.election_hash[:16]}.jsonl"
    if path.exists():
        return Ballots(opened.params, path.read_bytes().splitlines(), True, 0.0)
    processes = (usable_cpus() or 1) if voters > SERIAL_BUILD else 1
    say(f"building {voters:,} ballots in {processes} process(es) (kept in {path})")
    started = time.perf_counter()
    jobs = [(k, list(opened.codes[k : k + BUILD_CHUNK])) for k in range(0, voters, BUILD_CHUNK)]
    parameters = json.dumps(opened.params.to_json()).encode()
    if processes == 1:
        _start_builder(parameters)
        bodies = [b for job in jobs for b in _build(job)]
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes, initializer=_start_builder, initargs=(parameters,)) as pool:
            bodies = [b for chunk in pool.imap(_build, jobs) for b in chunk]
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(b"\n".join(bodies) + b"\n")
    partial.replace(path)
    return Ballots(opened.params, bodies, False, time.perf_counter() - started)


# ---------------------------------------------------------------- stores


@contextmanager
def fresh_store(
    url: str | None, voters: int, params: ElectionParameters
) -> Iterator[tuple[Path, str | None]]:
    """A temporary data directory (the board key, and the SQLite store unless ``url``) and,
    with ``url``, a temporary schema of that PostgreSQL database, holding the referendum,
    open: all removed at the end."""
    with tempfile.TemporaryDirectory(prefix="istifta-bench-cast-") as tmp:
        data_dir = Path(tmp)
        if url is None:
            _open_same(data_dir, None, voters, params)
            yield data_dir, None
            return
        schema = f"istifta_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(url)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        options = {"options": f"-csearch_path={schema}"}
        scoped = make_url(url).update_query_dict(options).render_as_string(hide_password=False)
        try:
            _open_same(data_dir, scoped, voters, params)
            yield data_dir, scoped
        finally:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _open_same(data_dir: Path, url: str | None, voters: int, params: ElectionParameters) -> None:
    if open_board(data_dir, url, voters).params.election_hash != params.election_hash:
        raise RuntimeError("the referendum opened is not the one the ballots were built for")


def store_url(data_dir: Path, url: str | None) -> str:
    return url or f"sqlite:///{data_dir / 'istifta.db'}"


def durability(data_dir: Path, url: str | None) -> dict[str, Any]:
    """What the store promises when a receipt is returned, read through the same
    ``Store`` the server opens (so with the same pragmas)."""
    store = Store(store_url(data_dir, url))
    try:
        with store.engine.connect() as c:
            if store.is_sqlite:
                levels = {0: "off", 1: "normal", 2: "full", 3: "extra"}
                return {
                    "kind": "sqlite",
                    "version": c.exec_driver_sql("SELECT sqlite_version()").scalar(),
                    "journal_mode": c.exec_driver_sql("PRAGMA journal_mode").scalar(),
                    "synchronous": levels.get(c.exec_driver_sql("PRAGMA synchronous").scalar_one()),
                }
            shown = ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
            return {"kind": "postgresql"} | {s: c.exec_driver_sql(f"SHOW {s}").scalar() for s in shown}
    finally:
        store.close()


# ---------------------------------------------------------------- the server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(stat: str) -> float:
    """utime + stime from a /proc/…/stat line (fields 14 and 15)."""
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Server:
    """``istifta serve`` in a session of its own: its workers are that session's processes."""

    data_dir: Path
    url: str | None
    workers: int
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    ready_s: float = 0.0
    """Seconds from starting the process to every worker answering."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "server.log"

    def command(self) -> list[str]:
        command = [str(Path(sys.executable).with_name("istifta")), "serve", "--data-dir", str(self.data_dir)]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        return command + (["--database", self.url] if self.url else [])

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ISTIFTA_")}
        env |= SERVER_ENV | {"PYTHONUNBUFFERED": "1"}
        started = time.perf_counter()
        before = self._startups()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        with httpx.Client(base_url=self.base, trust_env=False, timeout=5, verify=TLS) as client:
            while time.perf_counter() - started < 300:
                if self.process.poll() is not None:
                    raise RuntimeError(f"istifta serve exited ({self.process.returncode}): see {self.log}")
                if self._startups() - before >= self.workers and self._answers(client):
                    self.ready_s = time.perf_counter() - started
                    return
                time.sleep(0.02)
        raise RuntimeError(f"istifta serve did not answer: see {self.log}")

    def _startups(self) -> int:
        if not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count("Application startup complete")

    def _answers(self, client: httpx.Client) -> bool:
        try:
            return client.get(f"/api/referendums/{SLUG}/tree-head").status_code == 200
        except httpx.TransportError:
            return False

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)  # the session this bench started, and only it
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL to every process of the server at once: a crash, nothing flushed."""
        self._signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds of each live process of the server's session, from /proc."""
        assert self.process is not None
        found: dict[int, float] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[3]) == self.process.pid:  # field 6: the session
                found[int(pid)] = proc_cpu_seconds(stat)
        return found


def own_cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


# ---------------------------------------------------------------- the clients


@dataclass
class Load:
    receipts: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Ballot number → the receipt its 2xx answer carried."""
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    """Answers that were not a receipt, by status (or by exception when none came)."""
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """This process's CPU time over those seconds: the load generator's."""


def http_client(base: str, keep_alive: bool = True) -> httpx.AsyncClient:
    """A client with one connection, as a phone has (one client with a pool of C connections
    costs CPU in httpcore's pool that grows with C on every request), kept alive or not."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1 if keep_alive else 0)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=120, trust_env=False, verify=TLS)


class Answer:
    """httptools' callbacks for one HTTP/1.1 answer: its status and body."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


class Phone:
    """A client as light as a load generator must be, so that the server gets the CPUs: the
    request written as bytes on a socket, the answer parsed by httptools (httpx costs ~3 ms
    of CPU a request). On a new connection a request, or on one kept alive."""

    def __init__(self, base: str, keep_alive: bool) -> None:
        url = httpx.URL(base)
        self.host, self.port, self.keep_alive = url.host, url.port or 80, keep_alive
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        connection = "keep-alive" if self.keep_alive else "close"
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: {connection}\r\n\r\n"
        )
        try:
            writer.write(head.encode() + body)
            answer = Answer()
            parser = httptools.HttpResponseParser(answer)
            while not answer.complete:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("the server closed the connection before answering")
                parser.feed_data(data)
            status = parser.get_status_code()
        except BaseException:
            await self.close()
            raise
        if not (self.keep_alive and parser.should_keep_alive()):
            await self.close()
        return status, bytes(answer.body)

    async def close(self) -> None:
        if self.streams is not None:
            writer, self.streams = self.streams[1], None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def cast_all(
    base: str, ballots: Iterable[tuple[int, bytes]], clients: int, keep_alive: bool = False
) -> Load:
    """``clients`` concurrent phones, each posting the next ballot once its answer came: on a
    new connection each time (each voter is another phone), or on one kept alive (as a
    proxy in front of the server keeps its connections to it)."""
    load, pending = Load(), iter(ballots)
    path = f"/api/referendums/{SLUG}/ballots"

    async def one_client(phone: Phone) -> None:
        for number, body in pending:
            start = time.perf_counter()
            try:
                status, answer = await phone.post(path, body)
            except (OSError, httptools.HttpParserError) as exc:
                load.errors[type(exc).__name__] += 1
                continue
            load.latencies.append(time.perf_counter() - start)
            receipt = json.loads(answer) if 200 <= status < 300 else None
            if isinstance(receipt, dict) and "index" in receipt:
                load.receipts[number] = receipt
            else:
                load.errors[str(status)] += 1
        await phone.close()

    started, cpu = time.perf_counter(), own_cpu_seconds()
    await asyncio.gather(*(one_client(Phone(base, keep_alive)) for _ in range(clients)))
    load.seconds, load.cpu_seconds = time.perf_counter() - started, own_cpu_seconds() - cpu
    return load


# ---------------------------------------------------------------- checking against the board


def roots_at(leaves: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """RFC 9162 roots of the first ``size`` leaves, for each of ``sizes``, in one pass."""
    wanted, roots = set(sizes), {}
    edge: list[tuple[int, bytes]] = []  # the complete subtrees on the right edge: (height, hash)
    for n, h in enumerate(leaves, 1):
        height = 0
        while edge and edge[-1][0] == height:
            h, height = node_hash(edge.pop()[1], h), height + 1
        edge.append((height, h))
        if n in wanted:
            root = h
            for _, left in reversed(edge[:-1]):
                root = node_hash(left, root)
            roots[n] = root
    return roots


def head_key(head: JsonHead) -> tuple[int, str, str, str]:
    return head["size"], head["root"], head["timestamp"], head["signature"]


@dataclass(frozen=True)
class Board:
    """A board as its store holds it, read after the server stopped."""

    entries: list[tuple[bytes, str | None]]
    """Every entry's bytes and tracker, in order."""
    heads_stored: int
    board_key: bytes

    @classmethod
    def read(cls, data_dir: Path, url: str | None) -> Board:
        store = Store(store_url(data_dir, url))
        try:
            with store.session() as session:
                election = session.execute(select(Election.id).where(Election.slug == SLUG)).scalar_one()
                rows = session.execute(
                    select(BoardEntry.data, BoardEntry.tracker)
                    .where(BoardEntry.election_id == election)
                    .order_by(BoardEntry.index)
                ).all()
                heads = session.scalar(select(func.count()).where(TreeHeadRow.election_id == election))
        finally:
            store.close()
        key = bytes(load_board_key(data_dir).verify_key)
        return cls([(data, tracker) for data, tracker in rows], heads or 0, key)

    def check(
        self, receipts: Sequence[tuple[bytes, dict[str, Any]]], heads: Iterable[JsonHead] = ()
    ) -> dict[str, Any]:
        """Each (ballot posted, receipt) and each tree head seen, against this board. ``lost``:
        the ballot posted is not at its receipt's index; a head is inconsistent when its
        signature fails or its root is not the root of the board's first ``size`` entries."""
        seen = {head_key(h): h for h in [*heads, *(r["tree_head"] for _, r in receipts)]}
        leaves = [leaf_hash(data) for data, _ in self.entries]
        roots = roots_at(leaves, {h["size"] for h in seen.values()})
        inconsistent = sum(
            1
            for h in seen.values()
            if not verify_tree_head(h, self.board_key) or roots.get(h["size"], b"").hex() != h["root"]
        )
        lost = bad_proofs = 0
        for body, receipt in receipts:
            index, head = receipt["index"], receipt["tree_head"]
            tracker = sha256(body).hex()
            found = self.entries[index] if 0 <= index < len(self.entries) else (b"{}", None)
            if not found[1] == tracker == receipt["tracker"] or _ballot_of(found[0]) != body:
                lost += 1
                continue
            proof = [bytes.fromhex(p) for p in receipt["inclusion_proof"]]
            if not verify_inclusion(leaves[index], index, head["size"], proof, bytes.fromhex(head["root"])):
                bad_proofs += 1
        trackers = [t for _, t in self.entries if t is not None]
        return {
            "receipts_checked": len(receipts),
            "lost": lost,
            "bad_inclusion_proofs": bad_proofs,
            "tree_heads_checked": len(seen),
            "tree_heads_inconsistent": inconsistent,
            "board_size": len(self.entries),
            "ballots_on_board": len(trackers),
            "duplicate_trackers": len(trackers) - len(set(trackers)),
            "tree_heads_stored": self.heads_stored,
        }


def _ballot_of(entry: bytes) -> bytes:
    ballot = json.loads(entry).get("ballot")
    return jcs_plain(ballot) if ballot is not None else b""


FAILURES = ("lost", "bad_inclusion_proofs", "tree_heads_inconsistent", "duplicate_trackers")


def failures(checked: dict[str, Any]) -> int:
    return sum(checked[k] for k in FAILURES)


# ---------------------------------------------------------------- timed runs over HTTP


def http_run(url: str | None, workers: int, s: Settings, ballots: Ballots) -> dict[str, Any]:
    """A fresh referendum and server; the warm-up, then the timed casting; the check."""
    with fresh_store(url, s.ballots, ballots.params) as (data_dir, scoped):
        server = Server(data_dir, scoped, workers)
        server.start()
        try:
            numbered = list(enumerate(ballots.bodies))
            warm = asyncio.run(cast_all(server.base, numbered[: s.warmup], s.clients, s.keep_alive))
            before = server.cpu_seconds()
            timed = asyncio.run(cast_all(server.base, numbered[s.warmup :], s.clients, s.keep_alive))
            after = server.cpu_seconds()
        finally:
            server.stop()
        board = Board.read(data_dir, scoped)
    receipts = [(ballots.bodies[n], r) for load in (warm, timed) for n, r in load.receipts.items()]
    checked = board.check(receipts)
    checked["board_is_accepted_plus_election_entry"] = len(board.entries) == 1 + len(receipts)
    if failures(checked) or not checked["board_is_accepted_plus_election_entry"]:
        raise RuntimeError(f"the board does not hold what the receipts say: {checked}")
    cpu = [after[p] - before.get(p, 0.0) for p in sorted(after)]
    accepted = len(timed.receipts)
    return {
        "rate": accepted / timed.seconds,
        "latencies": timed.latencies,
        "accepted": accepted,
        "errors": warm.errors + timed.errors,
        "server_cpu_ms": 1e3 * sum(cpu) / accepted,
        "server_cpus": sum(cpu) / timed.seconds,
        "server_cpu_by_process_s": [sig(c) for c in cpu],
        "client_cpu_ms": 1e3 * timed.cpu_seconds / accepted,
        "client_cpus": timed.cpu_seconds / timed.seconds,
        "batch": (checked["ballots_on_board"]) / (checked["tree_heads_stored"] - 1),
        "ready_s": server.ready_s,
        "checked": checked,
    }


def by_workers(url: str | None, workers: int, s: Settings, ballots: Ballots) -> dict[str, Any]:
    runs = []
    for k in range(s.repeats):
        say(f"  {workers} worker(s), repeat {k + 1}/{s.repeats}: {s.ballots:,} ballots, {s.clients} clients")
        runs.append(http_run(url, workers, s, ballots))
        say(f"    {runs[-1]['rate']:.0f} ballots/s")
    errors: Counter[str] = sum((r["errors"] for r in runs), Counter())

    def fig(key: str, unit: str) -> dict[str, Any]:
        return figure([r[key] for r in runs], unit)

    return {
        "ballots_per_s": fig("rate", "ballots/s"),
        "latency_ms": latency([x for r in runs for x in r["latencies"]]),
        "accepted": sum(r["accepted"] for r in runs),
        "errors_by_status": dict(sorted(errors.items())),
        "server_cpu_ms_per_ballot": fig("server_cpu_ms", "ms"),
        "load_generator_cpu_ms_per_ballot": fig("client_cpu_ms", "ms"),
        "cpus_busy": {"server": fig("server_cpus", "CPUs"), "load_generator": fig("client_cpus", "CPUs")},
        "server_cpu_by_process_s": [r["server_cpu_by_process_s"] for r in runs],
        "mean_batch": fig("batch", "ballots/commit"),
        "server_ready_s": fig("ready_s", "s"),
        "checked": {**runs[-1]["checked"], "runs_checked": len(runs)},
    }


# ---------------------------------------------------------------- the same ballots without HTTP


def thread_cpu_seconds(thread: threading.Thread) -> float:
    return proc_cpu_seconds(Path(f"/proc/self/task/{thread.native_id}/stat").read_text())


def in_process(url: str | None, s: Settings, ballots: Ballots) -> dict[str, Any]:
    """``Referendums.cast`` from ``clients`` threads, as the server's thread pool calls it:
    ballots/s without HTTP, and CPU per ballot of the checks and of the board's writer."""
    count = min(s.in_process, s.ballots)
    with fresh_store(url, s.ballots, ballots.params) as (data_dir, scoped):
        store = durability(data_dir, scoped)
        refs = Referendums.open(data_dir, scoped)
        try:
            refs.cast(SLUG, json.loads(ballots.bodies[0]))  # starts the writer thread
            writer = next(t for t in threading.enumerate() if t.name == "board-writer")
            cpu, writer_cpu, started = own_cpu_seconds(), thread_cpu_seconds(writer), time.perf_counter()
            with ThreadPoolExecutor(s.clients) as pool:
                list(pool.map(lambda body: refs.cast(SLUG, json.loads(body)), ballots.bodies[1:count]))
            seconds = time.perf_counter() - started
            writer_cpu = thread_cpu_seconds(writer) - writer_cpu
            cpu = own_cpu_seconds() - cpu
        finally:
            refs.close_store()
    sample = ballots.bodies[: min(200, count)]
    eligible = {parse_ballot(json.loads(b)).credential for b in sample}
    started = time.perf_counter()
    for b in sample:
        verify_ballot(ballots.params, parse_ballot(json.loads(b)), eligible.__contains__)
    verify_s = (time.perf_counter() - started) / len(sample)
    return {
        "store": store,
        "ballots": count - 1,
        "threads": s.clients,
        "ballots_per_s": sig((count - 1) / seconds),
        "cpu_ms_per_ballot": {
            "total": sig(1e3 * cpu / (count - 1)),
            "checks": sig(1e3 * (cpu - writer_cpu) / (count - 1)),
            "board_writer": sig(1e3 * writer_cpu / (count - 1)),
            "verify_ballot_alone": sig(1e3 * verify_s),
        },
    }


# ---------------------------------------------------------------- the run


def bench_store(kind: str, url: str | None, s: Settings, ballots: Ballots) -> dict[str, Any]:
    say(f"[{s.mode}] {kind}")
    started = time.perf_counter()
    by = {str(w): by_workers(url, w, s, ballots) for w in s.workers}
    say(f"  {min(s.in_process, s.ballots) - 1:,} ballots through Referendums.cast, without HTTP")
    inside = in_process(url, s, ballots)
    result: dict[str, Any] = {"store": inside.pop("store"), "by_workers": by, "in_process": inside}
    one = by.get("1")
    if one is not None:
        rate = one["ballots_per_s"]["median"]
        result["over_one_worker"] = {
            w: sig(f["ballots_per_s"]["median"] / rate) for w, f in by.items() if w != "1"
        }
        server, cpu = one["server_cpu_ms_per_ballot"]["median"], inside["cpu_ms_per_ballot"]
        result["one_worker_cpu_ms_per_ballot"] = {
            "server": server,
            "checks": cpu["checks"],
            "board_writer": cpu["board_writer"],
            "http_and_the_rest": sig(server - cpu["total"]),
            "load_generator": one["load_generator_cpu_ms_per_ballot"]["median"],
            "budget_at_1000_per_s_on_2_cpus": 2.0,
        }
    result["elapsed_s"] = sig(time.perf_counter() - started)
    return result


def run(s: Settings, stores: dict[str, str | None], cache: Path) -> dict[str, Any]:
    started, load_before = time.perf_counter(), load_average()
    # What uvicorn's "auto" picks: these when installed, else h11 and asyncio.
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    connections = "one connection kept alive a client" if s.keep_alive else "a new connection a ballot"
    ballots = prepare(s.ballots, cache)
    results = {kind: bench_store(kind, url, s, ballots) for kind, url in stores.items()}
    return {
        "benchmark": "istifta bench/cast.py",
        "mode": s.mode,
        "machine": {**machine(), "load_average_1min": [load_before, load_average()]},
        "setup": {
            "ballots": s.ballots,
            "warmup_ballots": s.warmup,
            "timed_ballots": s.ballots - s.warmup,
            "clients": s.clients,
            "repeats": s.repeats,
            "ballot_bytes": len(ballots.bodies[0]),
            "ballots_cached": ballots.cached,
            "build_s": sig(ballots.build_s),
            "server": f"istifta serve: uvicorn with {parser} and the {loop} loop, no access log",
            "load_generator": f"this process: asyncio sockets and httptools, {connections}, the same CPUs",
            "server_environment": SERVER_ENV,
        },
        "stores": results,
        "elapsed_s": sig(time.perf_counter() - started),
    }


def counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 1,2") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return values


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache", help="where built ballots are kept")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 ballots, one repeat (the test's)")
    parser.add_argument("--ballots", type=int, help=f"voters, one ballot each (default {FULL.ballots:,})")
    parser.add_argument("--clients", type=int, help=f"concurrent clients (default {FULL.clients})")
    parser.add_argument("--workers", type=counts, help="server worker counts to run (default 1,2)")
    parser.add_argument("--repeats", type=int, help=f"runs of each (default {FULL.repeats})")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="each client keeps its connection, as a proxy in front of the server does (default: "
        "a new connection a ballot, as phones talking to the server itself)",
    )
    add_store_arguments(parser)
    add_cache_argument(parser)
    args = parser.parse_args(argv)
    s = QUICK if args.quick else FULL
    s = replace(
        s,
        ballots=args.ballots or s.ballots,
        clients=args.clients or s.clients,
        workers=args.workers or s.workers,
        repeats=args.repeats or s.repeats,
        keep_alive=args.keep_alive,
    )
    s = replace(s, warmup=min(s.warmup, s.ballots // 10))
    if s.ballots < 20 or s.clients < 1 or s.repeats < 1:
        parser.error("at least 20 ballots, 1 client and 1 repeat")
    report = run(s, chosen_stores(parser, args), args.cache)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
