"""Segments and templates: what an SMS costs, in every language of Iraq."""

from __future__ import annotations

import pytest

from istifta.errors import DecodeError
from istifta.sms.segments import segments
from istifta.sms.templates import DEFAULTS, check_template, link, render

SHORT_LINK = link("https://ist.iq", "c24", "0" * 26)  # 45 characters


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("Vote now", "GSM-7", 8, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # 153 septets a part once split
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€[]{}|^~\\", "GSM-7", 18, 1),  # the extension table: two septets each
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("صوّت الآن", "UCS-2", 9, 1),
        ("ع" * 70, "UCS-2", 70, 1),
        ("ع" * 71, "UCS-2", 71, 2),  # 67 a part
        ("ع" * 134, "UCS-2", 134, 2),
        ("ع" * 135, "UCS-2", 135, 3),
        ("دەنگ بدە لە ڕاپرسیدا", "UCS-2", 20, 1),  # Sorani
        ("Dengê xwe bide: referandûm", "UCS-2", 26, 1),  # Kurmanji: ê and û are not GSM-7
        ("çok iyi", "UCS-2", 7, 1),  # only the capital Ç is in GSM-7 (TS 23.038), not ç
        ("Ça va", "GSM-7", 5, 1),
        ("👍", "UCS-2", 2, 1),  # outside the BMP: a surrogate pair
    ],
)
def test_segments(text: str, encoding: str, units: int, count: int) -> None:
    got = segments(text)
    assert (got.encoding, got.units, got.count) == (encoding, units, count)


@pytest.mark.parametrize("language", ["ar", "ckb", "en"])
def test_the_default_invitations_fit_one_segment_with_a_short_link(language: str) -> None:
    for kind in ("invitation", "reminder"):
        widest = {"link": SHORT_LINK, "title": "", "closes": "21 January 2024, 21:00 (GMT+03:00)"}
        counted = check_template(DEFAULTS[kind][language], widest, max_segments=1)
        assert counted.count == 1, (kind, language, counted)
    assert segments(render(DEFAULTS["invitation"][language], {"link": SHORT_LINK})).encoding == (
        "GSM-7" if language == "en" else "UCS-2"
    )


def test_a_template_too_long_is_refused_with_what_to_cut() -> None:
    long = "صوّت في الاستفتاء الوطني على إنهاء مهمة التحالف: {link}"
    with pytest.raises(DecodeError, match=r"takes 2 UCS-2 segments .* shorten it by \d+ characters"):
        check_template(long, {"link": SHORT_LINK}, max_segments=1)
    assert check_template(long, {"link": SHORT_LINK}, max_segments=2).count == 2


def test_a_template_must_carry_the_link_and_only_known_placeholders() -> None:
    with pytest.raises(DecodeError, match=r"must contain \{link\}"):
        check_template("صوّت الآن", {"link": SHORT_LINK}, 1)
    with pytest.raises(DecodeError, match=r"unknown placeholder \{name\}"):
        check_template("{name}: {link}", {"link": SHORT_LINK}, 1)


def test_the_link_keeps_the_code_in_the_fragment() -> None:
    assert link("https://ist.iq/", "c24", "ABC") == "https://ist.iq/c24#ABC"


def test_a_character_is_never_cut_between_two_parts() -> None:
    # 152 plain septets, then a two-septet "€": it cannot start in part 1's last septet.
    assert segments("a" * 152 + "€" + "a" * 152).count == 3
    assert segments("a" * 153 + "a" * 153).count == 2
    # 66 UCS-2 units, then an emoji's surrogate pair: it moves whole to part 2.
    assert segments("ع" * 66 + "👍" + "ع" * 66).count == 3
    assert segments("\x1b" + "a").encoding == "UCS-2"
