"""Voters' credential codes (PROTOCOL.md §4): 26 Crockford base32 characters,
read forgivingly, refused without ever being repeated."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from istifta.crypto.credentials import (
    CODE_LENGTH,
    credential_secret,
    new_code,
    normalise_code,
    public_credential,
)
from istifta.crypto.group import L, Point, RandomSource, Scalar
from istifta.errors import CredentialError, DecodeError
from istifta.protocol.manifest import parse_manifest
from istifta.testing import manifest_json

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MANIFEST_HASH = bytes.fromhex(parse_manifest(manifest_json()).manifest_hash)
OTHER_MANIFEST_HASH = bytes.fromhex(parse_manifest(manifest_json(slug="another")).manifest_hash)
CODE = "0123456789ABCDEFGHJKMNPQRS"  # the alphabet's first 26 characters: a valid code


def fixed(data: bytes) -> tuple[list[int], RandomSource]:
    asked: list[int] = []

    def rng(n: int) -> bytes:
        asked.append(n)
        return data[:n]

    return asked, rng


def crockford_decode(code: str) -> int:
    value = 0
    for ch in code:
        value = value * 32 + CROCKFORD.index(ch)
    return value


def reference_x(manifest_hash: bytes, code: str) -> int:
    h = hashlib.sha512()
    for part in (b"istifta/1/credential", manifest_hash, code.encode("ascii")):
        h.update(len(part).to_bytes(4, "big") + part)
    return int.from_bytes(h.digest(), "little") % L


# --- new codes ----------------------------------------------------------------------------


def test_new_code_reads_16_bytes_big_endian() -> None:
    asked, rng = fixed(bytes(16))
    assert new_code(rng) == "0" * 26
    assert asked == [16]
    _, rng = fixed(b"\xff" * 16)
    assert new_code(rng) == "7" + "Z" * 25
    _, rng = fixed((1).to_bytes(16, "big"))
    assert new_code(rng) == "0" * 25 + "1"
    _, rng = fixed((32).to_bytes(16, "big"))
    assert new_code(rng) == "0" * 24 + "10"


@given(st.binary(min_size=16, max_size=16))
def test_new_code_is_26_crockford_characters_starting_0_to_7(data: bytes) -> None:
    code = new_code(lambda n: data[:n])
    assert len(code) == CODE_LENGTH == 26
    assert set(code) <= set(CROCKFORD)
    assert code[0] in "01234567"
    assert crockford_decode(code) == int.from_bytes(data, "big")
    assert normalise_code(code) == code


# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        CODE.lower(),
        "0123-4567-89AB-CDEF-GHJK-MNPQ-RS",
        "0123 4567 89ab cdef ghjk mnpq rs",
        " 01234 56789 ABCDE FGHJK MNPQR S ",
        "O123456789ABCDEFGHJKMNPQRS",
        "o123456789abcdefghjkmnpqrs",
        "0I23456789ABCDEFGHJKMNPQRS",
        "0i23456789ABCDEFGHJKMNPQRS",
        "0L23456789ABCDEFGHJKMNPQRS",
        "0l23-4567-89ab-cdef-ghjk-mnpq-rs",
    ],
)
def test_a_code_typed_by_hand_gives_the_same_x(typed: str) -> None:
    assert normalise_code(typed) == CODE
    x = credential_secret(MANIFEST_HASH, typed)
    assert x == credential_secret(MANIFEST_HASH, CODE)
    assert x.value == reference_x(MANIFEST_HASH, CODE)


@pytest.mark.parametrize(
    ("typed", "complaint"),
    [
        (CODE[:-1], "26 characters; this one has 25"),
        (CODE + "T", "26 characters; this one has 27"),
        ("", "this one has 0"),
        (CODE[:10] + "U" + CODE[11:], "character 11"),
        (CODE[:10] + "u" + CODE[11:], "character 11"),
        (CODE[:25] + "*", "character 26"),
        (CODE[:5] + "é" + CODE[6:], "character 6"),
        ("8" + CODE[1:], "first character must be 0-7"),
        ("Z" + CODE[1:], "first character must be 0-7"),
    ],
)
def test_a_bad_code_is_refused_without_repeating_it(typed: str, complaint: str) -> None:
    with pytest.raises(CredentialError) as info:
        credential_secret(MANIFEST_HASH, typed)
    message = str(info.value)
    assert complaint in message
    compact = typed.upper().replace("-", "").replace(" ", "")
    for start in range(max(len(compact) - 7, 0)):
        assert compact[start : start + 8] not in message.upper()
    assert isinstance(info.value, DecodeError)


# --- x and P ------------------------------------------------------------------------------


def test_x_and_p_differ_across_manifests() -> None:
    x1 = credential_secret(MANIFEST_HASH, CODE)
    x2 = credential_secret(OTHER_MANIFEST_HASH, CODE)
    assert x1 != x2
    assert x2.value == reference_x(OTHER_MANIFEST_HASH, CODE)
    assert public_credential(x1) != public_credential(x2)


def test_different_codes_give_different_credentials() -> None:
    other = "0" * 25 + "1"
    assert public_credential(credential_secret(MANIFEST_HASH, CODE)) != public_credential(
        credential_secret(MANIFEST_HASH, other)
    )


def test_p_is_x_times_g_and_never_the_identity() -> None:
    x = credential_secret(MANIFEST_HASH, CODE)
    P = public_credential(x)  # noqa: N806
    assert P == Point.base_mul(x)
    assert not P.is_identity
    with pytest.raises(CredentialError, match="zero"):
        public_credential(Scalar(L))
