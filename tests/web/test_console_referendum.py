"""The console's referendum pages: the manifest from a form (every error next to
its field) or a file, the ballot preview, the trustees' ceremony, and open,
close, tally, publish behind their confirmations."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from istifta.crypto.rng import SeededRandom
from istifta.store.accounts import Accounts
from istifta.store.public import PublicViews
from istifta.store.referendums import Referendums
from istifta.testing import Ceremony, live_manifest, run_ceremony
from istifta.web.app import create_app
from istifta.web.settings import WebSettings

from .test_console import PASSWORD, sign_in

SLUG = "console-test"


class Desk:
    """The console over an empty store, with one account of each role."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.refs = Referendums.open(tmp_path / "data", None)
        accounts = Accounts(self.refs.store)
        for name, role in (("org", "organiser"), ("reg", "registrar"), ("obs", "observer")):
            accounts.create(name, PASSWORD, role)
        self.app = create_app(WebSettings(data_dir=tmp_path / "data"), self.refs)

    def client(self, username: str) -> TestClient:
        client = TestClient(self.app)
        client.__enter__()
        sign_in(client, username)
        return client

    def csrf(self, client: TestClient) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get("/console").text)
        assert found
        return found.group(1)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path)
    yield d
    d.refs.close_store()


def form(csrf: str, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "csrf": csrf,
        "lang": ["ar", "ckb", "en"],
        "questions": "1",
        "q0.options": "2",
        "slug": SLUG,
        "title.ar": "استفتاء تجريبي",
        "title.ckb": "ڕاپرسیی تاقیکردنەوە",
        "title.en": "A test referendum",
        "q0.text.ar": "هل توافق؟",
        "q0.text.ckb": "ئایا ڕازیت؟",
        "q0.text.en": "Do you agree?",
        "q0.o0.ar": "نعم",
        "q0.o0.ckb": "بەڵێ",
        "q0.o0.en": "Yes",
        "q0.o1.ar": "لا",
        "q0.o1.ckb": "نەخێر",
        "q0.o1.en": "No",
        "q0.min": "1",
        "q0.max": "1",
        "opens_at": "2026-01-01T08:00",
        "closes_at": "2099-01-01T20:00",
        "n": "3",
        "threshold": "2",
        "action": "create",
    }
    fields.update(changes)
    return fields


def errors(html: str) -> dict[str, str]:
    """Each field's error, by the field's name."""
    return dict(re.findall(r'<p class="error" id="e-([^"]+)">([^<]*)</p>', html))


def test_every_mistake_in_the_form_is_shown_next_to_its_field_and_nothing_is_created(desk: Desk) -> None:
    org = desk.client("org")
    bad = form(
        desk.csrf(org),
        slug="Not A Slug",
        **{"title.ckb": "", "q0.o1.en": "", "q0.max": "3", "closes_at": "2025-01-01T08:00", "threshold": "4"},
    )
    answer = org.post("/console/new?lang=en", data=bad)
    assert answer.status_code == 400
    found = errors(answer.text)
    assert found == {
        "slug": "Use 1 to 64 lowercase Latin letters, digits and inner hyphens, e.g. coalition-2024.",
        "title.ckb": "Write this text.",
        "q0.o1.en": "Write this text.",
        "q0.max": "Give a whole number from 1 to 2.",
        "closes_at": "The referendum must close after it opens.",
        "threshold": "Give a whole number from 1 to 3.",
    }
    assert 'value="ڕاپرسیی تاقیکردنەوە"' not in answer.text  # the emptied field stays empty
    assert 'value="استفتاء تجريبي"' in answer.text  # what was typed is kept
    assert PublicViews(desk.refs).summaries(drafts=True) == []  # nothing was created, not even a draft


def test_the_form_previews_the_ballot_in_each_language_then_creates_the_referendum(desk: Desk) -> None:
    org = desk.client("org")
    csrf = desk.csrf(org)
    grown = org.post("/console/new?lang=en", data=form(csrf, action="add_option:0"))
    assert 'name="q0.o2.ar"' in grown.text  # a third answer to fill in
    shown = org.post("/console/new?lang=en", data=form(csrf, action="preview"))
    assert shown.status_code == 200
    assert shown.text.count('class="preview-frame"') == 3
    assert "بەڵێ" in shown.text and "دەنگ بدە" in shown.text  # Sorani answer, Sorani button
    assert "Cast my ballot" in shown.text and "هل توافق؟" in shown.text
    with pytest.raises(Exception, match="no referendum"):
        desk.refs.state(SLUG)
    made = org.post("/console/new", data=form(csrf), follow_redirects=False)
    assert made.headers["location"] == f"/console/r/{SLUG}?done=created"
    assert desk.refs.state(SLUG) == "draft"
    m = desk.refs.manifest(SLUG)
    assert m.title == {"ar": "استفتاء تجريبي", "ckb": "ڕاپرسیی تاقیکردنەوە", "en": "A test referendum"}
    assert (m.n, m.threshold) == (3, 2)
    assert m.opens_at.isoformat() == "2026-01-01T05:00:00+00:00"  # 08:00 in Baghdad
    again = org.post("/console/new?lang=en", data=form(csrf))
    assert again.status_code == 409
    assert errors(again.text)["slug"] == "A referendum with this short name already exists."
    preview = org.get(f"/console/r/{SLUG}/preview?lang=en")
    assert preview.text.count('class="preview-frame"') == 3


def test_an_uploaded_manifest_is_checked_field_by_field(desk: Desk) -> None:
    org = desk.client("org")
    csrf = desk.csrf(org)
    manifest = live_manifest(slug="from-a-file")
    broken = dict(manifest, slug="No!", trustees={"n": 0, "threshold": 1})
    answer = org.post(
        "/console/new/manifest?lang=en",
        data={"csrf": csrf},
        files={"manifest": ("m.json", io.BytesIO(json.dumps(broken).encode()), "application/json")},
    )
    assert answer.status_code == 400
    assert "The manifest has mistakes; nothing was created." in answer.text
    assert '<code dir="ltr">slug</code>' in answer.text and '<code dir="ltr">trustees.n</code>' in answer.text
    not_json = org.post(
        "/console/new/manifest?lang=en",
        data={"csrf": csrf},
        files={"manifest": ("m.json", io.BytesIO(b"{not json"), "application/json")},
    )
    assert not_json.status_code == 400 and "This file is not JSON text" in not_json.text
    made = org.post(
        "/console/new/manifest",
        data={"csrf": csrf},
        files={"manifest": ("m.json", io.BytesIO(json.dumps(manifest).encode()), "application/json")},
        follow_redirects=False,
    )
    assert made.status_code == 303 and desk.refs.state("from-a-file") == "draft"


def _upload(client: TestClient, path: str, csrf: str, files: list[Path]) -> Any:
    return client.post(
        path,
        data={"csrf": csrf},
        files=[("files", (f.name, f.read_bytes(), "application/json")) for f in files],
    )


def ceremony_for(desk: Desk) -> Ceremony:
    manifest = live_manifest(slug=SLUG)
    manifest["trustees"] = {"n": 3, "threshold": 2}
    desk.refs.create(manifest)
    return run_ceremony(manifest, desk.tmp_path / "ceremony", SeededRandom("console ceremony"))


def test_the_ceremony_page_shows_who_published_and_confirmed_and_the_joint_key(desk: Desk) -> None:
    room = ceremony_for(desk)
    org = desk.client("org")
    csrf = desk.csrf(org)
    trustees = f"/console/r/{SLUG}/trustees?lang=en"
    tampered = desk.tmp_path / "trustee-9.json"
    tampered.write_text(room.public(2).read_text().replace('"index": 2', '"index": 9'))
    refused = _upload(org, trustees, csrf, [room.public(1), tampered])
    assert refused.status_code == 400 and "trustee 9" in refused.text
    assert "Collect the public file" in refused.text and "0 of 3 so far" in refused.text  # none kept
    kept = _upload(org, trustees, csrf, [room.public(1), room.public(2)])
    assert "2 of 3 so far" in kept.text and "joint key" not in kept.text
    done = _upload(org, trustees, csrf, [room.public(3)])
    assert "The joint key:" in done.text
    spaced = " ".join(re.findall(".{8}", room.verification_key(2)))  # as read aloud, in groups
    right = org.post(
        f"/console/r/{SLUG}/trustees/confirm?lang=en",
        data={"csrf": csrf, "index": "2", "verification_key": spaced},
    )
    assert "1 of 3 confirmed" in right.text
    assert "confirm trustee shares" in org.get("/console?lang=en").text  # in the audit log


def test_wrong_trustee_confirmation_changes_nothing(desk: Desk) -> None:
    room = ceremony_for(desk)
    org = desk.client("org")
    csrf = desk.csrf(org)
    early = org.post(
        f"/console/r/{SLUG}/trustees/confirm?lang=en",
        data={"csrf": csrf, "index": "1", "verification_key": room.verification_key(1)},
    )
    assert early.status_code == 400 and "every trustee must publish their keys" in early.text
    _upload(org, f"/console/r/{SLUG}/trustees", csrf, [room.public(j) for j in (1, 2, 3)])
    wrong = org.post(
        f"/console/r/{SLUG}/trustees/confirm?lang=en",
        data={"csrf": csrf, "index": "1", "verification_key": room.verification_key(3)},
    )
    assert wrong.status_code == 400 and "does not match the published commitments" in wrong.text
    assert "0 of 3 confirmed" in wrong.text


def test_open_close_tally_publish_each_behind_its_confirmation(desk: Desk) -> None:
    from istifta.protocol.ballot import build_ballot

    room = ceremony_for(desk)
    org = desk.client("org")
    csrf = desk.csrf(org)
    _upload(org, f"/console/r/{SLUG}/trustees", csrf, [room.public(j) for j in (1, 2, 3)])
    codes = desk.refs.generate_electorate(SLUG, 4, ("Baghdad", "Basra"), SeededRandom("console voters"))
    confirm = org.get(f"/console/r/{SLUG}/confirm/open?lang=en")
    assert "electorate of 4 voters are frozen" in confirm.text and "This cannot be undone." in confirm.text
    unticked = org.post(f"/console/r/{SLUG}/run/open?lang=en", data={"csrf": csrf})
    assert unticked.status_code == 400 and "Tick the box" in unticked.text
    assert desk.refs.state(SLUG) == "draft"
    opened = org.post(f"/console/r/{SLUG}/run/open", data={"csrf": csrf, "understood": "yes"})
    assert desk.refs.state(SLUG) == "open" and opened.url.path == f"/console/r/{SLUG}"
    twice = org.post(f"/console/r/{SLUG}/run/open?lang=en", data={"csrf": csrf, "understood": "yes"})
    assert twice.status_code == 409 and "This step does not fit now" in twice.text
    rng = SeededRandom("console ballots")
    params = desk.refs.parameters(SLUG)
    for (code, _), choice in zip(codes[:3], (0, 1, 0), strict=True):
        desk.refs.cast(SLUG, build_ballot(params, code, [[choice]], rng).to_json())
    turnout = org.get(f"/console/r/{SLUG}/turnout.json").json()
    assert (turnout["voted"], turnout["eligible"]) == (3, 4)
    svg = org.get(f"/console/r/{SLUG}/turnout.svg?lang=en")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "Baghdad" in svg.text
    assert "بغداد" in org.get(f"/console/r/{SLUG}/turnout.svg?lang=ar").text
    for action in ("close", "tally"):
        org.post(f"/console/r/{SLUG}/run/{action}", data={"csrf": csrf, "understood": "yes"})
    assert desk.refs.state(SLUG) == "tallied"
    early = org.post(f"/console/r/{SLUG}/run/publish?lang=en", data={"csrf": csrf, "understood": "yes"})
    assert early.status_code == 409 and desk.refs.state(SLUG) == "tallied"
    partials = []
    for j in (1, 3):
        path = desk.tmp_path / f"partial-{j}.json"
        path.write_text(json.dumps(room.partial(j, desk.refs, SLUG, rng)))
        partials.append(path)
    added = _upload(org, f"/console/r/{SLUG}/decryptions?lang=en", csrf, partials)
    assert "Collect the partial decryptions" not in added.text
    again = _upload(org, f"/console/r/{SLUG}/decryptions?lang=en", csrf, partials[:1])
    assert again.status_code == 400 and "has already decrypted" in again.text
    org.post(f"/console/r/{SLUG}/run/publish", data={"csrf": csrf, "understood": "yes"})
    overview = org.get(f"/console/r/{SLUG}?lang=en").text
    assert desk.refs.state(SLUG) == "published"
    assert "3 of 4 voters voted." in overview and f"/api/referendums/{SLUG}/record.zip" in overview
    assert "yes</th><td>2</td>" in overview and "no</th><td>1</td>" in overview
    log = org.get("/console?lang=en").text
    for action in ("open referendum", "close referendum", "tally referendum", "publish referendum"):
        assert action in log


def test_only_an_organiser_creates_opens_or_closes(desk: Desk) -> None:
    ceremony_for(desk)
    for name in ("reg", "obs"):
        client = desk.client(name)
        csrf = desk.csrf(client)
        assert client.get("/console/new").status_code == 403
        assert client.post("/console/new", data=form(csrf, slug="other")).status_code == 403
        assert client.get(f"/console/r/{SLUG}/confirm/open").status_code == 403
        for action in ("open", "close", "tally", "publish"):
            answer = client.post(f"/console/r/{SLUG}/run/{action}", data={"csrf": csrf, "understood": "yes"})
            assert answer.status_code == 403
        overview = client.get(f"/console/r/{SLUG}?lang=en")
        assert overview.status_code == 200 and "Open the referendum…" not in overview.text
    assert desk.refs.state(SLUG) == "draft"


def test_an_action_without_the_forms_token_is_refused(desk: Desk) -> None:
    ceremony_for(desk)
    org = desk.client("org")
    answer = org.post(f"/console/r/{SLUG}/run/open", data={"csrf": "0" * 64, "understood": "yes"})
    assert answer.status_code == 403
    assert org.post("/console/new", data=form("")).status_code == 403
    assert desk.refs.state(SLUG) == "draft"
