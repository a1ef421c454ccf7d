"""Where the trustees' ceremony and decryption stand, as the organiser sees them.

The organiser's store knows each trustee's public file (commitments and proof
of knowledge, checked when added). From the commitments alone it computes what
every trustee must end with: the joint key ``K = Σ_i C_i,0`` and each
``V_j = Σ_i Σ_k j^k·C_i,k``. A trustee *confirms* by reading out the ``V_j``
that ``istifta trustee receive`` printed once every share opened and checked;
the confirmation is kept only when it equals the computed ``V_j`` (a different
value means the trustee holds other public files than the store: the ceremony
must start again). Confirmations are the organiser's bookkeeping, never part of
the record: the record proves the keys by itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from istifta.crypto.threshold import joint_key, verification_key
from istifta.errors import CeremonyError, DecodeError
from istifta.store.models import BoardEntry, TrusteeConfirmation, TrusteeRow
from istifta.store.referendums import Referendums
from istifta.trustee.files import TrusteeFile, fingerprint, parse_trustee_file

__all__ = ["CeremonyProgress", "TrusteeProgress", "ceremony_progress", "confirm_trustee"]

_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrusteeProgress:
    index: int
    published: bool
    """Their public file (commitments, proof of knowledge) is in the store, checked."""
    verification_key: str | None
    """``V_j`` computed from every trustee's commitments, once all have published."""
    confirmed: bool
    """They confirmed that their shares opened and checked (their ``V_j`` matched)."""
    decrypted: bool
    """Their partial decryption of the tally is on the board."""


@dataclass(frozen=True)
class CeremonyProgress:
    n: int
    threshold: int
    trustees: tuple[TrusteeProgress, ...]
    fingerprint: str | None
    """What every trustee's ``deal`` prints, once all public files are in."""
    joint_key: str | None

    @property
    def published(self) -> int:
        return sum(t.published for t in self.trustees)

    @property
    def confirmed(self) -> int:
        return sum(t.confirmed for t in self.trustees)

    @property
    def decrypted(self) -> int:
        return sum(t.decrypted for t in self.trustees)

    @property
    def keys_complete(self) -> bool:
        return self.published == self.n


def _files(refs: Referendums, slug: str) -> tuple[int, list[TrusteeFile], dict[int, str], set[int]]:
    election_id = refs.election_id(slug)
    with refs.store.session() as session:
        rows = session.execute(
            select(TrusteeRow).where(TrusteeRow.election_id == election_id).order_by(TrusteeRow.index)
        ).scalars()
        files = [parse_trustee_file(json.loads(r.public), f"trustee {r.index}") for r in rows]
        confirmed = dict(
            session.execute(
                select(TrusteeConfirmation.index, TrusteeConfirmation.verification_key).where(
                    TrusteeConfirmation.election_id == election_id
                )
            ).all()
        )
        partials = session.execute(
            select(BoardEntry.data).where(
                BoardEntry.election_id == election_id, BoardEntry.kind == "partial_decryption"
            )
        ).scalars()
        decrypted = {int(json.loads(d)["trustee"]) for d in partials}
    return election_id, files, confirmed, decrypted


def ceremony_progress(refs: Referendums, slug: str) -> CeremonyProgress:
    """Who has published keys, confirmed their shares, decrypted; the joint key once known."""
    manifest = refs.manifest(slug)
    _, files, confirmed, decrypted = _files(refs, slug)
    by_index = {f.index: f for f in files}
    complete = len(by_index) == manifest.n
    publics = [f.public for f in files]
    trustees = tuple(
        TrusteeProgress(
            j,
            j in by_index,
            verification_key(publics, j).hex() if complete else None,
            j in confirmed,
            j in decrypted,
        )
        for j in range(1, manifest.n + 1)
    )
    return CeremonyProgress(
        manifest.n,
        manifest.threshold,
        trustees,
        fingerprint(files) if complete else None,
        joint_key(publics).hex() if complete else None,
    )


def confirm_trustee(refs: Referendums, slug: str, index: int, key: str, by: str) -> None:
    """Record that trustee ``index`` received their shares: ``key`` (hex, spaces
    allowed) must be the ``V_j`` the published commitments give."""
    progress = ceremony_progress(refs, slug)
    if not 1 <= index <= progress.n:
        raise DecodeError(f"there is no trustee {index} in {slug}")
    if not progress.keys_complete:
        raise CeremonyError("every trustee must publish their keys before any can confirm their shares")
    given = "".join(key.split()).lower()
    if not _HEX.fullmatch(given):
        raise DecodeError(
            "a verification key is 64 hexadecimal characters, as `istifta trustee receive` printed it"
        )
    expected = progress.trustees[index - 1].verification_key
    if given != expected:
        raise CeremonyError(
            f"trustee {index}'s key does not match the published commitments: "
            "they hold other public files than these; stop the ceremony and start again"
        )
    election_id = refs.election_id(slug)
    with refs.store.session() as session, session.begin():
        if session.get(TrusteeConfirmation, (election_id, index)) is None:
            session.add(
                TrusteeConfirmation(
                    election_id=election_id,
                    index=index,
                    verification_key=given,
                    confirmed_by=by,
                    confirmed_at=datetime.now(UTC),
                )
            )
