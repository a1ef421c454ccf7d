"""Setting a referendum up, until it opens (PROTOCOL.md §2–§5): the draft from
its manifest, the trustees' files, the electorate (imported while a draft,
frozen at opening), and opening itself, which freezes the parameters and puts
the ``election`` entry on the board. Every step checks first and changes
nothing when it refuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from istifta.board.merkle import leaf_hash, tree_hash_of_leaf_hashes
from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.group import Point, RandomSource
from istifta.crypto.threshold import verify_trustee
from istifta.errors import CeremonyError, DecodeError, WrongState
from istifta.protocol.electorate import MAX_REGION, Eligible
from istifta.protocol.manifest import Manifest, parse_manifest
from istifta.protocol.parameters import ElectionParameters, freeze_parameters
from istifta.protocol.record import (
    election_entry,
)
from istifta.store.board import Admitted
from istifta.store.models import Election, TrusteeRow, Voter
from istifta.store.referendum_base import IMPORT_BATCH, ReferendumBase
from istifta.store.turnout import freeze_electorate as _freeze_electorate
from istifta.trustee.files import parse_trustee_file

__all__ = ["SettingUp"]


class SettingUp(ReferendumBase):
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
