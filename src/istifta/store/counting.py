"""Counting, once voting closes (PROTOCOL.md §7–§8): the ``close`` entry, the
encrypted tally of the last ballot of each credential, the trustees' partial
decryptions, the published result, and the election record read from the
store's cursors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from istifta.crypto.group import Point
from istifta.errors import DecodeError, WrongState
from istifta.protocol.ballot import parse_ballot
from istifta.protocol.electorate import Eligible
from istifta.protocol.record import (
    Record,
    close_entry,
    partial_decryption_entry,
    result_entry,
    tally_entry,
    turnout,
)
from istifta.protocol.tally import (
    PartialDecryption,
    Tally,
    combine,
    parse_partial_decryption,
    parse_tally,
    tally,
    verify_partial_decryption,
)
from istifta.protocol.treehead import TreeHead
from istifta.record.io import RecordStream
from istifta.store.board import Admitted, Receipt
from istifta.store.models import BoardEntry, Election, Registration, Voter
from istifta.store.referendum_base import IMPORT_BATCH, ReferendumBase

__all__ = ["Counting"]


class Counting(ReferendumBase):
    # --- after closing ---

    def close(self, slug: str) -> Receipt:
        opened = self._opened(slug)

        def admit(session: Session, election: Election, now: datetime) -> Admitted:
            if election.state != "open":
                raise WrongState(f"{slug} is {election.state}, not open", election.state)
            election.state = "closed"
            # The credential codes were kept, sealed, only to send and resend the voting
            # links; no ballot is taken from here on, so they are erased with the close.
            session.execute(
                update(Registration).where(Registration.election_id == election.id).values(code_sealed=None)
            )
            return Admitted(close_entry(now))

        return self.board.append(opened.id, admit)

    def _ballots(self, session: Session, election_id: int) -> list[bytes]:
        """The counted ballots' entry bytes: the last of each credential."""
        rows = session.execute(
            select(BoardEntry.credential, BoardEntry.data)
            .where(BoardEntry.election_id == election_id, BoardEntry.kind == "ballot")
            .order_by(BoardEntry.index)
            .execution_options(yield_per=IMPORT_BATCH)
        )
        last: dict[bytes, bytes] = {}
        for credential, data in rows:
            assert credential is not None  # every ballot entry records its credential
            last.pop(credential, None)
            last[credential] = data
        return list(last.values())

    def tally(self, slug: str) -> Tally:
        opened = self._opened(slug)
        with self.store.session() as session:
            state = self._row(session, slug).state
            if state != "closed":
                raise WrongState(f"{slug} is {state}: the tally comes after close", state)
            entries = self._ballots(session, opened.id)
        t = tally(opened.params, (parse_ballot(json.loads(e)["ballot"]) for e in entries))

        def admit(session: Session, election: Election, now: datetime) -> Admitted:
            if election.state != "closed":
                raise WrongState(f"{slug} is {election.state}: the tally comes after close", election.state)
            election.state = "tallied"
            return Admitted(tally_entry(t))

        self.board.append(opened.id, admit)
        return t

    def published_tally(self, slug: str) -> Tally:
        opened = self._opened(slug)
        with self.store.session() as session:
            data = session.execute(
                select(BoardEntry.data).where(BoardEntry.election_id == opened.id, BoardEntry.kind == "tally")
            ).scalar()
        if data is None:
            raise WrongState(f"{slug} has no tally yet", self.state(slug))
        return parse_tally(json.loads(data), opened.params)

    def _partials(self, session: Session, election_id: int, t: Tally) -> list[PartialDecryption]:
        rows = session.execute(
            select(BoardEntry.data)
            .where(BoardEntry.election_id == election_id, BoardEntry.kind == "partial_decryption")
            .order_by(BoardEntry.index)
        ).scalars()
        return [parse_partial_decryption(json.loads(d), t) for d in rows]

    def add_partial_decryption(self, slug: str, raw: Any) -> Receipt:
        """Check a trustee's partial decryption against the tally and ``V_j``; append it."""
        return self.add_partial_decryptions(slug, [raw])[0]

    def add_partial_decryptions(self, slug: str, raws: Sequence[Any]) -> list[Receipt]:
        """Check every partial decryption first (against the tally and ``V_j``, and
        that its trustee has not decrypted yet); append them only if all pass."""
        opened = self._opened(slug)
        t = self.published_tally(slug)
        pds = [parse_partial_decryption(raw, t) for raw in raws]
        with self.store.session() as session:
            done = {p.trustee for p in self._partials(session, opened.id, t)}
        for pd in pds:
            if not 1 <= pd.trustee <= opened.params.manifest.n:
                raise DecodeError(f"there is no trustee {pd.trustee} in {slug}")
            if pd.trustee in done:
                raise WrongState(f"trustee {pd.trustee} has already decrypted {slug}", "tallied")
            done.add(pd.trustee)
            verify_partial_decryption(opened.params, t, pd)
        return [self.board.append(opened.id, self._admit_partial(slug, t, pd)) for pd in pds]

    def _admit_partial(
        self, slug: str, t: Tally, pd: PartialDecryption
    ) -> Callable[[Session, Election, datetime], Admitted]:
        def admit(session: Session, election: Election, now: datetime) -> Admitted:
            if election.state != "tallied":
                raise WrongState(
                    f"{slug} is {election.state}: decryptions come after the tally", election.state
                )
            if pd.trustee in {p.trustee for p in self._partials(session, election.id, t)}:
                raise WrongState(f"trustee {pd.trustee} has already decrypted {slug}", election.state)
            return Admitted(partial_decryption_entry(pd))

        return admit

    def publish_result(self, slug: str) -> dict[str, Any]:
        """Combine the partial decryptions on the board and append the ``result``."""
        opened = self._opened(slug)
        params = opened.params
        t = self.published_tally(slug)
        with self.store.session() as session:
            partials = self._partials(session, opened.id, t)
            counts = combine(params, t, partials)
            counted = [json.loads(e)["ballot"]["credential"] for e in self._ballots(session, opened.id)]
            regions = session.execute(
                select(Voter.credential, Voter.region)
                .where(Voter.election_id == opened.id)
                .execution_options(yield_per=IMPORT_BATCH)
            )
            figures = turnout(regions, (bytes.fromhex(c) for c in counted))
        entry = result_entry([pd.trustee for pd in partials], counts, figures)

        def admit(session: Session, election: Election, now: datetime) -> Admitted:
            if election.state != "tallied":
                raise WrongState(f"{slug} is {election.state}: the result follows the tally", election.state)
            election.state = "published"
            return Admitted(entry)

        self.board.append(opened.id, admit)
        return entry

    # --- the record ---

    def tree_head(self, slug: str) -> TreeHead:
        """The board's latest signed tree head."""
        return self.board.tree_head(self._opened(slug).id)

    def record(self, slug: str) -> Record:
        """The whole record in memory (tests and small referendums: see :meth:`record_stream`)."""
        with self.record_stream(slug) as stream:
            return Record(tuple(stream.board), tuple(stream.electorate), stream.tree_head, stream.board_key)

    @contextmanager
    def record_stream(self, slug: str) -> Iterator[RecordStream]:
        """The record as of the board's latest tree head, read from the store's cursors
        while it is written: the board's entries one at a time, then the electorate's
        leaves in order. Entries appended meanwhile are not in it (the board only grows)."""
        opened = self._opened(slug)
        head = self.board.tree_head(opened.id)
        with self.store.session() as session:

            def board() -> Iterator[bytes]:
                rows = session.execute(
                    select(BoardEntry.data)
                    .where(BoardEntry.election_id == opened.id, BoardEntry.index < head.size)
                    .order_by(BoardEntry.index)
                    .execution_options(yield_per=IMPORT_BATCH)
                )
                for data in rows.scalars():
                    yield bytes(data)

            def electorate() -> Iterator[bytes]:
                rows = session.execute(
                    select(Voter.credential, Voter.region)
                    .where(Voter.election_id == opened.id)
                    .order_by(Voter.credential)
                    .execution_options(yield_per=IMPORT_BATCH)
                )
                for credential, region in rows:
                    yield Eligible(Point.decode(credential, "credential"), region).leaf()

            yield RecordStream(board(), electorate(), head.to_json(), self.board_key)
