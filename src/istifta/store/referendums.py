"""A referendum's life on a store and its board (PROTOCOL.md §2–§8).

:class:`Referendums` is the one library the CLI, the web layer and the
console call: create, add trustees, import the electorate, open
(:mod:`istifta.store.setting_up`), cast (here), close, tally, add partial
decryptions, publish the result, export the record (:mod:`istifta.store.counting`).
Every step checks first and changes nothing when it refuses; every board
entry goes through the board's writer, whose ``admit`` check runs inside the
append's transaction.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, literal, select
from sqlalchemy.orm import Session

from istifta.crypto.group import Point
from istifta.errors import WrongState
from istifta.protocol.ballot import parse_ballot, verify_ballot
from istifta.protocol.record import ballot_entry
from istifta.store.board import Admitted, Receipt
from istifta.store.counting import Counting
from istifta.store.db import open_store
from istifta.store.models import Election, Voter
from istifta.store.referendum_base import Clock, load_board_key
from istifta.store.setting_up import SettingUp

__all__ = ["Referendums", "load_board_key"]

_ELIGIBLE = select(literal(1)).where(
    Voter.election_id == bindparam("election"), Voter.credential == bindparam("credential")
)


class Referendums(SettingUp, Counting):
    """A referendum from its draft to its record: set up (:class:`SettingUp`),
    cast while open (here), counted after the close (:class:`Counting`)."""

    @classmethod
    def open(cls, data_dir: Path, url: str | None = None, clock: Clock | None = None) -> Referendums:
        """The referendums of ``data_dir`` (SQLite there, or PostgreSQL at ``url``)."""
        store = open_store(data_dir, url)
        return cls(store, load_board_key(data_dir), clock, data_dir)

    # --- while open ---

    def is_eligible(self, election_id: int, credential: Point) -> bool:
        with self.store.engine.connect() as connection:  # one indexed read, without the ORM
            found = connection.execute(
                _ELIGIBLE, {"election": election_id, "credential": credential.to_bytes()}
            )
            return found.first() is not None

    def cast(self, slug: str, raw: Any) -> Receipt:
        """Check a ballot (PROTOCOL.md §5) and append it; an identical ballot
        sent again gets the same receipt and appends nothing."""
        return self.submit_ballot(slug, raw).result()

    def submit_ballot(self, slug: str, raw: Any) -> Future[Receipt]:
        """Check a ballot now (raising on any fault) and queue its append: the
        future resolves to the receipt once the ballot is durable, or raises
        :class:`WrongState` when the referendum closed meanwhile."""
        opened = self._opened(slug)
        params = opened.params
        ballot = parse_ballot(raw)
        verify_ballot(params, ballot, lambda P: self.is_eligible(opened.id, P))
        tracker = ballot.tracker
        m = params.manifest

        def admit(session: Session, election: Election, now: datetime) -> Admitted:
            if election.state != "open":
                raise WrongState(f"{slug} is {election.state}: it takes no more ballots", election.state)
            if now < m.opens_at:
                raise WrongState(f"{slug} opens at {m.opens_at:%Y-%m-%d %H:%M} UTC", "not yet open")
            if now > m.closes_at:
                raise WrongState(f"{slug} closed at {m.closes_at:%Y-%m-%d %H:%M} UTC", "closed")
            return Admitted(ballot_entry(ballot, now), tracker, ballot.credential.to_bytes())

        # A ballot already on the board (sent again after a lost answer, or twice at
        # once) gets its receipt back, even after the close; the writer sees to it.
        return self.board.submit(opened.id, admit, tracker)
