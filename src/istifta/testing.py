"""A whole election in memory, for tests, benchmarks and the published vectors.

:func:`make_election` runs the trustees' ceremony, issues credentials and
freezes the parameters, all from one :data:`RandomSource`, so that a seeded
source reproduces everything. Nothing here is for a real election: a real
ceremony runs on the trustees' own machines and nobody holds every share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from istifta.crypto.credentials import credential_secret, new_code, public_credential
from istifta.crypto.group import Point, RandomSource, Scalar
from istifta.crypto.threshold import (
    TrusteeSecret,
    check_share,
    combine_shares,
    generate_trustee,
)
from istifta.protocol.electorate import Eligible, electorate_leaves, electorate_root
from istifta.protocol.manifest import parse_manifest
from istifta.protocol.parameters import ElectionParameters, freeze_parameters

__all__ = ["Election", "make_election", "manifest_json", "question_json"]


def question_json(
    options: Sequence[str], low: int = 1, high: int = 1, text: str = "Question?"
) -> dict[str, Any]:
    """A question in every demo language (the same text in each, for tests)."""
    return {
        "text": {"ar": text, "ckb": text, "en": text},
        "options": [{"label": {"ar": o, "ckb": o, "en": o}} for o in options],
        "min": low,
        "max": high,
    }


def manifest_json(
    questions: Sequence[dict[str, Any]] | None = None,
    n: int = 3,
    threshold: int = 2,
    slug: str = "test-referendum",
) -> dict[str, Any]:
    """A well-formed manifest; a single yes/no question unless ``questions`` says otherwise."""
    return {
        "version": "istifta/1",
        "slug": slug,
        "title": {"ar": "استفتاء تجريبي", "ckb": "ڕاپرسیی تاقیکردنەوە", "en": "Test referendum"},
        "questions": list(questions) if questions else [question_json(["yes", "no"])],
        "opens_at": "2024-01-20T06:00:00Z",
        "closes_at": "2024-01-21T18:00:00Z",
        "trustees": {"n": n, "threshold": threshold},
    }


@dataclass(frozen=True)
class Election:
    params: ElectionParameters = field(repr=False)
    trustee_secrets: tuple[TrusteeSecret, ...] = field(repr=False)
    shares: dict[int, Scalar] = field(repr=False)
    """``s_j`` per trustee index."""
    codes: tuple[str, ...] = field(repr=False)
    """Each voter's credential code, in the order they were issued."""
    credentials: tuple[Point, ...] = field(repr=False)
    """Each voter's ``P``, in the order of ``codes``."""
    regions: tuple[str | None, ...] = field(repr=False)
    _eligible: frozenset[Point] = field(init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Election({self.params.manifest.slug}, {len(self.codes)} voters)"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_eligible", frozenset(self.credentials))

    def is_eligible(self, P: Point) -> bool:  # noqa: N803
        """Membership in the electorate, as :func:`verify_ballot` asks it."""
        return P in self._eligible


def make_election(
    rng: RandomSource,
    manifest: dict[str, Any] | None = None,
    voters: int = 4,
    regions: Sequence[str] = (),
) -> Election:
    """Ceremony, credentials and parameters for ``voters`` voters; each voter's
    region cycles through ``regions`` (none when empty). Draws: each trustee's
    coefficients and proof in index order, then each voter's code."""
    m = parse_manifest(manifest if manifest is not None else manifest_json())
    mh = bytes.fromhex(m.manifest_hash)
    generated = [generate_trustee(i, m.threshold, mh, rng) for i in range(1, m.n + 1)]
    shares: dict[int, Scalar] = {}
    for j in range(1, m.n + 1):
        for secret, public in generated:
            check_share(public, j, secret.share_for(j))
        shares[j] = combine_shares(secret.share_for(j) for secret, _ in generated)
    codes = tuple(new_code(rng) for _ in range(voters))
    credentials = tuple(public_credential(credential_secret(mh, c)) for c in codes)
    assigned = tuple(regions[i % len(regions)] if regions else None for i in range(voters))
    leaves = electorate_leaves(Eligible(P, r) for P, r in zip(credentials, assigned, strict=True))
    params = freeze_parameters(m, [p for _, p in generated], len(leaves), electorate_root(leaves))
    return Election(params, tuple(s for s, _ in generated), shares, codes, credentials, assigned)
