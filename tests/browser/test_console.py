"""An organiser runs a whole referendum from the console, in Arabic, in Chromium:
create it from the form, the trustees' files, an electorate with two bad rows
then fixed, the invitation's segment count, sending through the outbox, open,
turnout moving as voters vote on the ballot page, close, tally, the trustees'
decryptions, publish. A registrar cannot open or close; an observer cannot
change anything; a form without its token is refused. Screenshots of the
console in Arabic and Sorani go to build/test-artifacts/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from istifta.crypto.rng import SeededRandom
from istifta.i18n import translator
from istifta.sms.gateways.outbox import read_outbox
from istifta.sms.settings import load_sms_settings
from istifta.store.accounts import Accounts
from istifta.store.referendums import Referendums
from istifta.testing import run_ceremony
from istifta.web.app import create_app
from istifta.web.serving import free_port, serving
from istifta.web.settings import WebSettings

from .conftest import artifacts
from .test_voting import vote

SLUG = "coalition-2024"
PASSWORD = "a long enough password"
ZONE = "Asia/Baghdad"
_ = translator("ar", ZONE).gettext
WIDE = {"width": 1100, "height": 900}
GOOD_ROWS = [
    "+9647701000001,Baghdad,ar",
    "+9647701000002,Baghdad,ar",
    "+9647501000003,Erbil,ckb",
    "+9647501000004,Erbil,ckb",
    "+9647801000005,Basra,en",
]


@dataclass
class Desk:
    url: str
    refs: Referendums
    data_dir: Path
    tmp_path: Path


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    data_dir = tmp_path / "data"
    refs = Referendums.open(data_dir)
    accounts = Accounts(refs.store)
    for name, role in (("amina", "organiser"), ("karim", "registrar"), ("layla", "observer")):
        accounts.create(name, PASSWORD, role)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sms = load_sms_settings(environ={}, data_dir=data_dir, link_base=url, rate=200.0, max_segments=2)
    app = create_app(WebSettings(data_dir=data_dir, timezone=ZONE), refs, sms)
    with serving(app, port):
        yield Desk(url, refs, data_dir, tmp_path)
    refs.close_store()


def signed_in(browser: Browser, desk: Desk, username: str, lang: str = "") -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{desk.url}/console" + (f"?lang={lang}" if lang else ""))
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.check-form button[type=submit]").click()
    expect(page).to_have_url(f"{desk.url}/console")
    page.script_errors = errors  # type: ignore[attr-defined]
    return context, page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=artifacts() / f"console-{name}.png", full_page=True)


def csv(path: Path, rows: list[str]) -> Path:
    path.write_text("phone,region,language\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def create_from_the_form(page: Page, desk: Desk) -> None:
    page.goto(f"{desk.url}/console/new")
    local = datetime.now(ZoneInfo(ZONE))
    page.locator('[name="slug"]').fill(SLUG)
    texts = {
        "title": ("استفتاء التحالف الدولي", "ڕاپرسیی هاوپەیمانی", "The coalition referendum"),
        "q0.text": (
            "هل تؤيد إنهاء مهمة التحالف الدولي في العراق؟",
            "ئایا پشتگیری لە کۆتایی هاتنی ئەرکی هاوپەیمانی دەکەیت؟",
            "Do you support ending the coalition's mission in Iraq?",
        ),
        "q0.o0": ("نعم", "بەڵێ", "Yes"),
        "q0.o1": ("لا", "نەخێر", "No"),
    }
    for name, values in texts.items():
        for code, value in zip(("ar", "ckb", "en"), values, strict=True):
            page.locator(f'[name="{name}.{code}"]').fill(value)
    page.locator('[name="title.ckb"]').fill("")  # a mistake first
    page.locator('[name="opens_at"]').fill((local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator('[name="closes_at"]').fill((local - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.locator('button[value="create"]').click()
    expect(page.locator("#e-title\\.ckb")).to_have_text(_("Write this text."))
    expect(page.locator("#e-closes_at")).to_have_text(_("The referendum must close after it opens."))
    shot(page, "new-errors-ar")
    page.locator('[name="title.ckb"]').fill(texts["title"][1])
    page.locator('[name="closes_at"]').fill((local + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.locator('button[value="preview"]').click()
    expect(page.locator(".preview-frame")).to_have_count(3)
    expect(page.locator(".preview-frame[lang=ckb]")).to_contain_text("نەخێر")
    shot(page, "new-preview-ar")
    page.locator('button[value="create"]').click()
    expect(page).to_have_url(re.compile(f"/console/r/{SLUG}"))
    assert desk.refs.state(SLUG) == "draft"


def trustees_publish_and_confirm(page: Page, desk: Desk) -> object:
    room = run_ceremony(desk.refs.manifest(SLUG).raw, desk.tmp_path / "ceremony", SeededRandom("console"))
    page.goto(f"{desk.url}/console/r/{SLUG}/trustees")
    page.locator("#f-trustee-files").set_input_files([room.public(j) for j in (1, 2, 3)])
    page.locator("#f-trustee-files").locator("xpath=ancestor::form").locator("button").click()
    for j in (1, 2, 3):
        page.locator(f"#f-vk-{j}").fill(room.verification_key(j))
        page.locator(f"#f-vk-{j}").locator("xpath=ancestor::form").locator("button").click()
        expect(page.locator(".notice.ok")).to_be_visible()
    expect(page.locator("tbody .good")).to_have_count(6)  # published and confirmed, three times
    shot(page, "trustees-ar")
    return room


def import_the_electorate(page: Page, desk: Desk) -> None:
    page.goto(f"{desk.url}/console/r/{SLUG}/electorate")
    bad = csv(
        desk.tmp_path / "voters.csv", GOOD_ROWS[:2] + ["07701", "+9647701000009,Atlantis,ar"] + GOOD_ROWS[2:]
    )
    page.locator("#file").set_input_files(bad)
    page.locator('form[action$="/electorate/check"] button[type=submit]').click()
    rows = page.locator(".import-problems tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").first).to_have_text("٤")  # line 4, in Arabic-Indic digits
    expect(rows.nth(1).locator("td").first).to_have_text("٥")
    shot(page, "electorate-bad-rows-ar")
    assert desk.refs.store and sum(r.eligible for r in _turnout(desk)) == 0  # nothing imported
    fixed = csv(desk.tmp_path / "voters-fixed.csv", GOOD_ROWS + ["+9647701000009,Baghdad,ar"])
    page.locator("#file").set_input_files(fixed)
    page.locator('form[action$="/electorate/check"] button[type=submit]').click()
    expect(page.locator(".import-report")).to_be_visible()
    page.locator('form[action$="/electorate/apply"] button').click()
    expect(page.locator(".import-report")).to_have_count(0)
    assert sum(r.eligible for r in _turnout(desk)) == 6
    shot(page, "electorate-ar")


def _turnout(desk: Desk) -> list[object]:
    from istifta.store.public import PublicViews

    return PublicViews(desk.refs).turnout(SLUG, drafts=True)  # type: ignore[return-value]


def confirm(page: Page, desk: Desk, action: str) -> None:
    page.goto(f"{desk.url}/console/r/{SLUG}/confirm/{action}")
    page.locator('input[name="understood"]').check()
    page.locator('form[action$="/run/' + action + '"] button[type=submit]').click()
    expect(page).to_have_url(re.compile(f"/console/r/{SLUG}\\?done={action}"))


def test_an_organiser_runs_a_referendum_from_the_console(browser: Browser, desk: Desk) -> None:
    context, page = signed_in(browser, desk, "amina")
    shot(page, "home-ar")
    create_from_the_form(page, desk)
    room = trustees_publish_and_confirm(page, desk)
    import_the_electorate(page, desk)

    page.goto(f"{desk.url}/console/r/{SLUG}/invitations")
    segments = page.locator('[data-template="invitation_ar"] [data-role="segments"]')
    expect(segments).not_to_have_text("")
    encoding = page.locator('[data-template="invitation_ar"] [data-role="encoding"]')
    expect(encoding).to_have_text("UCS-2")
    expect(page.locator('[data-template="invitation_ar"] [data-role="preview"]')).to_contain_text(desk.url)
    shot(page, "invitations-draft-ar")

    # The registrar may not open; a form posted without its token is refused.
    reg_context, reg = signed_in(browser, desk, "karim")
    reg.goto(f"{desk.url}/console/r/{SLUG}")
    expect(reg.locator('a[href$="/confirm/open"]')).to_have_count(0)
    reg_csrf = reg.locator('input[name="csrf"]').first.get_attribute("value")
    assert reg.goto(f"{desk.url}/console/r/{SLUG}/confirm/open").status == 403  # type: ignore[union-attr]
    refused = reg.request.post(
        f"{desk.url}/console/r/{SLUG}/run/open", form={"csrf": reg_csrf or "", "understood": "yes"}
    )
    assert refused.status == 403
    forged = page.request.post(f"{desk.url}/console/r/{SLUG}/run/open", form={"understood": "yes"})
    assert forged.status in (400, 403) and desk.refs.state(SLUG) == "draft"
    forged = page.request.post(
        f"{desk.url}/console/r/{SLUG}/run/open", form={"csrf": "0" * 64, "understood": "yes"}
    )
    assert forged.status == 403 and desk.refs.state(SLUG) == "draft"

    confirm(page, desk, "open")
    assert desk.refs.state(SLUG) == "open"

    page.goto(f"{desk.url}/console/r/{SLUG}/invitations")
    page.locator('form[action$="/invitations/send"] button').click()
    deadline = time.monotonic() + 30
    while len(read_outbox(desk.data_dir)) < 6:
        assert time.monotonic() < deadline, "the invitations did not reach the outbox"
        time.sleep(0.2)
    delivered = page.locator('[data-key="by_state.delivered"]')  # the outbox reports each one delivered
    expect(delivered).to_have_text("٦", timeout=15_000)
    shot(page, "invitations-sent-ar")

    page.goto(f"{desk.url}/console/r/{SLUG}")
    voted = page.locator('[data-key="voted"]')
    expect(voted).to_have_text("٠")
    links = [re.search(r"https?://\S+", m.text).group(0) for m in read_outbox(desk.data_dir)]  # type: ignore[union-attr]
    assert len(set(links)) == 6
    phone = browser.new_context(viewport={"width": 360, "height": 740})
    voter = phone.new_page()
    for link, label in zip(links[:3], ("نعم", "لا", "نعم"), strict=True):
        voter.goto(link)
        vote(voter, label)
    phone.close()
    expect(voted).to_have_text("٣", timeout=15_000)  # the overview refreshes itself
    shot(page, "overview-open-ar")

    # The registrar may not close either; the observer changes nothing.
    reg.goto(f"{desk.url}/console/r/{SLUG}")
    expect(reg.locator('a[href$="/confirm/close"]')).to_have_count(0)
    refused = reg.request.post(
        f"{desk.url}/console/r/{SLUG}/run/close", form={"csrf": reg_csrf or "", "understood": "yes"}
    )
    assert refused.status == 403 and desk.refs.state(SLUG) == "open"
    reg_context.close()
    obs_context, obs = signed_in(browser, desk, "layla")
    for where in ("", "/trustees", "/electorate", "/invitations"):
        obs.goto(f"{desk.url}/console/r/{SLUG}{where}")
        forms = obs.locator('form[method="post"]:not([action="/console/logout"])')
        expect(forms, where).to_have_count(0)
    obs_csrf = obs.locator('input[name="csrf"]').first.get_attribute("value")
    for action in ("invitations/remind", "invitations/pause", "run/close"):
        answer = obs.request.post(
            f"{desk.url}/console/r/{SLUG}/{action}", form={"csrf": obs_csrf or "", "understood": "yes"}
        )
        assert answer.status == 403, action
    obs_context.close()

    confirm(page, desk, "close")
    confirm(page, desk, "tally")
    rng = SeededRandom("console partials")
    partials = []
    for j in (1, 3):
        path = desk.tmp_path / f"partial-{j}.json"
        path.write_text(json.dumps(room.partial(j, desk.refs, SLUG, rng)))  # type: ignore[attr-defined]
        partials.append(path)
    page.goto(f"{desk.url}/console/r/{SLUG}/trustees")
    page.locator("#f-partials").set_input_files(partials)
    page.locator("#f-partials").locator("xpath=ancestor::form").locator("button").click()
    expect(page.locator(".notice.ok")).to_be_visible()
    confirm(page, desk, "publish")
    assert desk.refs.state(SLUG) == "published"
    result = desk.refs.record(SLUG)
    assert result is not None
    expect(page.locator("table.entries").first).to_contain_text("نعم")
    expect(page.locator("table.entries").first.locator("td").first).to_have_text("٢")
    shot(page, "overview-published-ar")
    assert not page.script_errors  # type: ignore[attr-defined]
    context.close()

    # The same console in Sorani.
    ckb_context, ckb = signed_in(browser, desk, "amina", "ckb")
    expect(ckb.locator("html")).to_have_attribute("lang", "ckb")
    expect(ckb.locator("html")).to_have_attribute("dir", "rtl")
    shot(ckb, "home-ckb")
    for where, name in (
        ("", "overview-published"),
        ("/trustees", "trustees"),
        ("/electorate", "electorate"),
        ("/invitations", "invitations"),
    ):
        ckb.goto(f"{desk.url}/console/r/{SLUG}{where}")
        shot(ckb, f"{name}-ckb")
    ckb.goto(f"{desk.url}/console/new")
    ckb.locator('button[value="create"]').click()
    expect(ckb.locator(".field.invalid").first).to_be_visible()
    shot(ckb, "new-errors-ckb")
    ckb_context.close()
