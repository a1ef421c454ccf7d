"""Zero-knowledge proofs, all ``{c, z}`` pairs made non-interactive with ``Hs``.

- Schnorr proof of knowledge of ``x`` in ``X = x·G`` (PROTOCOL.md §3 trustee
  proof, §5 ballot signature): ``R = w·G``, ``c = Hs(tag, context…, R)``,
  ``z = w + c·x``; checked by ``R' = z·G − c·X``.
- Range proof (§5), the Cramer–Damgård–Schoenmakers disjunction of
  Chaum–Pedersen proofs that ``(α, β)`` encrypts one of the allowed values.
- Chaum–Pedersen proof that ``log_G V = log_A D`` (§7 partial decryption).

Provers take their randomness from a :data:`RandomSource`; the order of the
draws is fixed and documented in docs/vectors.md, so seeded runs reproduce.
Verifiers return ``bool``; the protocol layer turns ``False`` into an error
that names what failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from istifta.crypto.elgamal import Ciphertext
from istifta.crypto.group import Point, RandomSource, Scalar, random_scalar, small_multiple
from istifta.crypto.hashing import Hs, HsItem

__all__ = [
    "Proof",
    "RangeProof",
    "prove_dleq",
    "prove_range",
    "prove_schnorr",
    "verify_dleq",
    "verify_range",
    "verify_schnorr",
]

RANGE_TAG = "istifta/1/range"


@dataclass(frozen=True, slots=True)
class Proof:
    """A challenge ``c`` and a response ``z``."""

    c: Scalar
    z: Scalar


RangeProof = tuple[Proof, ...]
"""One ``{c_i, z_i}`` per allowed value, in the order of the allowed values."""


def prove_schnorr(x: Scalar, tag: str, context: Sequence[HsItem], rng: RandomSource) -> Proof:
    """Prove knowledge of ``x``; ``context`` is what ``Hs`` takes before ``R``."""
    w = random_scalar(rng)
    c = Hs(tag, *context, Point.base_mul(w))
    return Proof(c, w + c * x)


def verify_schnorr(X: Point, tag: str, context: Sequence[HsItem], proof: Proof) -> bool:  # noqa: N803
    R = Point.base_mul(proof.z) - X * proof.c  # noqa: N806
    return Hs(tag, *context, R) == proof.c


def prove_range(
    K: Point,  # noqa: N803
    ct: Ciphertext,
    r: Scalar,
    v: int,
    allowed: Sequence[int],
    context: Sequence[HsItem],
    rng: RandomSource,
) -> RangeProof:
    """Prove that ``ct = Enc_K(v; r)`` with ``v`` among ``allowed``.

    ``context`` is ``(election_hash, P, q, o)`` as ``Hs`` takes them. Draws, in
    the order of ``allowed``: ``w`` for the real branch, ``c_i`` then ``z_i``
    for every other branch.
    """
    j = allowed.index(v)
    cs: list[Scalar] = []
    zs: list[Scalar] = []
    commitments: list[Point] = []
    w = Scalar(0)
    for i, v_i in enumerate(allowed):
        if i == j:
            w = random_scalar(rng)
            cs.append(Scalar(0))
            zs.append(Scalar(0))
            commitments += [Point.base_mul(w), K * w]
        else:
            c_i, z_i = random_scalar(rng), random_scalar(rng)
            cs.append(c_i)
            zs.append(z_i)
            commitments += _branch(K, ct, v_i, c_i, z_i)
    c = Hs(RANGE_TAG, *context, ct.alpha, ct.beta, *commitments)
    c_j = c - sum((c_i for i, c_i in enumerate(cs) if i != j), Scalar(0))
    cs[j], zs[j] = c_j, w + c_j * r
    return tuple(Proof(c_i, z_i) for c_i, z_i in zip(cs, zs, strict=True))


def _branch(K: Point, ct: Ciphertext, v_i: int, c_i: Scalar, z_i: Scalar) -> list[Point]:  # noqa: N803
    """``a_i = z_i·G − c_i·α`` and ``b_i = z_i·K − c_i·(β − v_i·G)``."""
    shifted = ct.beta - small_multiple(v_i) if v_i else ct.beta
    return [Point.base_mul(z_i) - ct.alpha * c_i, K * z_i - shifted * c_i]


def verify_range(
    K: Point,  # noqa: N803
    ct: Ciphertext,
    allowed: Sequence[int],
    context: Sequence[HsItem],
    proof: RangeProof,
) -> bool:
    if len(proof) != len(allowed):
        return False
    commitments: list[Point] = []
    total = 0
    for v_i, p in zip(allowed, proof, strict=True):
        commitments += _branch(K, ct, v_i, p.c, p.z)
        total += p.c.value
    return Hs(RANGE_TAG, *context, ct.alpha, ct.beta, *commitments) == Scalar(total)


def prove_dleq(
    s: Scalar,
    A: Point,
    tag: str,
    context: Sequence[HsItem],
    rng: RandomSource,  # noqa: N803
) -> tuple[Point, Proof]:
    """``D = s·A`` and a proof that ``log_G (s·G) = log_A D``.

    ``c = Hs(tag, context…, A, D, a, b)`` with ``a = w·G``, ``b = w·A``.
    """
    D = A * s  # noqa: N806
    w = random_scalar(rng)
    c = Hs(tag, *context, A, D, Point.base_mul(w), A * w)
    return D, Proof(c, w + c * s)


def verify_dleq(
    V: Point,
    A: Point,
    D: Point,
    tag: str,
    context: Sequence[HsItem],
    proof: Proof,  # noqa: N803
) -> bool:
    a = Point.base_mul(proof.z) - V * proof.c
    b = A * proof.z - D * proof.c
    return Hs(tag, *context, A, D, a, b) == proof.c
