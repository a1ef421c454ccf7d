"""A voter on a phone: vote in Arabic, vote again in Kurdish, find the tracker
on the board, check the encryption, meet a closed referendum, vote with the
keyboard alone."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, Route, expect
from typer.testing import CliRunner

from istifta.cli import app
from istifta.crypto.group import Point
from istifta.i18n import translator
from istifta.protocol.ballot import parse_ballot, verify_ballot
from istifta.web.pages.messages import script_messages

from .conftest import Site, artifacts


def vote(page: Page, label: str) -> str:
    """Choose ``label``, cast, and return the short tracker the page shows."""
    page.get_by_label(label, exact=True).check()
    page.locator("#cast").click()
    expect(page.locator("#receipt")).to_be_visible(timeout=20_000)
    expect(page.locator("#receipt-check")).to_have_class("good")
    return page.locator("#tracker-short").inner_text()


def board_ballot(site: Site, index: int) -> dict[str, object]:
    entry = json.loads(site.refs.record(site.opened.slug).board[index])
    ballot: dict[str, object] = entry["ballot"]
    return ballot


def test_vote_in_arabic_then_again_in_kurdish(site: Site, page: Page) -> None:
    page.goto(site.link(0))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("#ballot")).to_be_visible()
    page.screenshot(path=artifacts() / "ballot-ar.png", full_page=True)
    short = vote(page, "نعم")
    full = page.locator("#tracker-full").inner_text()
    assert short.replace(" ", "").lower() == full[:8]
    page.screenshot(path=artifacts() / "receipt-ar.png", full_page=True)

    # The ballot built by the browser verifies in Python, as any verifier's would.
    params = site.opened.params
    ballot = parse_ballot(board_ballot(site, 1))
    verify_ballot(params, ballot, lambda P: True)
    assert ballot.tracker == full

    page.goto(site.link(0, "ckb"))
    expect(page.locator("html")).to_have_attribute("lang", "ckb")
    already = script_messages(translator("ckb", "Asia/Baghdad"))["already_voted"]
    expect(page.locator("#status")).to_have_text(already, timeout=20_000)
    page.screenshot(path=artifacts() / "ballot-ckb.png", full_page=True)
    vote(page, "نەخێر")
    second = page.locator("#tracker-full").inner_text()
    credential: Point = ballot.credential
    mine = site.refs.record(site.opened.slug).board
    assert len(mine) == 3 and second != full
    assert json.loads(mine[2])["ballot"]["credential"] == credential.hex()

    page.goto(site.link(0).replace("/v/coalition-2024", "/v/coalition-2024/status"))
    expect(page.locator("#mine-ballots li")).to_have_count(2, timeout=20_000)
    expect(page.locator("#mine-ballots li.good")).to_contain_text(second[:4].upper())


def test_find_the_tracker_on_the_board(site: Site, page: Page) -> None:
    page.goto(site.link(1, "en"))
    short = vote(page, "Yes")
    page.get_by_role("link", name="See it on the board").click()
    expect(page.locator(".tracker-full")).to_have_text(page.locator(".tracker-full").inner_text())
    page.goto(f"{site.url}/r/{site.opened.slug}/board?lang=en")
    page.get_by_label("Find a ballot by its tracker").fill(short)
    page.get_by_role("button", name="Find").click()
    expect(page.locator("h1")).to_have_text("Entry 1")
    assert page.locator(".tracker-full").inner_text()[:8] == short.replace(" ", "").lower()


def test_check_the_encryption_then_vote(site: Site, page: Page, tmp_path: Path) -> None:
    page.goto(site.link(2, "en"))
    page.get_by_label("No", exact=True).check()
    page.locator("#audit").click()
    expect(page.locator("#audit-result")).to_be_visible()
    expect(page.locator("#audit-verdict")).to_have_class("good")
    expect(page.locator("#audit-choices")).to_contain_text("No")
    with page.expect_download() as download:
        page.locator("#audit-download").click()
    saved = tmp_path / "istifta-check.json"
    download.value.save_as(saved)

    # On another device: the check page, then the command line.
    other = page.context.new_page()
    other.goto(f"{site.url}/check?lang=en")
    other.locator("#check-file").set_input_files(saved)
    other.get_by_role("button", name="Check", exact=True).click()
    expect(other.locator("#check-verdict")).to_have_class("good")
    expect(other.locator("#check-choices")).to_contain_text("No")
    result = CliRunner().invoke(app, ["verify-audit", str(saved), "--server", site.url])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "No" in result.output

    # The audited ballot is never cast: voting now encrypts afresh.
    audited = json.loads(saved.read_text())["ballot"]
    vote(page, "No")
    cast = board_ballot(site, 1)
    assert cast["answers"] != audited["answers"]


def test_a_lying_check_file_is_caught(site: Site, page: Page, tmp_path: Path) -> None:
    page.goto(site.link(3, "en"))
    page.get_by_label("Yes", exact=True).check()
    page.locator("#audit").click()
    with page.expect_download() as download:
        page.locator("#audit-download").click()
    audit = json.loads(Path(download.value.path()).read_text())
    audit["selections"] = [[1]]  # the device claims "No" while it encrypted "Yes"
    lying = tmp_path / "lying.json"
    lying.write_text(json.dumps(audit))
    page.goto(f"{site.url}/check?lang=en")
    page.locator("#check-text").fill(lying.read_text())
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.locator("#check-verdict")).to_have_class("bad")
    result = CliRunner().invoke(app, ["verify-audit", str(lying), "--server", site.url])
    assert result.exit_code == 1 and "other choices" in result.output


def test_a_closed_referendum_gets_a_clear_message(site: Site, page: Page) -> None:
    page.goto(site.link(4, "en"))
    expect(page.locator("#ballot")).to_be_visible()
    site.refs.close(site.opened.slug)  # closes while the voter reads the question
    page.get_by_label("Yes", exact=True).check()
    page.locator("#cast").click()
    expect(page.locator("#status")).to_have_text("This referendum is closed: no more ballots are accepted.")
    page.reload()
    expect(page.get_by_role("alert")).to_have_text("This referendum is closed: no more ballots are accepted.")


def test_voting_with_the_keyboard_alone(site: Site, page: Page) -> None:
    page.goto(site.link(5, "en"))
    expect(page.locator("#ballot")).to_be_visible()
    first_radio = page.get_by_label("Yes", exact=True)
    for _ in range(30):  # Tab until the first answer has the focus
        page.keyboard.press("Tab")
        if first_radio.evaluate("el => el === document.activeElement"):
            break
    page.keyboard.press("ArrowDown")  # radio group: move to "No" and select it
    expect(page.get_by_label("No", exact=True)).to_be_checked()
    page.keyboard.press("Tab")  # to the cast button
    expect(page.locator("#cast")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#receipt")).to_be_visible(timeout=20_000)
    expect(page.locator("#receipt")).to_be_focused()


def test_a_link_without_its_code_asks_for_the_code(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/v/{site.opened.slug}?lang=en")
    expect(page.locator("#status")).to_contain_text("This link has no voting code")
    page.get_by_label("Your voting code, from the SMS").fill(site.opened.codes[5].lower())
    page.get_by_role("button", name="Use this code").click()
    expect(page.locator("#ballot")).to_be_visible()


def test_a_lying_electorate_proof_stops_the_vote(site: Site, page: Page) -> None:
    def lie(route: Route) -> None:
        proof = route.fetch().json()
        proof["proof"][0] = "00" * 32
        route.fulfill(json=proof)

    page.route("**/electorate/*", lie)
    page.goto(site.link(1, "en"))
    expect(page.locator("#status")).to_contain_text("does not hold. Do not vote")
    expect(page.locator("#ballot")).to_be_hidden()


def test_a_receipt_that_does_not_prove_inclusion_is_flagged(site: Site, page: Page) -> None:
    def lie(route: Route) -> None:
        receipt = route.fetch().json()
        receipt["tree_head"]["root"] = "00" * 32
        route.fulfill(json=receipt)

    page.route("**/ballots", lie)
    page.goto(site.link(2, "en"))
    page.get_by_label("Yes", exact=True).check()
    page.locator("#cast").click()
    expect(page.locator("#receipt-check")).to_have_class("bad", timeout=20_000)
    expect(page.locator("#receipt-check")).to_contain_text("could not be verified")


def test_the_short_link_of_the_sms_opens_the_ballot_with_its_code(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/{site.opened.slug}?lang=en#{site.opened.codes[3]}")
    expect(page.locator("#ballot")).to_be_visible()
    assert page.url.endswith(f"/v/{site.opened.slug}?lang=en#{site.opened.codes[3]}")
    vote(page, "Yes")
