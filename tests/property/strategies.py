"""Reusable Hypothesis strategies for istifta's values (PROTOCOL.md §1, §2, §5).

They depend on no fixture and no election: scalars mod ℓ, points drawn as
``k·G``, wire encodings (valid and broken), allowed-value sets for range
proofs, seeds for :class:`~istifta.crypto.rng.SeededRandom`, and selections
that a manifest :class:`~istifta.protocol.manifest.Question` allows.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from istifta.crypto.group import L, Point, Scalar
from istifta.crypto.rng import SeededRandom
from istifta.protocol.manifest import Manifest, Question

__all__ = [
    "allowed_sets",
    "ballot_selections",
    "hashes",
    "noncanonical_point_hex",
    "nonzero_scalars",
    "points",
    "points_or_identity",
    "rngs",
    "scalar_ints",
    "scalars",
    "seeds",
    "selections",
    "unreduced_scalar_hex",
]


def scalar_ints() -> st.SearchStrategy[int]:
    """Integers in ``[0, ℓ)``; Hypothesis tries the ends (0, 1, ℓ − 1) often."""
    return st.integers(0, L - 1)


def scalars() -> st.SearchStrategy[Scalar]:
    """Any scalar mod ℓ, zero included."""
    return scalar_ints().map(Scalar)


def nonzero_scalars() -> st.SearchStrategy[Scalar]:
    """Scalars in ``[1, ℓ)``: secrets, nonces, keys."""
    return st.integers(1, L - 1).map(Scalar)


def points() -> st.SearchStrategy[Point]:
    """Non-identity points ``k·G`` (ℓ is prime, so ``k ≠ 0`` never gives the identity)."""
    return nonzero_scalars().map(Point.base_mul)


def points_or_identity() -> st.SearchStrategy[Point]:
    """Points ``k·G`` with ``k`` any scalar, so the identity (``k = 0``) is drawn too."""
    return st.one_of(st.just(Scalar(0)), scalars()).map(Point.base_mul)


def hashes() -> st.SearchStrategy[str]:
    """64 lowercase hex characters, as hashes travel in JSON."""
    return st.binary(min_size=32, max_size=32).map(bytes.hex)


def unreduced_scalar_hex() -> st.SearchStrategy[str]:
    """32 little-endian bytes of a value ``≥ ℓ``: a scalar decoding must refuse it."""
    return st.integers(L, 2**256 - 1).map(lambda v: v.to_bytes(32, "little").hex())


def noncanonical_point_hex() -> st.SearchStrategy[str]:
    """32 bytes whose field element is odd ("negative"), which RFC 9496 §4.3.1
    decoding always refuses, or whose top bit is set (not reduced mod p)."""

    def spoil(data: bytes, top_bit: bool) -> str:
        b = bytearray(data)
        if top_bit:
            b[31] |= 0x80
        else:
            b[0] |= 0x01
        return bytes(b).hex()

    return st.builds(spoil, st.binary(min_size=32, max_size=32), st.booleans())


def allowed_sets(max_value: int = 10, min_size: int = 1, max_size: int = 5) -> st.SearchStrategy[list[int]]:
    """Sorted distinct small integers, as a range proof's allowed values."""
    return st.lists(st.integers(0, max_value), min_size=min_size, max_size=max_size, unique=True).map(sorted)


def seeds() -> st.SearchStrategy[str]:
    """Seeds for :class:`SeededRandom`: short printable strings, shown when a test fails."""
    return st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


def rngs() -> st.SearchStrategy[SeededRandom]:
    """A fresh deterministic randomness source per example."""
    return seeds().map(SeededRandom)


def selections(question: Question) -> st.SearchStrategy[list[int]]:
    """Distinct option indices, between ``min`` and ``max`` of them, in any order."""
    k = len(question.options)
    return st.integers(question.min, question.max).flatmap(
        lambda size: st.lists(st.integers(0, k - 1), min_size=size, max_size=size, unique=True)
    )


def ballot_selections(
    manifest: Manifest | Sequence[Question],
) -> st.SearchStrategy[list[list[int]]]:
    """One valid selection per question of ``manifest``, in question order."""
    questions = manifest.questions if isinstance(manifest, Manifest) else manifest
    return st.tuples(*(selections(q) for q in questions)).map(list)
