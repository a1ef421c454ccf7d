"""The bulletin board's log (PROTOCOL.md §6) on a store.

The contract: :meth:`BoardLog.append` returns an index only once the entry is
durable (committed with ``synchronous=FULL`` on SQLite, a synchronous commit
on PostgreSQL). One writer thread per process takes whatever is waiting,
writes it in one transaction with the new Merkle nodes and one signed tree
head, commits, and only then releases the waiting receipts: a commit per
batch instead of a commit per entry. Each item carries an ``admit`` check
that runs inside the transaction (the election still open, the tracker not
yet on the board), so no check can be overtaken by a concurrent append.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from nacl.signing import SigningKey
from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.orm import Session

from istifta.board.merkle import Frontier, consistency_proof, frontier_keys, inclusion_proof, leaf_hash
from istifta.errors import NotFound, StoreMismatch
from istifta.protocol.manifest import parse_time
from istifta.protocol.record import entry_bytes, format_time
from istifta.protocol.treehead import TreeHead
from istifta.store.db import Store
from istifta.store.models import BoardEntry, BoardNode, Election, TreeHeadRow
from istifta.store.turnout import count_first_ballots

__all__ = ["Admitted", "BoardLog", "Receipt", "Submission", "index_of_tracker"]

Clock = Callable[[], datetime]
ENTRIES = cast(Table, BoardEntry.__table__)
NODES = cast(Table, BoardNode.__table__)


@dataclass(frozen=True)
class Receipt:
    """Where an entry is: its index, a signed tree head covering it, and the proof."""

    index: int
    tree_head: TreeHead
    inclusion_proof: tuple[str, ...]
    tracker: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker,
            "index": self.index,
            "tree_head": self.tree_head.to_json(),
            "inclusion_proof": list(self.inclusion_proof),
        }


@dataclass(frozen=True)
class Admitted:
    """What ``admit`` lets onto the board."""

    entry: dict[str, Any]
    tracker: str | None = None
    credential: bytes | None = None


Admit = Callable[[Session, Election, datetime], Admitted]
"""Runs in the writer's transaction with the election's row (locked) and the
time of receipt; returns the entry to append, or raises to refuse (nothing is
written for it)."""

TRACKER_CHUNK = 500
"""Trackers looked up per query (SQLite binds at most 32,766 parameters a statement)."""


@dataclass
class Submission:
    election_id: int
    admit: Admit
    tracker: str | None = None
    """The entry's tracker, when it has one: if an entry with it is already on the board,
    or earlier in the same batch, the submission gets that entry's receipt and ``admit``
    is not called (a ballot sent twice, even twice at once, is appended once)."""
    future: Future[Receipt] = field(default_factory=Future)


class BoardLog:
    def __init__(self, store: Store, key: SigningKey, clock: Clock | None = None) -> None:
        self.store = store
        self.key = key
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._queue: queue.Queue[Submission | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[Frontier, datetime]] = {}
        """Per election, after this writer's last commit: the board's right edge of
        complete subtrees and its time (writer thread only)."""
        self._nodes: dict[int, dict[tuple[int, int], bytes]] = {}
        """Per election, the nodes the writer touched in its last batch (writer thread only)."""

    # --- writing ---

    def submit(self, election_id: int, admit: Admit, tracker: str | None = None) -> Future[Receipt]:
        """Queue an append; the future resolves once the entry is durable (or, with a
        ``tracker`` already on the board, to that entry's receipt)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="board-writer", daemon=True)
                self._thread.start()
        item = Submission(election_id, admit, tracker)
        self._queue.put(item)
        return item.future

    def backlog(self) -> int:
        """How many appends are waiting for the writer (the web layer pushes back beyond a limit)."""
        return self._queue.qsize()

    def append(self, election_id: int, admit: Admit, tracker: str | None = None) -> Receipt:
        return self.submit(election_id, admit, tracker).result()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 5000:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[Submission]) -> None:
        try:
            outcomes, heads = self._commit(batch)
        except Exception as exc:  # the whole transaction failed: nothing was written
            self._cache.clear()
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        lookups: dict[int, Callable[[int, int], bytes]] = {}
        with self.store.session() as session:
            for item, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                    continue
                try:
                    index, tracker = outcome
                    head = heads[item.election_id]
                    if item.election_id not in lookups:
                        warm = self._nodes.get(item.election_id)
                        lookups[item.election_id] = _lookup(session, item.election_id, warm)
                    lookup = lookups[item.election_id]
                    proof = inclusion_proof(index, head.size, lookup)
                    receipt = Receipt(index, head, tuple(p.hex() for p in proof), tracker)
                except Exception as exc:
                    item.future.set_exception(exc)
                else:
                    item.future.set_result(receipt)

    def _commit(
        self, batch: list[Submission]
    ) -> tuple[list[tuple[int, str | None] | BaseException], dict[int, TreeHead]]:
        outcomes: list[tuple[int, str | None] | BaseException] = []
        heads: dict[int, TreeHead] = {}
        entries: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        with self.store.write_session() as session, session.begin():
            elections: dict[int, Election] = {}
            known: dict[tuple[int, str], int] = {}
            """(election, tracker) → index, on the board or earlier in this batch."""
            starts: dict[int, int] = {}
            frontiers: dict[int, Frontier] = {}
            times: dict[int, datetime] = {}
            clock = self.clock()
            for item in batch:
                election = elections.get(item.election_id)
                if election is None:
                    election = session.execute(
                        select(Election).where(Election.id == item.election_id).with_for_update()
                    ).scalar_one()
                    elections[item.election_id] = election
                    starts[election.id] = election.board_size
                    cached = self._cache.get(election.id)
                    if cached is not None and cached[0].size == election.board_size:
                        # Nobody else appended since this writer's last batch.
                        frontiers[election.id] = cached[0].copy()
                        last: datetime | None = cached[1]
                    else:
                        frontiers[election.id] = _load_frontier(session, election)
                        last = _last_time(session, election.id)
                    self._nodes[election.id] = dict(frontiers[election.id].nodes)
                    # Never earlier than the board's last tree head: a clock stepped
                    # back (an NTP correction) must not make the board run backwards.
                    times[election.id] = max(clock, last or clock)
                    # Looked up once the row is locked: no other writer appends meanwhile.
                    trackers = {i.tracker for i in batch if i.election_id == election.id and i.tracker}
                    for tracker, index in _indices_of_trackers(session, election.id, trackers).items():
                        known[election.id, tracker] = index
                if item.tracker is not None and (election.id, item.tracker) in known:
                    outcomes.append((known[election.id, item.tracker], item.tracker))
                    continue
                now = times[election.id]
                try:
                    admitted = item.admit(session, election, now)
                except Exception as exc:
                    outcomes.append(exc)
                    continue
                index = election.board_size
                if admitted.tracker is not None:
                    known[election.id, admitted.tracker] = index
                data = entry_bytes(admitted.entry)
                entries.append(
                    {
                        "election_id": election.id,
                        "index": index,
                        "kind": admitted.entry["type"],
                        "data": data,
                        "tracker": admitted.tracker,
                        "credential": admitted.credential,
                    }
                )
                touched = self._nodes[election.id]
                for level, i, h in frontiers[election.id].append(leaf_hash(data)):
                    touched[(level, i)] = h
                    nodes.append({"election_id": election.id, "level": level, "index": i, "hash": h})
                election.board_size = index + 1
                outcomes.append((index, admitted.tracker))
            for election_id, election in elections.items():
                size = election.board_size
                head = TreeHead.sign(
                    size, frontiers[election_id].root(), format_time(times[election_id]), self.key
                )
                heads[election_id] = head
                if size != starts[election_id]:  # a head for an unchanged size is already stored
                    session.add(TreeHeadRow(election_id=election_id, **head.to_json()))
            for election_id in elections:
                ballots = [
                    e["credential"]
                    for e in entries
                    if e["election_id"] == election_id and e["kind"] == "ballot" and e["credential"]
                ]
                if ballots:
                    count_first_ballots(session, election_id, ballots)
            if entries:
                connection = session.connection()
                connection.execute(insert(ENTRIES), entries)  # Core: no ORM bookkeeping
                connection.execute(insert(NODES), nodes)
        for election_id in elections:
            self._cache[election_id] = (frontiers[election_id], times[election_id])
        return outcomes, heads

    # --- reading ---

    def tree_head(self, election_id: int, size: int | None = None) -> TreeHead:
        with self.store.session() as session:
            query = select(TreeHeadRow).where(TreeHeadRow.election_id == election_id)
            if size is not None:
                query = query.where(TreeHeadRow.size == size)
            row = session.execute(query.order_by(TreeHeadRow.size.desc()).limit(1)).scalar()
            if row is None:
                raise NotFound(f"no tree head of size {size} for this board")
            return row.head()

    def receipt(self, election_id: int, index: int, tracker: str | None = None) -> Receipt:
        head = self.tree_head(election_id)
        with self.store.session() as session:
            proof = inclusion_proof(index, head.size, _lookup(session, election_id))
            if tracker is None:
                tracker = _tracker_at(session, election_id, index)
        return Receipt(index, head, tuple(p.hex() for p in proof), tracker)

    def inclusion(self, election_id: int, index: int, size: int) -> list[str]:
        with self.store.session() as session:
            return [p.hex() for p in inclusion_proof(index, size, _lookup(session, election_id))]

    def consistency(self, election_id: int, old: int, new: int) -> list[str]:
        with self.store.session() as session:
            return [p.hex() for p in consistency_proof(old, new, _lookup(session, election_id))]


def _last_time(session: Session, election_id: int) -> datetime | None:
    stamp = session.execute(
        select(TreeHeadRow.timestamp)
        .where(TreeHeadRow.election_id == election_id)
        .order_by(TreeHeadRow.size.desc())
        .limit(1)
    ).scalar()
    return None if stamp is None else parse_time(stamp, "tree head timestamp")


def index_of_tracker(session: Session, election_id: int, tracker: str) -> int | None:
    """The board index of the entry with this tracker, if it is on the board."""
    return session.execute(
        select(BoardEntry.index).where(BoardEntry.election_id == election_id, BoardEntry.tracker == tracker)
    ).scalar()


def _indices_of_trackers(session: Session, election_id: int, trackers: set[str]) -> dict[str, int]:
    """Tracker → index, for those of ``trackers`` already on the election's board."""
    found: dict[str, int] = {}
    wanted = sorted(trackers)
    for start in range(0, len(wanted), TRACKER_CHUNK):
        rows = session.execute(
            select(BoardEntry.tracker, BoardEntry.index).where(
                BoardEntry.election_id == election_id,
                BoardEntry.tracker.in_(wanted[start : start + TRACKER_CHUNK]),
            )
        )
        found.update((tracker, index) for tracker, index in rows if tracker is not None)
    return found


def _tracker_at(session: Session, election_id: int, index: int) -> str | None:
    return session.execute(
        select(BoardEntry.tracker).where(BoardEntry.election_id == election_id, BoardEntry.index == index)
    ).scalar()


def _load_frontier(session: Session, election: Election) -> Frontier:
    keys = frontier_keys(election.board_size)
    if not keys:
        return Frontier()
    rows = session.execute(
        select(BoardNode.level, BoardNode.index, BoardNode.hash).where(
            BoardNode.election_id == election.id,
            tuple_(BoardNode.level, BoardNode.index).in_(keys),
        )
    )
    return Frontier(election.board_size, {(level, index): h for level, index, h in rows})


def _lookup(
    session: Session, election_id: int, known: dict[tuple[int, int], bytes] | None = None
) -> Callable[[int, int], bytes]:
    """Node hashes from the store, through a cache (warmed with ``known``)."""
    cache: dict[tuple[int, int], bytes] = dict(known or {})

    def node(level: int, index: int) -> bytes:
        key = (level, index)
        if key not in cache:
            h = session.execute(
                select(BoardNode.hash).where(
                    BoardNode.election_id == election_id,
                    BoardNode.level == level,
                    BoardNode.index == index,
                )
            ).scalar()
            if h is None:
                raise StoreMismatch(f"board node {key} is missing")
            cache[key] = h
        return cache[key]

    return node
