"""A referendum's life on a store and its board (PROTOCOL.md §2–§8).

:class:`Referendums` is the one library the CLI, the web layer and the
console call: create, add trustees, import the electorate, open, cast,
close, tally, add partial decryptions, publish the result, export the record.
Every step checks first and changes nothing when it refuses; every board
entry goes through the board's writer, whose ``admit`` check runs inside the
append's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from sqlalchemy import bindparam, func, insert, literal, select, update
from sqlalchemy.orm import Session

from istifta.board.merkle import leaf_hash, tree_hash_of_leaf_hashes
from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.group import Point, RandomSource
from istifta.crypto.threshold import verify_trustee
from istifta.errors import CeremonyError, DecodeError, UnknownElection, WrongState
from istifta.protocol.ballot import parse_ballot, verify_ballot
from istifta.protocol.electorate import MAX_REGION, Eligible
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.protocol.parameters import ElectionParameters, freeze_parameters, parse_parameters
from istifta.protocol.record import (
    Record,
    ballot_entry,
    close_entry,
    election_entry,
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
from istifta.store.board import Admitted, BoardLog, Receipt
from istifta.store.db import Store, open_store
from istifta.store.models import BoardEntry, Election, Registration, TrusteeRow, Voter
from istifta.store.private import BOARD_KEY, load_key
from istifta.store.turnout import freeze_electorate as _freeze_electorate
from istifta.trustee.files import parse_trustee_file

__all__ = ["Referendums", "load_board_key"]

Clock = Callable[[], datetime]
IMPORT_BATCH = 10_000
_ELIGIBLE = select(literal(1)).where(
    Voter.election_id == bindparam("election"), Voter.credential == bindparam("credential")
)


def load_board_key(data_dir: Path) -> SigningKey:
    """The board's Ed25519 key in ``data_dir/board.key`` (hex seed, mode 0600), made on first use."""
    return SigningKey(load_key(data_dir / BOARD_KEY))


@dataclass(frozen=True)
class _Open:
    """What casting needs of an open referendum, kept in memory."""

    id: int
    params: ElectionParameters


class Referendums:
    def __init__(
        self, store: Store, key: SigningKey, clock: Clock | None = None, data_dir: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        """The data directory it was opened from (its keys live there), if any."""
        self.store = store
        self.key = key
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.board = BoardLog(store, key, self.clock)
        self._params: dict[str, _Open] = {}

    @classmethod
    def open(cls, data_dir: Path, url: str | None = None, clock: Clock | None = None) -> Referendums:
        """The referendums of ``data_dir`` (SQLite there, or PostgreSQL at ``url``)."""
        store = open_store(data_dir, url)
        return cls(store, load_board_key(data_dir), clock, data_dir)

    def close_store(self) -> None:
        self.board.stop()
        self.store.close()

    @property
    def board_key(self) -> bytes:
        return bytes(self.key.verify_key)

    # --- looking up ---

    def _row(self, session: Session, slug: str) -> Election:
        row = session.execute(select(Election).where(Election.slug == slug)).scalar()
        if row is None:
            raise UnknownElection(f"no referendum is called {slug!r}")
        return row

    def election_id(self, slug: str) -> int:
        """The referendum's row id, in any state (raises :class:`UnknownElection`)."""
        cached = self._params.get(slug)
        if cached is not None:
            return cached.id
        with self.store.session() as session:
            return self._row(session, slug).id

    def public_id(self, slug: str) -> int:
        """The row id of a referendum that has opened. A draft exists only for the
        console: to anyone else it is unknown (:class:`UnknownElection`, the same
        words as for a slug that names nothing)."""
        cached = self._params.get(slug)
        if cached is not None:
            return cached.id
        with self.store.session() as session:
            row = self._row(session, slug)
            if row.state == "draft":
                raise UnknownElection(f"no referendum is called {slug!r}")
            return row.id

    def row(self, session: Session, slug: str) -> Election:
        """The referendum's row in ``session`` (raises :class:`UnknownElection`)."""
        return self._row(session, slug)

    def state(self, slug: str) -> str:
        with self.store.session() as session:
            return self._row(session, slug).state

    def manifest(self, slug: str) -> Manifest:
        with self.store.session() as session:
            return parse_manifest(json.loads(self._row(session, slug).manifest))

    def parameters(self, slug: str) -> ElectionParameters:
        return self._opened(slug).params

    def _opened(self, slug: str) -> _Open:
        cached = self._params.get(slug)
        if cached is not None:
            return cached
        with self.store.session() as session:
            row = self._row(session, slug)
            if row.parameters is None:
                raise WrongState(f"{slug} is not open yet: its parameters are not frozen", row.state)
            opened = _Open(row.id, parse_parameters(json.loads(row.parameters)))
        self._params[slug] = opened
        return opened

    # --- before opening ---

    def create(self, manifest_raw: Any) -> Manifest:
        manifest = parse_manifest(manifest_raw)
        with self.store.session() as session, session.begin():
            exists = session.execute(select(Election.id).where(Election.slug == manifest.slug)).scalar()
            if exists is not None:
                raise WrongState(f"a referendum called {manifest.slug!r} already exists", "exists")
            session.add(
                Election(
                    slug=manifest.slug,
                    manifest=json.dumps(manifest.raw, ensure_ascii=False),
                    manifest_hash=manifest.manifest_hash,
                    state="draft",
                    board_size=0,
                    created_at=self.clock(),
                )
            )
        return manifest

    def _draft(self, session: Session, slug: str) -> tuple[Election, Manifest]:
        row = self._row(session, slug)
        if row.state != "draft":
            raise WrongState(f"{slug} is {row.state}: this is done before it opens", row.state)
        return row, parse_manifest(json.loads(row.manifest))

    def add_trustee(self, slug: str, raw: Any, path: str = "trustee file") -> int:
        """Check a trustee's public file (its manifest, proof of knowledge) and keep it."""
        return self.add_trustees(slug, [(raw, path)])[0]

    def add_trustees(self, slug: str, files: Sequence[tuple[Any, str]]) -> list[int]:
        """Check trustees' public files and keep them: all of them, or none if one is bad."""
        indices = []
        with self.store.session() as session, session.begin():
            row, manifest = self._draft(session, slug)
            for raw, path in files:
                tf = parse_trustee_file(raw, path)
                if tf.manifest_hash != manifest.manifest_hash:
                    raise CeremonyError(f"{path} is for another manifest than {slug}'s")
                if not 1 <= tf.index <= manifest.n:
                    raise CeremonyError(
                        f"{path}: trustee {tf.index}, but {slug} has trustees 1 to {manifest.n}"
                    )
                verify_trustee(tf.public, manifest.threshold, bytes.fromhex(manifest.manifest_hash))
                existing = session.get(TrusteeRow, (row.id, tf.index))
                text = json.dumps(tf.to_json())
                if existing is not None and existing.public != text:
                    raise CeremonyError(f"trustee {tf.index} of {slug} has already published other keys")
                if existing is None:
                    session.add(TrusteeRow(election_id=row.id, index=tf.index, public=text))
                    session.flush()
                indices.append(tf.index)
        return indices

    def import_electorate(self, slug: str, voters: Iterable[Eligible]) -> int:
        """Add public credentials (with regions) in one transaction: all or nothing."""
        count = 0
        with self.store.session() as session, session.begin():
            row, _ = self._draft(session, slug)
            batch: list[dict[str, Any]] = []
            for v in voters:
                if v.credential.is_identity:
                    raise DecodeError("the identity is not a credential")
                if v.region is not None and not 0 < len(v.region) <= MAX_REGION:
                    raise DecodeError(f"region {v.region!r}: expected 1 to {MAX_REGION} characters")
                batch.append(
                    {
                        "election_id": row.id,
                        "credential": v.credential.to_bytes(),
                        "region": v.region,
                    }
                )
                if len(batch) >= IMPORT_BATCH:
                    count += self._insert_voters(session, batch)
                    batch = []
            count += self._insert_voters(session, batch)
        return count

    def _insert_voters(self, session: Session, batch: list[dict[str, Any]]) -> int:
        if not batch:
            return 0
        keys = [b["credential"] for b in batch]
        if len(set(keys)) != len(keys):
            raise DecodeError("the same credential appears twice in the electorate")
        clash = session.execute(
            select(Voter.credential)
            .where(Voter.election_id == batch[0]["election_id"], Voter.credential.in_(keys))
            .limit(1)
        ).scalar()
        if clash is not None:
            raise DecodeError(f"credential {clash.hex()} is already in the electorate")
        session.execute(insert(Voter), batch)
        return len(batch)

    def generate_electorate(
        self, slug: str, count: int, regions: tuple[str, ...], rng: RandomSource
    ) -> list[tuple[str, str | None]]:
        """For tests and demos: make ``count`` credentials, import their ``P``,
        and return each code with its region (secrets: the caller keeps them safe)."""
        manifest = self.manifest(slug)
        mh = bytes.fromhex(manifest.manifest_hash)
        made = []
        for i in range(count):
            code = new_code(rng)
            made.append((code, regions[i % len(regions)] if regions else None))
        self.import_electorate(
            slug, (Eligible(public_credential(credential_secret(mh, c)), r) for c, r in made)
        )
        return made

    def open_election(self, slug: str) -> ElectionParameters:
        """Freeze the parameters and put the ``election`` entry on the board."""
        with self.store.session() as session:
            row, manifest = self._draft(session, slug)
            rows = (
                session.execute(
                    select(TrusteeRow).where(TrusteeRow.election_id == row.id).order_by(TrusteeRow.index)
                )
                .scalars()
                .all()
            )
            if len(rows) != manifest.n:
                missing = sorted(set(range(1, manifest.n + 1)) - {r.index for r in rows})
                raise WrongState(
                    f"{slug} cannot open: trustees {missing} have not published their keys",
                    row.state,
                )
            publics = [parse_trustee_file(json.loads(r.public), f"trustee {r.index}").public for r in rows]
            size, root = self._electorate_root(session, row.id)
            if size == 0:
                raise WrongState(f"{slug} cannot open: its electorate is empty", row.state)
            election_id = row.id
        params = freeze_parameters(manifest, publics, size, root)
        entry = election_entry(params)
        text = json.dumps(params.to_json(), ensure_ascii=False)

        def admit(session: Session, election: Election, now: datetime) -> Admitted:
            if election.state != "draft" or election.board_size != 0:
                raise WrongState(f"{slug} is already {election.state}", election.state)
            # An import that committed after the root was computed would leave voters
            # outside the frozen electorate: refuse, and let the organiser open again.
            now_size = session.scalar(select(func.count()).where(Voter.election_id == election.id))
            if now_size != size:
                raise WrongState(f"{slug}'s electorate changed while opening: open it again", election.state)
            election.state = "open"
            election.parameters = text
            election.election_hash = params.election_hash
            _freeze_electorate(session, election.id)
            return Admitted(entry)

        self.board.append(election_id, admit)
        return params

    def _electorate_root(self, session: Session, election_id: int) -> tuple[int, str]:
        def leaves() -> Iterator[bytes]:
            rows = session.execute(
                select(Voter.credential, Voter.region)
                .where(Voter.election_id == election_id)
                .order_by(Voter.credential)
                .execution_options(yield_per=IMPORT_BATCH)
            )
            for credential, region in rows:
                yield leaf_hash(Eligible(Point.decode(credential, "credential"), region).leaf())

        size = session.execute(
            select(func.count()).select_from(Voter).where(Voter.election_id == election_id)
        ).scalar_one()
        return size, tree_hash_of_leaf_hashes(leaves()).hex()

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
