"""What an anonymous client may not have (issue 13): a draft, which exists only
in the console (finding 10), and a 500 with a traceback from input it shaped
(finding 9). Every refusal leaves the board as it was, and voting goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot
from istifta.sms.settings import Secret, SmsSettings
from istifta.store.accounts import Accounts
from istifta.store.referendums import Referendums
from istifta.testing import Opened, draft_referendum, live_manifest, open_referendum
from istifta.web.app import create_app
from istifta.web.settings import WebSettings

from .test_console import PASSWORD, sign_in

DRAFT = "still-a-draft"
TOKEN = "a-report-token-of-forty-characters-long!"


class Site:
    def __init__(self, refs: Referendums, opened: Opened, client: TestClient) -> None:
        self.refs, self.opened, self.client = refs, opened, client

    def vote(self, voter: int) -> int:
        """Cast a ballot for ``voter`` through the API; the HTTP status."""
        ballot = build_ballot(self.opened.params, self.opened.codes[voter], [[0]], SeededRandom(f"v{voter}"))
        return self.client.post(
            f"/api/referendums/{self.opened.slug}/ballots", json=ballot.to_json()
        ).status_code


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    refs = Referendums.open(tmp_path / "data")
    rng = SeededRandom("public boundary")
    opened = open_referendum(refs, live_manifest(), 6, ("Baghdad", "Basra"), rng)
    draft_referendum(refs, live_manifest(slug=DRAFT), rng)
    refs.generate_electorate(DRAFT, 4, ("Erbil",), rng)
    Accounts(refs.store).create("org", PASSWORD, "organiser")
    sms = SmsSettings(http_report_token=Secret(TOKEN))
    with TestClient(create_app(WebSettings(data_dir=tmp_path / "data"), refs, sms)) as client:
        yield Site(refs, opened, client)
    refs.close_store()


DRAFT_PATHS = [
    f"/api/referendums/{DRAFT}",
    f"/api/referendums/{DRAFT}/parameters",
    f"/api/referendums/{DRAFT}/turnout",
    f"/api/referendums/{DRAFT}/sms",
    f"/api/referendums/{DRAFT}/board",
    f"/api/referendums/{DRAFT}/tree-head",
    f"/api/referendums/{DRAFT}/result",
    f"/r/{DRAFT}",
    f"/r/{DRAFT}/board",
    f"/r/{DRAFT}/result",
    f"/r/{DRAFT}/record.zip",
    f"/v/{DRAFT}",
    f"/{DRAFT}",
]


def test_a_draft_is_unknown_outside_the_console(site: Site) -> None:
    listed = site.client.get("/api/referendums").json()
    assert [r["slug"] for r in listed] == [site.opened.slug]
    assert DRAFT not in site.client.get("/?lang=en").text
    for path in DRAFT_PATHS:
        answer = site.client.get(path)
        assert answer.status_code == 404, path
        assert "Erbil" not in answer.text, path
        if path.startswith("/api/"):
            assert answer.json()["code"] == "unknown_referendum", path
    # the console still has it
    assert sign_in(site.client, "org") == "/console"
    assert DRAFT in site.client.get("/console").text
    assert site.client.get(f"/console/r/{DRAFT}").status_code == 200


def test_nested_json_is_a_clear_400_and_changes_nothing(site: Site) -> None:
    size = site.refs.tree_head(site.opened.slug).size
    deep = b"[" * 5_000 + b"]" * 5_000  # within a ballot's size, beyond any parser's patience
    cast = site.client.post(f"/api/referendums/{site.opened.slug}/ballots", content=deep)
    assert cast.status_code == 400 and cast.json()["code"] == "malformed_json"
    assert "nested too deeply" in cast.json()["message"]
    report = site.client.post(
        "/api/sms/reports/http",
        content=b'{"id": ' + deep + b"}",
        headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
    )
    assert report.status_code == 400 and "Traceback" not in report.text
    assert site.refs.tree_head(site.opened.slug).size == size
    assert site.vote(0) == 200  # voting goes on


@pytest.mark.parametrize(
    "path",
    [
        "/r/{slug}/board/99999999999999999999",  # once OverflowError: a 500
        "/r/{slug}/board/-1",
        "/api/referendums/{slug}/board?start=99999999999999999999",
        "/api/referendums/{slug}/proofs/inclusion?index=99999999999999999999&size=1",
    ],
)
def test_an_index_out_of_range_is_a_4xx(site: Site, path: str) -> None:
    answer = site.client.get(path.format(slug=site.opened.slug))
    assert 400 <= answer.status_code < 500, (path, answer.status_code)
    assert "Traceback" not in answer.text
    assert site.vote(1) == 200
