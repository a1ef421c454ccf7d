"""The board's log on each store: durable batched appends, receipts that
prove themselves, refusals that write nothing, and time that never runs back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from istifta.board.merkle import leaf_hash, verify_consistency, verify_inclusion
from istifta.store.board import Admitted, BoardLog
from istifta.store.db import Store, open_store
from istifta.store.models import BoardEntry, Election


@pytest.fixture
def store(tmp_path: Path, store_url: str | None) -> Iterator[Store]:
    s = open_store(tmp_path / "data", store_url)
    yield s
    s.close()


def _election(store: Store) -> int:
    with store.session() as session, session.begin():
        row = Election(
            slug="board-test",
            manifest="{}",
            manifest_hash="0" * 64,
            state="open",
            board_size=0,
            created_at=datetime.now(UTC),
        )
        session.add(row)
    return row.id


def _note(n: int, refuse: bool = False) -> Any:
    def admit(session: Session, election: Election, now: datetime) -> Admitted:
        if refuse:
            raise ValueError(f"note {n} refused")
        return Admitted({"type": "note", "n": n, "at": now.isoformat()}, tracker=f"{n:064x}")

    return admit


def test_concurrent_appends_get_receipts_that_prove_themselves(store: Store) -> None:
    key = SigningKey.generate()
    board = BoardLog(store, key)
    eid = _election(store)
    with ThreadPoolExecutor(16) as pool:
        receipts = list(pool.map(lambda n: board.append(eid, _note(n)), range(300)))
    board.stop()
    assert sorted(r.index for r in receipts) == list(range(300))
    with store.session() as session:
        rows = {
            i: data
            for i, data in session.execute(
                select(BoardEntry.index, BoardEntry.data).where(BoardEntry.election_id == eid)
            )
        }
    for r in receipts:
        head = r.tree_head
        assert head.verifies(bytes(key.verify_key))
        proof = [bytes.fromhex(p) for p in r.inclusion_proof]
        assert verify_inclusion(leaf_hash(rows[r.index]), r.index, head.size, proof, head.root)
        assert json.loads(rows[r.index])["n"] == int(r.tracker or "", 16)
    # every published head extends the previous ones
    latest = board.tree_head(eid)
    for r in receipts[::37]:
        old = r.tree_head
        proof = [bytes.fromhex(p) for p in board.consistency(eid, old.size, latest.size)]
        assert verify_consistency(old.size, latest.size, old.root, latest.root, proof)


def test_a_refused_entry_writes_nothing_and_does_not_hold_back_the_others(store: Store) -> None:
    board = BoardLog(store, SigningKey.generate())
    eid = _election(store)
    futures = [board.submit(eid, _note(n, refuse=n % 3 == 0)) for n in range(30)]
    outcomes = []
    for f in futures:
        try:
            outcomes.append(f.result().index)
        except ValueError as exc:
            outcomes.append(str(exc))
    board.stop()
    assert [o for o in outcomes if isinstance(o, str)] == [f"note {n} refused" for n in range(0, 30, 3)]
    assert sorted(o for o in outcomes if isinstance(o, int)) == list(range(20))
    assert board.tree_head(eid).size == 20


def test_an_entry_sent_twice_at_once_is_appended_once_and_the_others_go_through(store: Store) -> None:
    """A phone that sends its ballot twice (a double tap, a retry over a bad link) must get
    one place on the board, and must not fail the other voters' ballots in the same batch."""
    board = BoardLog(store, SigningKey.generate())
    eid = _election(store)
    board.append(eid, _note(0), tracker=f"{0:064x}")
    release = threading.Event()

    def held(session: Session, election: Election, now: datetime) -> Admitted:
        release.wait(10)  # the writer waits here while the next batch queues up
        return _note(1)(session, election, now)

    first = board.submit(eid, held, tracker=f"{1:064x}")
    numbers = [2, 3, 2, 4, 3, 0, 2]  # 0 is on the board already; 2 and 3 come twice or more
    later = [board.submit(eid, _note(n), tracker=f"{n:064x}") for n in numbers]
    release.set()
    receipts = [f.result(10) for f in [first, *later]]
    board.stop()
    by_number = dict(zip([1, *numbers], receipts, strict=True))
    assert [r.index for r in receipts] == [1, 2, 3, 2, 4, 3, 0, 2]
    for n, r in by_number.items():
        assert r.tracker == f"{n:064x}"
    with store.session() as session:
        data = session.execute(
            select(BoardEntry.data).where(BoardEntry.election_id == eid).order_by(BoardEntry.index)
        ).scalars()
        assert [json.loads(d)["n"] for d in data] == [0, 1, 2, 3, 4]
    assert board.tree_head(eid).size == 5


def test_the_board_never_runs_back_when_the_clock_does(store: Store) -> None:
    times = iter([datetime(2024, 1, 20, 7, tzinfo=UTC) - timedelta(minutes=m) for m in (0, 5, 1, 10)])
    board = BoardLog(store, SigningKey.generate(), clock=lambda: next(times))
    eid = _election(store)
    stamps = [board.append(eid, _note(n)).tree_head.timestamp for n in range(4)]
    board.stop()
    assert stamps == sorted(stamps)
    assert stamps[0] == stamps[-1]  # the clock went back each time: the board held its time


def test_two_writers_on_one_store_keep_one_consistent_board(store: Store) -> None:
    """Two processes' writers (here two logs) append in turn: each must notice the
    other's entries rather than trust what it remembers of the board."""
    key = SigningKey.generate()
    first, second = BoardLog(store, key), BoardLog(store, key)
    eid = _election(store)
    receipts = [(first if n % 3 else second).append(eid, _note(n)) for n in range(40)]
    first.stop()
    second.stop()
    assert [r.index for r in receipts] == list(range(40))
    with store.session() as session:
        rows = dict(
            session.execute(
                select(BoardEntry.index, BoardEntry.data).where(BoardEntry.election_id == eid)
            ).all()
        )
    latest = first.tree_head(eid)
    assert latest.size == 40
    for r in receipts:
        proof = [bytes.fromhex(p) for p in r.inclusion_proof]
        root = r.tree_head.root
        assert verify_inclusion(leaf_hash(rows[r.index]), r.index, r.tree_head.size, proof, root)
        consistency = [bytes.fromhex(p) for p in first.consistency(eid, r.tree_head.size, 40)]
        assert verify_consistency(r.tree_head.size, 40, root, latest.root, consistency)
