"""The pages people read, server-rendered: language and direction, digits,
the closed-referendum message, the board search, the result's charts, and the
security headers every response carries."""

from __future__ import annotations

import re

import pytest

from istifta.protocol.ballot import build_ballot
from istifta.protocol.tally import partial_decrypt

from .conftest import Live

ARABIC_INDIC = re.compile("[٠-٩]")


def html_tag(page: str) -> str:
    match = re.search(r"<html[^>]*>", page)
    assert match
    return match.group(0)


@pytest.mark.parametrize(
    ("query", "lang", "direction", "title"),
    [
        ("", "ar", "rtl", "استفتاء تجريبي"),
        ("?lang=ckb", "ckb", "rtl", "ڕاپرسیی تاقیکردنەوە"),
        ("?lang=en", "en", "ltr", "Test referendum"),
    ],
)
def test_the_ballot_page_speaks_the_voters_language(
    live_sqlite: Live, query: str, lang: str, direction: str, title: str
) -> None:
    page = live_sqlite.client.get(f"/v/{live_sqlite.slug}{query}")
    assert page.status_code == 200
    assert f'lang="{lang}"' in html_tag(page.text) and f'dir="{direction}"' in html_tag(page.text)
    assert title in page.text
    assert ('type="radio"' in page.text) and 'name="q0"' in page.text
    assert "<script>" not in page.text and 'src="/static/js/ballot.js"' in page.text
    schedule = re.search(r'<p class="schedule">(.*?)</p>', page.text, re.S)
    assert schedule and bool(ARABIC_INDIC.search(schedule.group(1))) == (lang != "en")


def test_a_language_chosen_once_is_remembered(live_sqlite: Live) -> None:
    live_sqlite.client.get(f"/r/{live_sqlite.slug}?lang=ckb")
    page = live_sqlite.client.get(f"/r/{live_sqlite.slug}")
    assert 'lang="ckb"' in html_tag(page.text)


def test_every_control_on_the_ballot_page_has_a_label(live_sqlite: Live) -> None:
    page = live_sqlite.client.get(f"/v/{live_sqlite.slug}?lang=en").text
    for control in re.findall(r"<(?:input|textarea|select)\b[^>]*>", page):
        named = re.search(r'\bid="([^"]+)"', control)
        wrapped = re.search(r'type="(?:radio|checkbox)"', control)
        assert wrapped or (named and f'for="{named.group(1)}"' in page), control
    for button in re.findall(r"<button\b[^>]*>(.*?)</button>", page, re.S):
        assert button.strip(), "a button without text"


def test_a_closed_referendum_says_so_on_the_ballot_page(live_sqlite: Live) -> None:
    live_sqlite.refs.close(live_sqlite.slug)
    page = live_sqlite.client.get(f"/v/{live_sqlite.slug}?lang=en").text
    assert "This referendum is closed: no more ballots are accepted." in page
    assert 'id="ballot"' not in page


def test_an_unknown_referendum_is_a_clear_404_page(live_sqlite: Live) -> None:
    page = live_sqlite.client.get("/v/no-such-vote?lang=en")
    assert page.status_code == 404
    assert "There is no such referendum on this server." in page.text


def test_the_board_finds_a_ballot_by_its_short_tracker(live_sqlite: Live) -> None:
    o = live_sqlite.opened
    body = build_ballot(o.params, o.codes[0], [[1]], live_sqlite.rng).to_json()
    tracker = live_sqlite.refs.cast(o.slug, body).tracker
    assert tracker
    short = f"{tracker[:4].upper()} {tracker[4:8].upper()}"
    found = live_sqlite.client.get(f"/r/{o.slug}/board", params={"tracker": short}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/r/{o.slug}/board/1"
    entry = live_sqlite.client.get(found.headers["location"] + "?lang=en").text
    assert tracker in entry and "Yes, unless the same voter votes again." in entry
    missing = live_sqlite.client.get(f"/r/{o.slug}/board", params={"tracker": "00000000", "lang": "en"})
    assert "No ballot, or more than one, has a tracker starting with 00000000" in missing.text


def test_the_result_page_draws_counts_and_turnout_as_svg(live_sqlite: Live) -> None:
    o, refs = live_sqlite.opened, live_sqlite.refs
    for voter, choice in enumerate([0, 0, 1]):
        refs.cast(o.slug, build_ballot(o.params, o.codes[voter], [[choice]], live_sqlite.rng).to_json())
    refs.close(o.slug)
    tally = refs.tally(o.slug)
    for j in (2, 3):
        refs.add_partial_decryption(
            o.slug, partial_decrypt(o.params, tally, j, o.shares[j], live_sqlite.rng).to_json()
        )
    refs.publish_result(o.slug)
    page = live_sqlite.client.get(f"/r/{o.slug}/result?lang=en").text
    assert page.count("<svg") == 2
    # Closed before the scheduled time: no "closes" at a time still to come, but when it closed.
    ballot_page = live_sqlite.client.get(f"/v/{o.slug}?lang=en").text
    assert "Voting opened" in ballot_page and "and closed" in ballot_page and "and closes" not in ballot_page
    assert "وانتهى في" in live_sqlite.client.get(f"/r/{o.slug}?lang=ar").text
    assert "<td>yes</td><td>2 (66.7%)</td>" in page and "<td>no</td><td>1 (33.3%)</td>" in page
    assert "Baghdad: 33.3% (1 / 3)" in page  # the turnout chart's description, for screen readers
    arabic = live_sqlite.client.get(f"/r/{o.slug}/result?lang=ar").text
    assert "٦٦٫٧٪" in arabic
    assert "بغداد: ٣٣٫٣٪ (١ / ٣)" in arabic and "Baghdad" not in arabic  # the governorate in Arabic
    sorani = live_sqlite.client.get(f"/r/{o.slug}/result?lang=ckb").text
    assert "بەغدا" in sorani and "Baghdad" not in sorani


@pytest.mark.parametrize("path", ["/", "/v/{slug}", "/api/referendums", "/static/css/site.css", "/nowhere"])
def test_every_response_carries_the_security_headers(live_sqlite: Live, path: str) -> None:
    answer = live_sqlite.client.get(path.format(slug=live_sqlite.slug))
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_the_api_is_described_by_openapi(live_sqlite: Live) -> None:
    schema = live_sqlite.client.get("/api/openapi.json").json()
    assert "/api/referendums/{slug}/ballots" in schema["paths"]
    docs = live_sqlite.client.get("/api/docs?lang=en").text
    assert "/api/referendums/{slug}/proofs/consistency" in docs
