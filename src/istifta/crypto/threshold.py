"""The trustees' threshold key: Feldman VSS, t of n (PROTOCOL.md §3).

Trustee ``i`` holds a polynomial ``f_i`` of degree ``t − 1`` (its secret),
publishes commitments ``C_i,k = a_i,k·G`` with a proof of knowledge of
``a_i,0``, and sends ``f_i(j)`` to each trustee ``j``. The joint key is
``K = Σ_i C_i,0``; trustee ``j`` keeps ``s_j = Σ_i f_i(j)``, whose public
verification key ``V_j = Σ_i Σ_k j^k·C_i,k`` anyone can compute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from istifta.crypto.group import IDENTITY, Point, RandomSource, Scalar, random_scalar
from istifta.crypto.proofs import Proof, prove_schnorr, verify_schnorr
from istifta.errors import CeremonyError, UsageError

__all__ = [
    "TrusteePublic",
    "TrusteeSecret",
    "check_share",
    "combine_shares",
    "generate_trustee",
    "joint_key",
    "lagrange",
    "verification_key",
    "verify_trustee",
]

POK_TAG = "istifta/1/trustee-pok"


@dataclass(frozen=True, slots=True)
class TrusteeSecret:
    """Trustee ``index``'s polynomial coefficients ``a_i,0 … a_i,t−1``."""

    index: int
    coefficients: tuple[Scalar, ...] = field(repr=False)

    def share_for(self, j: int) -> Scalar:
        """``f_i(j) = Σ_k a_i,k·j^k``, the share sent (sealed) to trustee ``j``."""
        acc = 0
        for a in reversed(self.coefficients):
            acc = acc * j + a.value
        return Scalar(acc)


@dataclass(frozen=True, slots=True)
class TrusteePublic:
    """What trustee ``index`` publishes: ``C_i,0 … C_i,t−1`` and the proof for ``a_i,0``."""

    index: int
    commitments: tuple[Point, ...]
    pok: Proof


def generate_trustee(
    index: int, threshold: int, manifest_hash: bytes, rng: RandomSource
) -> tuple[TrusteeSecret, TrusteePublic]:
    """Draws ``a_i,0 … a_i,t−1`` in order (a zero is drawn again), then the proof's ``w``."""
    if not 1 <= threshold:
        raise UsageError("the threshold is at least 1")
    coefficients: list[Scalar] = []
    while len(coefficients) < threshold:
        a = random_scalar(rng)
        if a.value:
            coefficients.append(a)
    commitments = tuple(Point.base_mul(a) for a in coefficients)
    pok = prove_schnorr(coefficients[0], POK_TAG, _pok_context(manifest_hash, index, commitments[0]), rng)
    return TrusteeSecret(index, tuple(coefficients)), TrusteePublic(index, commitments, pok)


def _pok_context(manifest_hash: bytes, index: int, c0: Point) -> tuple[bytes, int, Point]:
    return (manifest_hash, index, c0)


def verify_trustee(public: TrusteePublic, threshold: int, manifest_hash: bytes) -> None:
    """Raise :class:`CeremonyError` unless the commitments and proof are sound."""
    i = public.index
    if len(public.commitments) != threshold:
        raise CeremonyError(
            f"trustee {i} published {len(public.commitments)} commitments; "
            f"the threshold {threshold} needs exactly {threshold}"
        )
    if any(c.is_identity for c in public.commitments):
        raise CeremonyError(f"trustee {i} published the identity as a commitment")
    c0 = public.commitments[0]
    if not verify_schnorr(c0, POK_TAG, _pok_context(manifest_hash, i, c0), public.pok):
        raise CeremonyError(f"trustee {i}'s proof of knowledge does not verify")


def _commitment_at(commitments: Sequence[Point], j: int) -> Point:
    """``Σ_k j^k·C_k`` by Horner's rule: one multiplication per coefficient."""
    acc = IDENTITY
    for c in reversed(commitments):
        acc = acc * Scalar(j) + c
    return acc


def check_share(public: TrusteePublic, j: int, share: Scalar) -> None:
    """Trustee ``j``'s check of ``f_i(j)`` from trustee ``i``: ``f_i(j)·G = Σ_k j^k·C_i,k``."""
    if Point.base_mul(share) != _commitment_at(public.commitments, j):
        raise CeremonyError(
            f"the share from trustee {public.index} to trustee {j} does not match "
            f"trustee {public.index}'s commitments: stop the ceremony"
        )


def combine_shares(shares: Iterable[Scalar]) -> Scalar:
    """``s_j = Σ_i f_i(j)``, trustee ``j``'s share of the joint secret."""
    return Scalar(sum(s.value for s in shares))


def joint_key(publics: Iterable[TrusteePublic]) -> Point:
    """``K = Σ_i C_i,0``."""
    K = IDENTITY  # noqa: N806
    for p in publics:
        K = K + p.commitments[0]  # noqa: N806
    return K


def verification_key(publics: Sequence[TrusteePublic], j: int) -> Point:
    """``V_j = Σ_i Σ_k j^k·C_i,k``, computed over the commitments summed per degree."""
    degree = max(len(p.commitments) for p in publics)
    summed = [IDENTITY] * degree
    for p in publics:
        summed = [acc + c for acc, c in zip(summed, p.commitments, strict=True)]
    return _commitment_at(summed, j)


def lagrange(indices: Sequence[int], j: int) -> Scalar:
    """``λ_j = Π_{k∈S, k≠j} k/(k−j) mod ℓ`` for the set ``S = indices``."""
    num, den = 1, 1
    for k in indices:
        if k != j:
            num *= k
            den *= k - j
    return Scalar(num) * Scalar(den).inverse()
