"""Exponential ElGamal (PROTOCOL.md §1) is additively homomorphic, and a sum
decrypts, by the joint secret, to the sum of the plaintexts (§7)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from istifta.crypto.dlog import DlogTable
from istifta.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext, encrypt, sum_ciphertexts
from istifta.crypto.group import IDENTITY, G, Point, Scalar
from istifta.crypto.threshold import lagrange
from istifta.testing import Election

from .strategies import nonzero_scalars, points, scalars

SMALL = 60
TABLE = DlogTable(2 * SMALL)
messages = st.integers(0, SMALL)


def decrypt(ct: Ciphertext, secret: Scalar) -> int | None:
    """``β − k·α = m·G``, then ``m`` by baby-step giant-step."""
    return TABLE.solve(ct.beta - ct.alpha * secret)


@settings(max_examples=40)
@given(K=points(), m1=messages, m2=messages, r1=scalars(), r2=scalars())
def test_sum_of_encryptions_encrypts_the_sum(
    K: Point,  # noqa: N803
    m1: int,
    m2: int,
    r1: Scalar,
    r2: Scalar,
) -> None:
    assert encrypt(K, m1, r1) + encrypt(K, m2, r2) == encrypt(K, m1 + m2, r1 + r2)


@settings(max_examples=40)
@given(K=points(), m=messages, r=scalars())
def test_encryption_is_the_formula(K: Point, m: int, r: Scalar) -> None:  # noqa: N803
    """``(α, β) = (r·G, m·G + r·K)``, with ``0·G`` never asked of libsodium."""
    ct = encrypt(K, m, r)
    assert ct.alpha == Point.base_mul(r)
    assert ct.beta == Point.base_mul(Scalar(m)) + K * r
    assert ct.alpha.is_identity == (r.value == 0)


@settings(max_examples=30)
@given(
    K=points(),
    plain=st.lists(st.tuples(messages, scalars()), min_size=0, max_size=6),
)
def test_sum_ciphertexts_folds_the_homomorphism(
    K: Point,  # noqa: N803
    plain: list[tuple[int, Scalar]],
) -> None:
    cts = [encrypt(K, m, r) for m, r in plain]
    total_m = sum(m for m, _ in plain)
    total_r = Scalar(sum(r.value for _, r in plain))
    assert sum_ciphertexts(cts) == encrypt(K, total_m, total_r)
    assert sum_ciphertexts([]) == ZERO_CIPHERTEXT == Ciphertext(IDENTITY, IDENTITY)


@settings(max_examples=40)
@given(k=nonzero_scalars(), m1=messages, m2=messages, r1=scalars(), r2=scalars())
def test_sum_decrypts_with_a_direct_key(k: Scalar, m1: int, m2: int, r1: Scalar, r2: Scalar) -> None:
    K = Point.base_mul(k)  # noqa: N806
    c1, c2 = encrypt(K, m1, r1), encrypt(K, m2, r2)
    assert decrypt(c1, k) == m1
    assert decrypt(c2, k) == m2
    assert decrypt(c1 + c2, k) == m1 + m2


@settings(max_examples=30)
@given(
    data=st.data(),
    m1=messages,
    m2=messages,
    r1=nonzero_scalars(),
    r2=nonzero_scalars(),
)
def test_sum_decrypts_with_the_trustees_joint_secret(
    yes_no: Election,
    data: st.DataObject,
    m1: int,
    m2: int,
    r1: Scalar,
    r2: Scalar,
) -> None:
    """Any ``t`` trustees' shares interpolate (§7) to the secret behind ``K``."""
    params = yes_no.params
    t = params.manifest.threshold
    indices = data.draw(
        st.lists(st.sampled_from(sorted(yes_no.shares)), min_size=t, max_size=t, unique=True),
        label="trustees",
    )
    secret = Scalar(sum((lagrange(indices, j) * yes_no.shares[j]).value for j in indices))
    assert Point.base_mul(secret) == params.public_key
    ct = encrypt(params.public_key, m1, r1) + encrypt(params.public_key, m2, r2)
    assert decrypt(ct, secret) == m1 + m2


@settings(max_examples=30)
@given(n=st.integers(0, 2 * SMALL), extra=st.integers(1, 1000))
def test_dlog_table_finds_exactly_the_counts_in_its_bound(n: int, extra: int) -> None:
    assert TABLE.solve(Point.base_mul(Scalar(n))) == n
    assert TABLE.solve(Point.base_mul(Scalar(TABLE.bound + extra))) is None
    assert TABLE.solve(-G) is None  # −1 is ℓ − 1, far outside any bound
