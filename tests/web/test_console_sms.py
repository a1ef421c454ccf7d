"""The console's Invitations page: the templates checked as they are typed
(encoding, segments, a preview without a real code) and refused when too
long or without a link; sending in the background through the outbox,
pausing, resuming, reminders only to non-voters, a resend by phone; the
live counters and chart; roles and CSRF on every action."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from istifta.crypto.rng import SeededRandom
from istifta.electorate.sealing import load_code_box
from istifta.protocol.ballot import build_ballot
from istifta.sms import queue
from istifta.sms.gateways.outbox import read_outbox
from istifta.sms.invitations import PLACEHOLDER_CODE, templates_path
from istifta.store.accounts import Accounts
from istifta.store.models import SmsMessage
from istifta.testing import Opened, live_manifest, open_referendum
from istifta.web.app import create_app
from istifta.web.settings import WebSettings

from .conftest import Live, serve
from .test_console import PASSWORD, sign_in

SLUG = "c24"
VOTERS = 6
PAGE = f"/console/r/{SLUG}/invitations"
LONG = "صوّت في الاستفتاء الوطني على إنهاء مهمة التحالف الدولي: {link}"
ACTIONS = ("send", "pause", "resume", "remind", "resend", "templates", "check")


@dataclass
class Site:
    live: Live
    opened: Opened
    data: Path

    @property
    def client(self) -> TestClient:
        return self.live.client

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', self.client.get(f"{PAGE}?lang=en").text)
        assert found
        return found.group(1)

    def post(self, action: str, **fields: str) -> Any:
        data = {"csrf": self.csrf(), **fields}
        return self.client.post(f"{PAGE}/{action}", data=data, follow_redirects=False)

    def counts(self) -> dict[str, Any]:
        answer = self.client.get(f"{PAGE}/counts.json")
        assert answer.status_code == 200
        result: dict[str, Any] = answer.json()
        return result

    def states(self) -> dict[str, int]:
        return {k: v for k, v in queue.counts(self.live.refs.store, SLUG).by_state.items() if v}


def serve_sms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str | None) -> Iterator[Site]:
    monkeypatch.setenv("ISTIFTA_SMS_LINK_BASE", "https://ist.iq")  # a short link: one segment in Arabic
    data = tmp_path / "data"
    for live in serve(tmp_path, store_url):
        rng = SeededRandom("console sms")
        opened = open_referendum(
            live.refs, live_manifest(slug=SLUG), VOTERS, (), rng, load_code_box(data), ("ar", "ckb", "en")
        )
        accounts = Accounts(live.refs.store)
        for name, role in (("org", "organiser"), ("reg", "registrar"), ("watcher", "observer")):
            accounts.create(name, PASSWORD, role)
        sign_in(live.client, "org")
        yield Site(live, opened, data)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from serve_sms(tmp_path, monkeypatch, None)


def wait_for(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the background sender did not get there in time"
        time.sleep(0.05)


def test_the_page_shows_each_default_templates_encoding_segments_preview_and_the_cost(site: Site) -> None:
    page = site.client.get(f"{PAGE}?lang=en")
    assert page.status_code == 200
    text = page.text
    assert "Invitations by SMS" in text and 'aria-current="page"' in text
    assert text.count('data-role="encoding" dir="ltr">UCS-2<') == 4  # Arabic and Sorani, both kinds
    assert text.count('data-role="encoding" dir="ltr">GSM-7<') == 2  # English
    assert re.search(r'data-role="characters">\d+/70<', text) and 'data-role="segments">1<' in text
    assert f"للتصويت في الاستفتاء: https://ist.iq/{SLUG}#{PLACEHOLDER_CODE}" in text
    assert not any(code in text for code in site.opened.codes)  # a preview never shows a real code
    assert "6 voters: 6 segments × 0.02 USD = 0.12 USD" in text  # one segment each
    arabic = site.client.get(f"{PAGE}?lang=ar").text
    assert 'dir="rtl"' in arabic and "٠٫١٢ USD" in arabic


def test_a_template_too_long_or_without_link_is_reported_and_cannot_be_saved(site: Site) -> None:
    fields = {"invitation_ar": LONG, "reminder_ar": "لم تصوّت بعد", "invitation_en": "Vote: {link}"}
    checked = site.post("check", **fields)
    assert checked.status_code == 200
    answer = checked.json()
    assert answer["ok"] is False and answer["estimate"]["ok"] is False
    assert "shorten it by" in answer["templates"]["invitation_ar"]["error"]
    assert "{link}" in answer["templates"]["reminder_ar"]["error"]
    assert answer["templates"]["invitation_en"] == answer["templates"]["invitation_en"] | {
        "encoding": "GSM-7",
        "count": 1,
        "error": None,
        "preview": f"Vote: https://ist.iq/{SLUG}#{PLACEHOLDER_CODE}",
    }
    assert answer["templates"]["invitation_ckb"]["fallback"] is True  # empty: the Arabic text goes

    refused = site.post("templates", do="save", **fields)
    assert refused.status_code == 422
    assert "Nothing was saved" in refused.text and "shorten it by" in refused.text
    assert not templates_path(site.data, SLUG).exists()

    without_script = site.post("templates", do="check", **fields)  # the "Check" button
    assert without_script.status_code == 200 and "shorten it by" in without_script.text
    assert not templates_path(site.data, SLUG).exists()


@pytest.mark.parametrize("placeholder", ["{link:>300000000}", "{link:.0}", "{closes!r}"])
def test_a_placeholder_with_a_format_is_refused_at_once_and_not_saved(site: Site, placeholder: str) -> None:
    fields = {"invitation_ar": f"صوّت: {{link}} {placeholder}", "reminder_ar": "تذكير: {link}"}
    checked = site.post("check", **fields).json()
    assert checked["ok"] is False
    assert "write the placeholder alone" in checked["templates"]["invitation_ar"]["error"]
    refused = site.post("templates", do="save", **fields)
    assert refused.status_code == 422 and "write the placeholder alone" in refused.text
    assert not templates_path(site.data, SLUG).exists()


def test_good_templates_are_saved_and_used(site: Site) -> None:
    fields = {"invitation_ar": "صوّت: {link}", "reminder_ar": "تذكير: {link}", "invitation_en": "Vote: {link}"}
    saved = site.post("templates", do="save", **fields)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=saved&n=0")
    kept = json.loads(templates_path(site.data, SLUG).read_text(encoding="utf-8"))
    assert kept == {
        "invitation": {"ar": "صوّت: {link}", "en": "Vote: {link}"},
        "reminder": {"ar": "تذكير: {link}"},
    }
    page = site.client.get(f"{PAGE}?lang=en&done=saved").text
    assert "The templates are saved" in page and "صوّت: {link}</textarea>" in page
    assert "save SMS templates: c24" in site.client.get("/console?lang=en").text  # the audit log


def test_sending_puts_one_message_per_voter_in_the_outbox_and_the_counters_follow(site: Site) -> None:
    sent = site.post("send")
    assert sent.status_code == 303 and sent.headers["location"].endswith(f"done=invited&n={VOTERS}")
    wait_for(lambda: site.counts()["by_state"]["delivered"] == VOTERS)
    outbox = read_outbox(site.data)
    assert len(outbox) == VOTERS and len({e.phone for e in outbox}) == VOTERS
    assert {e.text.rsplit("#", 1)[1] for e in outbox} == set(site.opened.codes)
    counts = site.counts()
    assert counts["segments_sent"] == VOTERS and counts["cost"] == "0.12 USD" and counts["running"] is True
    page = site.client.get(f"{PAGE}?lang=en&done=invited&n={VOTERS}").text
    assert "6 invitations queued" in page and "Sending in the background" in page
    chart = site.client.get(f"{PAGE}/chart.svg?lang=en")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.text.count('class="chart-delivered"') >= 2 and "6 sent, 6 delivered, 0 failed" in chart.text
    again = site.post("send")  # nobody is invited twice; the sender is not started twice
    assert again.headers["location"].endswith("done=invited&n=0")
    assert [t.name for t in threading.enumerate()].count(f"sms {SLUG}") == 1
    assert len(read_outbox(site.data)) == VOTERS


def test_pause_holds_the_queue_and_stops_the_sender_and_resume_releases_it(site: Site) -> None:
    refs = site.live.refs
    queue.enqueue(refs.store, SLUG, "invitation", "outbox", {"ar": 1, "ckb": 1, "en": 1}, refs.clock())
    paused = site.post("pause")
    assert paused.headers["location"].endswith(f"done=paused&n={VOTERS}")
    assert site.states() == {"held": VOTERS} and site.counts()["running"] is False
    resumed = site.post("resume")
    assert resumed.headers["location"].endswith(f"done=resumed&n={VOTERS}")
    wait_for(lambda: len(read_outbox(site.data)) == VOTERS)
    assert site.counts()["running"] is True
    site.post("pause")
    assert site.counts()["running"] is False
    assert "Not sending" in site.client.get(f"{PAGE}?lang=en").text


def test_reminders_go_only_to_voters_who_have_not_voted(site: Site) -> None:
    o = site.opened
    site.live.refs.cast(SLUG, build_ballot(o.params, o.codes[0], [[0]], SeededRandom("ballot")).to_json())
    reminded = site.post("remind")
    assert reminded.headers["location"].endswith(f"done=reminded&n={VOTERS - 1}")
    wait_for(lambda: len(read_outbox(site.data)) == VOTERS - 1)
    assert o.codes[0] not in {e.text.rsplit("#", 1)[1] for e in read_outbox(site.data)}
    assert "لم تصوّت بعد" in read_outbox(site.data)[0].text or "هێشتا" in read_outbox(site.data)[0].text


def test_a_voter_is_sent_their_link_again_by_phone_and_an_unknown_phone_is_refused(site: Site) -> None:
    unknown = site.post("resend", phone="+9647709999999")
    assert unknown.status_code == 422
    assert "no voter of c24 has the number +9647709999999" in unknown.text
    assert 'id="e-phone"' in unknown.text and 'value="+9647709999999"' in unknown.text
    bad = site.post("resend", phone="hello")
    assert bad.status_code == 422 and 'id="e-phone"' in bad.text
    assert site.states() == {}  # nothing queued
    again = site.post("resend", phone="+964 770 000 0002")
    assert again.status_code == 303
    wait_for(lambda: len(read_outbox(site.data)) == 1)
    (entry,) = read_outbox(site.data)
    assert entry.phone == "+9647700000002" and entry.text.endswith(site.opened.codes[2])
    log = site.client.get("/console?lang=en").text
    assert "resend SMS" in log and "+9647700000002" not in log  # no phone number in the audit log


def test_a_registrar_may_act_and_an_observer_may_only_watch(site: Site) -> None:
    site.client.cookies.clear()
    sign_in(site.client, "reg")
    assert site.post("send").status_code == 303
    wait_for(lambda: len(read_outbox(site.data)) == VOTERS)
    site.client.cookies.clear()
    sign_in(site.client, "watcher")
    page = site.client.get(f"{PAGE}?lang=en")
    assert page.status_code == 200 and "readonly" in page.text and "Send invitations" not in page.text
    for action in ACTIONS:
        assert site.post(action, phone="+9647700000001").status_code == 403, action
    assert site.counts()["by_state"]["delivered"] == VOTERS
    chart = site.client.get(f"{PAGE}/chart.svg")
    assert chart.status_code == 200 and chart.text.startswith("<svg")
    assert queue.counts(site.live.refs.store, SLUG).by_kind == {"invitation": VOTERS}


def test_a_post_without_the_csrf_token_is_refused_and_queues_nothing(site: Site) -> None:
    for action in ACTIONS:
        for data in ({}, {"csrf": "0" * 64}):
            answer = site.client.post(f"{PAGE}/{action}", data=data, follow_redirects=False)
            assert answer.status_code == 403, action
    assert site.states() == {} and read_outbox(site.data) == []


def test_invitations_wait_for_the_referendum_to_open(site: Site) -> None:
    site.live.refs.create(live_manifest(slug="later"))
    csrf = site.csrf()
    answer = site.client.post(
        "/console/r/later/invitations/send", data={"csrf": csrf}, follow_redirects=False
    )
    assert answer.status_code == 409
    assert "invitations go out only while it is open" in answer.text
    resumed = site.client.post(
        "/console/r/later/invitations/resume", data={"csrf": csrf}, follow_redirects=False
    )
    assert resumed.status_code == 409 and "invitations go out only while it is open" in resumed.text


def test_the_sender_is_stopped_when_the_server_stops(site: Site) -> None:
    app = create_app(WebSettings(data_dir=site.data), site.live.refs)
    with TestClient(app) as client:
        sign_in(client, "org")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(PAGE).text)
        assert csrf
        client.post(f"{PAGE}/send", data={"csrf": csrf.group(1)})
        senders = app.state.services.senders
        assert senders.running(SLUG)
    assert not senders.running(SLUG)


def test_the_failures_and_the_timeline_are_counted_on_each_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str | None
) -> None:
    for site in serve_sms(tmp_path, monkeypatch, store_url):
        refs = site.live.refs
        queue.enqueue(refs.store, SLUG, "invitation", "outbox", {"ar": 1, "ckb": 1, "en": 1}, refs.clock())
        start = datetime(2024, 5, 1, 9, 0, 10, tzinfo=UTC)
        with refs.store.session() as session, session.begin():
            ids = sorted(session.execute(select(SmsMessage.id)).scalars())
            for i, message in enumerate(ids):  # two a minute from 09:00:10, every third one failed
                sent = start + timedelta(seconds=30 * i)
                failed = i % 3 == 0
                session.execute(
                    update(SmsMessage)
                    .where(SmsMessage.id == message)
                    .values(
                        state="failed" if failed else "delivered",
                        sent_at=sent,
                        done_at=sent + timedelta(seconds=5),
                        error=("ESME_RINVDSTADR" if i else "throttled") if failed else None,
                    )
                )
        assert queue.failure_reasons(refs.store, SLUG) == [("ESME_RINVDSTADR", 1), ("throttled", 1)]
        timeline = queue.timeline(refs.store, SLUG)
        assert timeline.step == 60
        assert [(b.start.minute, b.sent, b.delivered, b.failed) for b in timeline.buckets] == [
            (0, 2, 1, 1),
            (1, 2, 1, 1),
            (2, 2, 2, 0),
        ]
        counts = site.counts()
        assert counts["failures"][:2] == [
            {"reason": "ESME_RINVDSTADR", "count": 1},
            {"reason": "throttled", "count": 1},
        ]
        assert counts["by_state"]["failed"] == 2 and counts["segments_sent"] == VOTERS
        chart = site.client.get(f"{PAGE}/chart.svg?lang=en").text
        # in the pages' time zone (Baghdad, UTC+3)
        assert "12:00: 2 sent, 1 delivered, 1 failed; 12:01: 2 sent, 1 delivered, 1 failed" in chart
