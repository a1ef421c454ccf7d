"""ristretto255 points and scalars (PROTOCOL.md §1, §9): RFC 9496 appendix A,
and decoding as the only way in from outside."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from istifta.crypto.group import IDENTITY, G, L, Point, Scalar, random_scalar, small_multiple
from istifta.errors import DecodeError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "rfc9496.json").read_text(encoding="utf-8")
)
MULTIPLES: list[str] = VECTORS["multiples_of_G"]["values"]
FROM_HASH: list[dict[str, str]] = VECTORS["from_hash"]["cases"]
INVALID: list[str] = VECTORS["invalid_encodings"]["values"]


def test_the_kept_vectors_are_the_whole_appendix() -> None:
    assert len(MULTIPLES) == 16
    assert len(FROM_HASH) == 7
    assert len(INVALID) == 20
    assert MULTIPLES[0] == "00" * 32
    assert G.hex() == MULTIPLES[1]
    assert IDENTITY.hex() == MULTIPLES[0]


# --- RFC 9496 A.1: multiples of the generator ---------------------------------------------


@pytest.mark.parametrize("k", range(16))
def test_base_mul_gives_the_rfc_encoding_of_k_G(k: int) -> None:
    assert Point.base_mul(Scalar(k)).hex() == MULTIPLES[k]


@pytest.mark.parametrize("k", range(16))
def test_variable_base_mul_and_small_multiple_agree_with_the_rfc(k: int) -> None:
    assert (G * Scalar(k)).hex() == MULTIPLES[k]
    assert (Scalar(k) * G).hex() == MULTIPLES[k]
    assert small_multiple(k).hex() == MULTIPLES[k]


def test_repeated_addition_walks_the_rfc_multiples() -> None:
    acc = IDENTITY
    for k, expected in enumerate(MULTIPLES):
        assert acc.hex() == expected, f"{k}·G"
        acc = acc + G


def test_zero_times_G_is_the_identity_although_libsodium_refuses_it() -> None:
    for zero in (Scalar(0), Scalar(L), Scalar(-L)):
        assert Point.base_mul(zero).is_identity
        assert (G * zero).is_identity
    assert small_multiple(0).is_identity


def test_scalars_are_reduced_before_multiplying() -> None:
    assert Point.base_mul(Scalar(L + 5)).hex() == MULTIPLES[5]
    assert Point.base_mul(Scalar(-1)) == -G


def test_small_multiple_beyond_its_cache_is_still_v_G() -> None:
    assert small_multiple(64) == Point.base_mul(Scalar(64))
    assert small_multiple(1000) == Point.base_mul(Scalar(1000))


@pytest.mark.parametrize("k", range(1, 16))
def test_every_rfc_multiple_decodes_to_itself(k: int) -> None:
    point = Point.decode(bytes.fromhex(MULTIPLES[k]))
    assert point.hex() == MULTIPLES[k]
    assert point == Point.base_mul(Scalar(k))
    assert Point.from_hex(MULTIPLES[k]) == point


# --- RFC 9496 A.3: hash to group ----------------------------------------------------------


@pytest.mark.parametrize("case", FROM_HASH, ids=lambda c: c["label"][:24])
def test_from_hash_of_sha512_label_gives_the_rfc_point(case: dict[str, str]) -> None:
    digest = hashlib.sha512(case["label"].encode("utf-8")).digest()
    assert Point.from_hash(digest).hex() == case["point"]


@pytest.mark.parametrize("length", [0, 32, 63, 65])
def test_from_hash_wants_exactly_64_bytes(length: int) -> None:
    with pytest.raises(DecodeError, match="64 bytes"):
        Point.from_hash(bytes(length))


# --- RFC 9496 A.2: invalid encodings ------------------------------------------------------


@pytest.mark.parametrize("encoding", INVALID)
@pytest.mark.parametrize("allow_identity", [False, True])
def test_every_rfc_invalid_encoding_is_rejected(encoding: str, allow_identity: bool) -> None:
    with pytest.raises(DecodeError, match="ballot.credential: not a canonical"):
        Point.decode(bytes.fromhex(encoding), "ballot.credential", allow_identity=allow_identity)
    with pytest.raises(DecodeError, match="not a canonical"):
        Point.from_hex(encoding, allow_identity=allow_identity)


def test_the_identity_is_refused_unless_allowed() -> None:
    with pytest.raises(DecodeError, match="public_key: the identity element is not allowed"):
        Point.decode(bytes(32), "public_key")
    with pytest.raises(DecodeError, match="identity"):
        Point.from_hex("00" * 32)
    decoded = Point.decode(bytes(32), allow_identity=True)
    assert decoded == IDENTITY
    assert decoded.is_identity
    assert Point.from_hex("00" * 32, allow_identity=True).is_identity


# --- text from outside: length, hex, case and type ----------------------------------------


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("ab" * 31, "expected 64 hex characters, got 62"),
        ("ab" * 33, "expected 64 hex characters, got 66"),
        ("", "expected 64 hex characters, got 0"),
        ("zz" + MULTIPLES[2][2:], "lowercase hex"),
        (MULTIPLES[2].upper(), "lowercase hex"),
        (MULTIPLES[2][:-1] + "F", "lowercase hex"),
        (" " + MULTIPLES[2][1:], "lowercase hex"),
        (42, "expected a string of 64 hex characters, got int"),
        (None, "got null"),
        (bytes.fromhex(MULTIPLES[2]), "got bytes"),
        ([MULTIPLES[2]], "got list"),
    ],
)
def test_bad_point_text_is_refused_naming_the_field(text: object, complaint: str) -> None:
    with pytest.raises(DecodeError) as info:
        Point.from_hex(text, "ballot.answers[0].choices[1].beta")
    message = str(info.value)
    assert message.startswith("ballot.answers[0].choices[1].beta: ")
    assert complaint in message


@pytest.mark.parametrize(
    "text", ["ab" * 31, Scalar(0xABC).hex().upper(), 7, None, "g" * 64, Scalar(7).to_bytes()]
)
def test_bad_scalar_text_is_refused_naming_the_field(text: object) -> None:
    with pytest.raises(DecodeError, match=r"^ballot\.signature\.z: "):
        Scalar.from_hex(text, "ballot.signature.z")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_point_decode_wants_32_bytes(length: int) -> None:
    with pytest.raises(DecodeError, match=f"credential: expected 32 bytes, got {length}"):
        Point.decode(b"\x01" * length, "credential", allow_identity=True)


# --- scalars ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [L, L + 1, 2**255, 2**256 - 1])
def test_scalar_decode_refuses_values_of_l_and_above(value: int) -> None:
    with pytest.raises(DecodeError, match="pok.z: not reduced modulo the group order"):
        Scalar.decode(value.to_bytes(32, "little"), "pok.z")
    with pytest.raises(DecodeError, match="not reduced"):
        Scalar.from_hex(value.to_bytes(32, "little").hex())


@pytest.mark.parametrize("value", [0, 1, 2**252, L - 1])
def test_scalar_decode_accepts_values_below_l_little_endian(value: int) -> None:
    data = value.to_bytes(32, "little")
    s = Scalar.decode(data)
    assert s.value == value
    assert s.to_bytes() == data
    assert Scalar.from_hex(data.hex()) == s
    assert s.hex() == data.hex()


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_scalar_decode_wants_32_bytes(length: int) -> None:
    with pytest.raises(DecodeError, match=f"c: expected 32 bytes, got {length}"):
        Scalar.decode(bytes(length), "c")


def test_scalar_little_endian_layout() -> None:
    assert Scalar(1).to_bytes() == b"\x01" + bytes(31)
    assert Scalar(256).hex() == "0001" + "00" * 30
    assert Scalar(L - 1).to_bytes()[-1] == 0x10


def test_scalar_arithmetic_is_mod_l() -> None:
    assert Scalar(L).value == 0
    assert Scalar(-1).value == L - 1
    assert Scalar(L - 1) + Scalar(2) == Scalar(1)
    assert Scalar(3) - Scalar(5) == Scalar(L - 2)
    assert Scalar(L - 1) * Scalar(L - 1) == Scalar(1)
    assert -Scalar(1) == Scalar(L - 1)
    assert -Scalar(0) == Scalar(0)
    assert Scalar(2**255).value == 2**255 % L
    assert Scalar(5) == Scalar(5 + 3 * L)
    assert len({Scalar(1), Scalar(1 + L), Scalar(1 - L)}) == 1


@pytest.mark.parametrize("value", [1, 2, 7, L - 1, 2**200 + 12345])
def test_scalar_inverse(value: int) -> None:
    assert Scalar(value) * Scalar(value).inverse() == Scalar(1)


def test_zero_has_no_inverse() -> None:
    with pytest.raises(ZeroDivisionError):
        Scalar(L).inverse()


def test_from_wide_reduces_64_bytes_little_endian() -> None:
    data = bytes(range(64))
    assert Scalar.from_wide(data).value == int.from_bytes(data, "little") % L
    assert Scalar.from_wide(b"\xff" * 64).value == (2**512 - 1) % L


def test_random_scalar_reads_64_bytes_and_reduces_them() -> None:
    asked: list[int] = []

    def rng(n: int) -> bytes:
        asked.append(n)
        return b"\xff" * n

    assert random_scalar(rng).value == (2**512 - 1) % L
    assert asked == [64]


def test_scalar_repr_never_shows_its_value() -> None:
    secret = Scalar(0x1234567890ABCDEF)
    text = repr(secret) + str(secret) + f"{secret!r}"
    for shown in (str(secret.value), secret.hex(), hex(secret.value), "1234567890"):
        assert shown not in text.lower()
    assert "1234567890abcdef" not in repr([secret, {"k": secret}]).lower()


def test_values_are_immutable() -> None:
    s = Scalar(5)
    with pytest.raises(AttributeError):
        s.value = 6
    with pytest.raises(AttributeError):
        G._enc = bytes(32)
    assert s.value == 5
    assert G.hex() == MULTIPLES[1]


# --- point arithmetic ---------------------------------------------------------------------

P5 = Point.base_mul(Scalar(5))
P7 = Point.base_mul(Scalar(7))
PH = Point.from_hash(hashlib.sha512(b"an arbitrary point").digest())


@pytest.mark.parametrize("P", [G, P5, PH])
def test_a_point_plus_its_negation_is_the_identity(P: Point) -> None:  # noqa: N803
    assert (P + (-P)).is_identity
    assert (P - P).is_identity
    negated = -P
    assert -negated == P
    assert negated != P
    assert P + IDENTITY == P
    assert IDENTITY + P == P


@pytest.mark.parametrize("P", [G, P5, PH])
def test_zero_times_a_point_and_anything_times_the_identity(P: Point) -> None:  # noqa: N803
    assert (P * Scalar(0)).is_identity
    assert (IDENTITY * Scalar(12345)).is_identity
    assert (IDENTITY * Scalar(0)).is_identity
    assert P * Scalar(1) == P
    assert P * Scalar(L - 1) == -P


def test_point_addition_is_associative_and_commutative() -> None:
    assert (G + P5) + PH == G + (P5 + PH)
    assert (P5 + P7) + PH == P5 + (P7 + PH)
    assert P5 + PH == PH + P5
    assert P5 + P7 == Point.base_mul(Scalar(12))
    assert P7 - P5 == Point.base_mul(Scalar(2))
    assert P5 - P7 == -Point.base_mul(Scalar(2))


def test_scalar_multiplication_distributes() -> None:
    a, b = Scalar(2**200 + 3), Scalar(L - 17)
    assert Point.base_mul(a + b) == Point.base_mul(a) + Point.base_mul(b)
    assert Point.base_mul(a * b) == Point.base_mul(a) * b
    assert PH * (a + b) == PH * a + PH * b
    assert (PH * a) * b == (PH * b) * a


def test_equality_and_hashing_of_points() -> None:
    assert Point.from_hex(MULTIPLES[3]) == G + G + G
    assert G != P5
    assert G != G.hex()
    assert len({G, Point.from_hex(MULTIPLES[1]), P5}) == 2


@pytest.mark.parametrize("k", [0, 1, 2, 7])
def test_an_encoding_with_the_top_bit_set_is_refused(k: int) -> None:
    """libsodium 1.0.18 ignores bit 255, so without istifta's own check every
    point (the identity included) would have a second encoding: a second
    tracker for the same ballot, or an identity ``α`` in disguise."""
    encoding = bytearray(small_multiple(k).to_bytes())
    encoding[31] |= 0x80
    with pytest.raises(DecodeError, match="canonical"):
        Point.decode(bytes(encoding), allow_identity=True)
    with pytest.raises(DecodeError, match="canonical"):
        Point.from_hex(bytes(encoding).hex(), allow_identity=True)
