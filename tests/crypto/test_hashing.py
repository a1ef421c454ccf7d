"""``enc``, ``Hs``, ``jcs`` and ``jhash`` (PROTOCOL.md §1), each checked against
an encoding computed independently here from hashlib and the RFCs."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from istifta.crypto.group import G, L, Point, Scalar
from istifta.crypto.hashing import Hs, enc, jcs, jcs_plain, jhash, sha256


def reference_hs(tag: bytes, *items: bytes) -> int:
    """SHA-512 over 4-byte big-endian length-prefixed parts, read little-endian, mod ℓ."""
    h = hashlib.sha512()
    for part in (tag, *items):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return int.from_bytes(h.digest(), "little") % L


# --- enc ----------------------------------------------------------------------------------


def test_enc_prefixes_a_4_byte_big_endian_length() -> None:
    assert enc(b"") == b"\x00\x00\x00\x00"
    assert enc(b"abc") == b"\x00\x00\x00\x03abc"
    assert enc(bytes(300)) == b"\x00\x00\x01\x2c" + bytes(300)
    assert enc(b"\xff" * 70000)[:4] == (70000).to_bytes(4, "big")


# --- Hs -----------------------------------------------------------------------------------


def test_hs_with_only_a_tag() -> None:
    assert Hs("istifta/1/test").value == reference_hs(b"istifta/1/test")


def test_hs_encodes_each_kind_of_item_as_the_protocol_says() -> None:
    P = Point.base_mul(Scalar(9))  # noqa: N806
    s = Scalar(2**250 + 77)
    manifest_hash = hashlib.sha256(b"a manifest").digest()
    got = Hs("istifta/1/range", manifest_hash, P, 3, 2**32 - 1, "نعم", s, G)
    expected = reference_hs(
        b"istifta/1/range",
        manifest_hash,
        P.to_bytes(),
        (3).to_bytes(8, "big"),
        b"\x00\x00\x00\x00\xff\xff\xff\xff",
        "نعم".encode(),
        s.value.to_bytes(32, "little"),
        bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"),
    )
    assert got.value == expected


@pytest.mark.parametrize("n", [0, 1, 255, 2**32, 2**64 - 1])
def test_hs_integers_are_8_bytes_big_endian(n: int) -> None:
    assert Hs("t", n).value == reference_hs(b"t", n.to_bytes(8, "big"))


def test_hs_items_are_length_delimited() -> None:
    assert Hs("t", "ab", "c") != Hs("t", "a", "bc")
    assert Hs("t", b"") != Hs("t")
    assert Hs("ta", "b") != Hs("t", "ab")


def test_hs_kinds_do_not_collide() -> None:
    assert Hs("t", 1) != Hs("t", b"\x01")
    assert Hs("t", 1) != Hs("t", "1")
    assert Hs("t", 1) == Hs("t", b"\x00" * 7 + b"\x01")
    assert Hs("t", Scalar(1)) == Hs("t", b"\x01" + bytes(31))


@pytest.mark.parametrize("bad", [-1, 2**64, 2**70, True, False])
def test_hs_refuses_integers_it_cannot_write_in_8_bytes_and_booleans(bad: int) -> None:
    with pytest.raises(ValueError, match="8-byte"):
        Hs("t", bad)


def test_hs_tags_are_ascii() -> None:
    with pytest.raises(ValueError):
        Hs("وسم")


def test_hs_is_reduced_below_l() -> None:
    for i in range(50):
        assert 0 <= Hs("t", i).value < L


# --- jcs ----------------------------------------------------------------------------------


def test_jcs_rfc8785_section_3_2_2_example() -> None:
    value = {
        "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
        "literals": [None, True, False],
    }
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert jcs(value) == expected.encode("utf-8")


def test_jcs_sorts_keys_by_utf16_code_units_rfc8785_section_3_2_3() -> None:
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    text = jcs(value).decode("utf-8")
    positions = [text.index(v) for v in order]
    assert positions == sorted(positions)


def test_jcs_keeps_arabic_and_kurdish_text_as_utf8() -> None:
    value = {"title": {"ar": "استفتاء", "ckb": "ڕاپرسی"}, "b": [1, "نعم"], "a": None}
    assert jcs(value) == '{"a":null,"b":[1,"نعم"],"title":{"ar":"استفتاء","ckb":"ڕاپرسی"}}'.encode()
    assert b"\\u" not in jcs(value)
    assert jcs_plain(value) == jcs(value)


def test_jcs_does_not_depend_on_key_order() -> None:
    assert jcs({"b": 1, "a": {"d": 2, "c": 3}}) == b'{"a":{"c":3,"d":2},"b":1}'
    assert jcs({"a": {"c": 3, "d": 2}, "b": 1}) == jcs({"b": 1, "a": {"d": 2, "c": 3}})


JSON_TEXT = st.text(alphabet=st.characters(codec="utf-8"))  # any text but lone surrogates
JSON_KEYS = st.text(alphabet=st.characters(max_codepoint=127))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(JSON_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300)
@given(JSON_VALUES)
def test_jcs_plain_is_rfc8785_for_the_values_istifta_builds(value: Any) -> None:
    assert jcs_plain(value) == rfc8785.dumps(value)


# --- jhash and sha256 ---------------------------------------------------------------------


def test_jhash_is_lowercase_hex_sha256_of_jcs() -> None:
    value: dict[str, Any] = {"b": [1, 2], "a": "نعم"}
    expected = hashlib.sha256('{"a":"نعم","b":[1,2]}'.encode()).hexdigest()
    assert jhash(value) == expected
    assert jhash({"a": "نعم", "b": [1, 2]}) == expected
    assert jhash(value) == hashlib.sha256(rfc8785.dumps(value)).hexdigest()
    assert jhash(value) == jhash(value).lower()
    assert len(jhash(value)) == 64


def test_jhash_of_the_empty_object() -> None:
    assert jhash({}) == hashlib.sha256(b"{}").hexdigest()
    assert jhash({}) != jhash([])


def test_sha256_is_raw_bytes() -> None:
    assert sha256(b"") == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
