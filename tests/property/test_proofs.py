"""The zero-knowledge proofs of PROTOCOL.md §3, §5 and §7: every honest proof
verifies, and changing any one thing the proof is about, or any one number in
it, makes it fail."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from istifta.crypto.elgamal import Ciphertext, encrypt
from istifta.crypto.group import IDENTITY, Point, Scalar
from istifta.crypto.hashing import Hs, HsItem
from istifta.crypto.proofs import (
    Proof,
    RangeProof,
    prove_dleq,
    prove_range,
    prove_schnorr,
    verify_dleq,
    verify_range,
    verify_schnorr,
)
from istifta.crypto.rng import SeededRandom

from .strategies import (
    allowed_sets,
    nonzero_scalars,
    points,
    points_or_identity,
    scalars,
    seeds,
)

RANGE_CONTEXT = st.tuples(
    st.binary(min_size=32, max_size=32),  # election_hash
    points(),  # P
    st.integers(0, 19),  # q
    st.integers(0, 2**32 - 1),  # o (2^32 − 1 for the sum)
)
SCHNORR_CONTEXT = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.text(max_size=10),
        st.integers(0, 2**64 - 1),
        points(),
    ),
    max_size=4,
)
TAG = "istifta/1/test"
FIELDS = ("c", "z")


def other_scalar(data: st.DataObject, old: Scalar) -> Scalar:
    """Another scalar: any value drawn, ``old + 1`` if the draw hit ``old``."""
    new = data.draw(scalars(), label="new scalar")
    return new if new != old else old + Scalar(1)


def other_point(data: st.DataObject, old: Point) -> Point:
    """Another point: the identity (when ``old`` is not), or ``old + δ·G`` with ``δ ≠ 0``."""
    if not old.is_identity and data.draw(st.booleans(), label="identity"):
        return IDENTITY
    return old + Point.base_mul(data.draw(nonzero_scalars(), label="δ"))


def outside(allowed: list[int]) -> st.SearchStrategy[int]:
    """Small values not in ``allowed``, below, between and above its values."""
    return st.sampled_from([w for w in range(16) if w not in allowed])


def tamper(data: st.DataObject, proof: Proof) -> Proof:
    """``proof`` with its ``c`` or its ``z`` replaced by another scalar."""
    name = data.draw(st.sampled_from(FIELDS), label="field")
    return replace(proof, **{name: other_scalar(data, getattr(proof, name))})


def change_context(data: st.DataObject, context: tuple[HsItem, ...]) -> tuple[HsItem, ...]:
    """``context`` with one item replaced by another of the same kind."""
    i = data.draw(st.integers(0, len(context) - 1), label="context item")
    old = context[i]
    new: HsItem
    if isinstance(old, Point):
        new = other_point(data, old)
    elif isinstance(old, bytes):
        new = data.draw(st.binary(min_size=len(old), max_size=len(old)), label="new bytes")
        if new == old:
            new = old[:-1] + bytes([old[-1] ^ 1]) if old else b"\x00"
    elif isinstance(old, str):
        new = data.draw(st.text(max_size=10), label="new text")
        if new == old:
            new += "x"
    else:
        assert isinstance(old, int)
        new = old ^ data.draw(st.integers(1, 2**32 - 1), label="xor mask")
    assert new != old
    return context[:i] + (new,) + context[i + 1 :]


# -- range proofs (§5) --------------------------------------------------------


RangeCase = tuple[Point, Ciphertext, Scalar, int, list[int], tuple[HsItem, ...], RangeProof]
"""``(K, ct, r, v, allowed, context, proof)``."""


@st.composite
def honest_range_proofs(draw: st.DrawFn) -> RangeCase:
    K = draw(points(), label="K")  # noqa: N806
    allowed = draw(allowed_sets(), label="allowed")
    v = draw(st.sampled_from(allowed), label="v")
    r = draw(nonzero_scalars(), label="r")
    context: tuple[HsItem, ...] = draw(RANGE_CONTEXT, label="context")
    ct = encrypt(K, v, r)
    proof = prove_range(K, ct, r, v, allowed, context, SeededRandom(draw(seeds(), label="seed")))
    return K, ct, r, v, allowed, context, proof


@settings(max_examples=40)
@given(case=honest_range_proofs())
def test_honest_range_proof_verifies(case: RangeCase) -> None:
    K, ct, _, _, allowed, context, proof = case  # noqa: N806
    assert len(proof) == len(allowed)
    assert verify_range(K, ct, allowed, context, proof)


@settings(max_examples=40)
@given(case=honest_range_proofs(), data=st.data())
def test_range_proof_fails_when_one_c_or_z_changes(case: RangeCase, data: st.DataObject) -> None:
    K, ct, _, _, allowed, context, proof = case  # noqa: N806
    i = data.draw(st.integers(0, len(proof) - 1), label="branch")
    bad = proof[:i] + (tamper(data, proof[i]),) + proof[i + 1 :]
    assert not verify_range(K, ct, allowed, context, bad)


@settings(max_examples=40)
@given(case=honest_range_proofs(), data=st.data())
def test_range_proof_fails_for_another_ciphertext(case: RangeCase, data: st.DataObject) -> None:
    K, ct, _, _, allowed, context, proof = case  # noqa: N806
    if data.draw(st.booleans(), label="change alpha"):
        other = Ciphertext(other_point(data, ct.alpha), ct.beta)
    else:
        other = Ciphertext(ct.alpha, other_point(data, ct.beta))
    assert not verify_range(K, other, allowed, context, proof)


@settings(max_examples=40)
@given(case=honest_range_proofs(), data=st.data())
def test_range_proof_fails_for_a_reencryption_of_the_same_value(case: RangeCase, data: st.DataObject) -> None:
    """The proof is for this ciphertext, not for any encryption of ``v``."""
    K, ct, r, v, allowed, context, proof = case  # noqa: N806
    r2 = r + data.draw(nonzero_scalars(), label="δ")
    assert not verify_range(K, encrypt(K, v, r2), allowed, context, proof)


@settings(max_examples=40)
@given(case=honest_range_proofs(), data=st.data())
def test_range_proof_fails_in_another_context(case: RangeCase, data: st.DataObject) -> None:
    K, ct, _, _, allowed, context, proof = case  # noqa: N806
    assert not verify_range(K, ct, allowed, change_context(data, context), proof)


@settings(max_examples=40)
@given(case=honest_range_proofs(), data=st.data())
def test_range_proof_fails_under_another_key(case: RangeCase, data: st.DataObject) -> None:
    K, ct, _, _, allowed, context, proof = case  # noqa: N806
    assert not verify_range(other_point(data, K), ct, allowed, context, proof)


@settings(max_examples=40)
@given(case=honest_range_proofs(), data=st.data())
def test_range_proof_fails_for_a_set_without_v(case: RangeCase, data: st.DataObject) -> None:
    """Checked against a set of the same size that lacks ``v``, the proof fails;
    and a shorter or longer set fails outright."""
    K, ct, _, v, allowed, context, proof = case  # noqa: N806
    replacement = data.draw(outside(allowed), label="replacement")
    other = sorted(replacement if w == v else w for w in allowed)
    assert v not in other
    assert not verify_range(K, ct, other, context, proof)
    extra = data.draw(st.integers(13, 20), label="extra value")
    assert not verify_range(K, ct, [*allowed, extra], context, proof)
    assert not verify_range(K, ct, allowed[:-1], context, proof)


@settings(max_examples=40)
@given(
    K=points(),
    allowed=allowed_sets(),
    data=st.data(),
    r=nonzero_scalars(),
    context=RANGE_CONTEXT,
    seed=seeds(),
)
def test_range_proof_of_a_value_outside_the_set_fails(
    K: Point,  # noqa: N803
    allowed: list[int],
    data: st.DataObject,
    r: Scalar,
    context: tuple[HsItem, ...],
    seed: str,
) -> None:
    """A cheating prover encrypts ``v' ∉ allowed`` and runs the prover as if
    the ciphertext held an allowed ``v``: the proof does not verify."""
    v_real = data.draw(outside(allowed), label="v'")
    v_claimed = data.draw(st.sampled_from(allowed), label="claimed v")
    ct = encrypt(K, v_real, r)
    proof = prove_range(K, ct, r, v_claimed, allowed, context, SeededRandom(seed))
    assert not verify_range(K, ct, allowed, context, proof)


@settings(max_examples=30)
@given(
    K=points(),
    v=st.integers(0, 10),
    u=nonzero_scalars(),
    u2=nonzero_scalars(),
    z=nonzero_scalars(),
    context=RANGE_CONTEXT,
)
def test_range_proof_cannot_be_forged_by_choosing_the_ciphertext_last(
    K: Point,  # noqa: N803
    v: int,
    u: Scalar,
    u2: Scalar,
    z: Scalar,
    context: tuple[HsItem, ...],
) -> None:
    """The challenge hashes ``α`` and ``β`` (§5). Were it to hash only the
    commitments, a forger could fix ``a = u·G``, ``b = u2·G``, take ``c`` from
    them and then solve for ``(α, β)``, which would "prove" ``v`` for a
    ciphertext that is not an encryption of ``v`` (weak Fiat–Shamir)."""
    a, b = Point.base_mul(u), Point.base_mul(u2)
    c = Hs("istifta/1/range", *context, a, b)
    c_inv = c.inverse()
    alpha = (Point.base_mul(z) - a) * c_inv
    beta = Point.base_mul(Scalar(v)) + (K * z - b) * c_inv
    forged = (Proof(c, z),)
    assert not verify_range(K, Ciphertext(alpha, beta), [v], context, forged)


# -- Schnorr proofs of knowledge (§3, §5) ---------------------------------------


@settings(max_examples=40)
@given(x=nonzero_scalars(), context=SCHNORR_CONTEXT, seed=seeds(), data=st.data())
def test_schnorr_proof_verifies_and_binds_everything(
    x: Scalar, context: list[HsItem], seed: str, data: st.DataObject
) -> None:
    X = Point.base_mul(x)  # noqa: N806
    ctx = tuple(context)
    proof = prove_schnorr(x, TAG, ctx, SeededRandom(seed))
    assert verify_schnorr(X, TAG, ctx, proof)

    assert not verify_schnorr(X, TAG, ctx, tamper(data, proof))
    assert not verify_schnorr(other_point(data, X), TAG, ctx, proof)
    assert not verify_schnorr(X, TAG + "/other", ctx, proof)
    if ctx:
        assert not verify_schnorr(X, TAG, change_context(data, ctx), proof)
    assert not verify_schnorr(X, TAG, (*ctx, b""), proof)


@settings(max_examples=30)
@given(x=nonzero_scalars(), delta=nonzero_scalars(), seed=seeds())
def test_schnorr_proof_for_another_secret_fails(x: Scalar, delta: Scalar, seed: str) -> None:
    proof = prove_schnorr(x + delta, TAG, (), SeededRandom(seed))
    assert not verify_schnorr(Point.base_mul(x), TAG, (), proof)


# -- Chaum–Pedersen proofs of equal logarithms (§7) -----------------------------


@settings(max_examples=40)
@given(
    s=nonzero_scalars(),
    A=points_or_identity(),
    context=st.tuples(st.binary(min_size=32, max_size=32), st.integers(1, 64)),
    seed=seeds(),
    data=st.data(),
)
def test_dleq_proof_verifies_and_binds_everything(
    s: Scalar,
    A: Point,  # noqa: N803
    context: tuple[HsItem, ...],
    seed: str,
    data: st.DataObject,
) -> None:
    V = Point.base_mul(s)  # noqa: N806
    D, proof = prove_dleq(s, A, TAG, context, SeededRandom(seed))  # noqa: N806
    assert D == A * s
    assert verify_dleq(V, A, D, TAG, context, proof)

    assert not verify_dleq(V, A, D, TAG, context, tamper(data, proof))
    assert not verify_dleq(other_point(data, V), A, D, TAG, context, proof)
    assert not verify_dleq(V, A, other_point(data, D), TAG, context, proof)
    assert not verify_dleq(V, other_point(data, A), D, TAG, context, proof)
    assert not verify_dleq(V, A, D, TAG, change_context(data, context), proof)


@settings(max_examples=30)
@given(s=nonzero_scalars(), A=points(), w=nonzero_scalars(), u=nonzero_scalars())
def test_dleq_proof_cannot_be_forged_by_choosing_D_last(
    s: Scalar,
    A: Point,  # noqa: N803
    w: Scalar,
    u: Scalar,
) -> None:
    """The challenge hashes ``D`` (§7). Were it not to, a trustee could take
    ``a = w·G``, ``b = u·A``, ``c`` from them and ``z = w + c·s``, then publish
    ``D = c⁻¹·(z·A − b) ≠ s·A`` with a proof that holds: a wrong count."""
    V = Point.base_mul(s)  # noqa: N806
    a, b = Point.base_mul(w), A * u
    c = Hs(TAG, A, a, b)
    z = w + c * s
    D = (A * z - b) * c.inverse()  # noqa: N806
    assert (D == A * s) == (u == w)
    if u != w:
        assert not verify_dleq(V, A, D, TAG, (), Proof(c, z))


@settings(max_examples=20)
@given(s=nonzero_scalars(), seed=seeds())
def test_dleq_proof_for_the_identity(s: Scalar, seed: str) -> None:
    """A zero tally (``A`` the identity, §7) gives ``D`` the identity and a proof
    that still verifies, but only under the trustee's own ``V``."""
    D, proof = prove_dleq(s, IDENTITY, TAG, (), SeededRandom(seed))  # noqa: N806
    assert D.is_identity
    assert verify_dleq(Point.base_mul(s), IDENTITY, D, TAG, (), proof)
    assert not verify_dleq(Point.base_mul(s + Scalar(1)), IDENTITY, D, TAG, (), proof)


@settings(max_examples=30)
@given(s=nonzero_scalars(), delta=nonzero_scalars(), A=points(), seed=seeds())
def test_dleq_proof_of_a_wrong_share_fails(
    s: Scalar,
    delta: Scalar,
    A: Point,  # noqa: N803
    seed: str,
) -> None:
    """A trustee who decrypts with ``s + δ ≠ s_j`` cannot prove it against ``V_j``."""
    D, proof = prove_dleq(s + delta, A, TAG, (), SeededRandom(seed))  # noqa: N806
    assert not verify_dleq(Point.base_mul(s), A, D, TAG, (), proof)
