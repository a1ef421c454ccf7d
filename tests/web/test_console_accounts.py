"""Console accounts by invitation: an organiser makes a one-time link with a role,
the invited person opens their account with it (once, before it expires), and
signs in with that role. Only organisers invite; the join page needs no session
but carries its own CSRF token."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from istifta.store.accounts import ADDRESS_FAILURES, Accounts
from istifta.store.models import AccountInvitation

from .conftest import Live, serve
from .test_console import PASSWORD, sign_in

NEW_PASSWORD = "a long enough passphrase"


@pytest.fixture
def site(tmp_path: Path, store_url: str | None) -> Iterator[Live]:
    for live in serve(tmp_path, store_url):
        accounts = Accounts(live.refs.store)
        accounts.create("org", PASSWORD, "organiser")
        accounts.create("reg", PASSWORD, "registrar")
        accounts.create("watcher", PASSWORD, "observer")
        yield live


def csrf_in(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found
    return found.group(1)


def invite(client: TestClient, role: str) -> str:
    """The code of a new invitation, read from the link the page shows."""
    csrf = csrf_in(client.get("/console/accounts").text)
    answer = client.post("/console/accounts/invite?lang=en", data={"role": role, "csrf": csrf})
    assert answer.status_code == 200
    link = re.search(r"http://testserver/console/join#([A-Za-z0-9_-]+)", answer.text)
    assert link, answer.text
    return link.group(1)


def join(client: TestClient, code: str, username: str, again: str = NEW_PASSWORD, **form: str) -> Response:
    page = client.get("/console/join?lang=en")
    assert page.status_code == 200
    data = {"code": code, "username": username, "password": NEW_PASSWORD, "password_again": again}
    data |= {"csrf": csrf_in(page.text), **form}
    return client.post("/console/join?lang=en", data=data, follow_redirects=False)


def fresh(site: Live) -> TestClient:
    """Another browser: no session, no cookies."""
    return TestClient(site.client.app)


def test_an_invitation_opens_an_account_with_its_role_once(site: Live) -> None:
    sign_in(site.client, "org")
    code = invite(site.client, "registrar")
    accounts = site.client.get("/console/accounts?lang=en").text
    assert "Invitations not used yet" in accounts and code not in accounts  # shown once, kept as a hash
    assert len(Accounts(site.refs.store).pending_invitations()) == 1

    newcomer = fresh(site)
    joined = join(newcomer, code, "Layla")
    assert joined.status_code == 303 and joined.headers["location"].startswith("/console/login")
    assert ("layla", "registrar") in Accounts(site.refs.store).roster()
    assert sign_in(newcomer, "layla", NEW_PASSWORD) == "/console"
    assert "Signed in as layla (registrar)." in newcomer.get("/console?lang=en").text
    assert Accounts(site.refs.store).pending_invitations() == []

    again = join(fresh(site), code, "someone")
    assert again.status_code == 409
    assert "has been used already" in html.unescape(again.text)
    assert code not in again.text and NEW_PASSWORD not in again.text
    assert "someone" not in [u for u, _ in Accounts(site.refs.store).roster()]
    log = html.unescape(site.client.get("/console?lang=en").text)
    assert "invite account: registrar" in log and "join: layla (registrar), invited by org" in log
    assert code not in log


def test_an_expired_or_unknown_code_is_refused_and_creates_nothing(site: Live) -> None:
    sign_in(site.client, "org")
    code = invite(site.client, "observer")
    with site.refs.store.session() as session, session.begin():
        session.execute(update(AccountInvitation).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    expired = join(fresh(site), code, "late")
    assert expired.status_code == 409 and "has expired" in expired.text
    unknown = join(fresh(site), "x" * 43, "guess")
    assert unknown.status_code == 409 and "no invitation has this code" in unknown.text
    assert {u for u, _ in Accounts(site.refs.store).roster()} == {"org", "reg", "watcher"}


def test_the_join_form_names_what_is_wrong_next_to_each_field(site: Live) -> None:
    sign_in(site.client, "org")
    code = invite(site.client, "observer")
    answer = join(fresh(site), code, "org", again="something else entirely", password="short")
    assert answer.status_code == 400
    page = html.unescape(answer.text)
    assert 'id="username-error">This username is taken' in page
    assert 'id="password-error">a password needs at least 12 characters' in page
    assert 'id="password_again-error">The two passwords differ.' in page
    assert code not in page and "short" not in page.split("<form")[1]
    assert len(Accounts(site.refs.store).pending_invitations()) == 1  # still usable


def test_wrong_codes_are_throttled(site: Live) -> None:
    client = fresh(site)
    for _ in range(ADDRESS_FAILURES):
        assert join(client, "y" * 43, "guesser").status_code == 409
    assert join(client, "y" * 43, "guesser").status_code == 429


@pytest.mark.parametrize("code", ["", "z" * 43])
def test_without_a_good_code_the_join_form_says_nothing_of_the_username(site: Live, code: str) -> None:
    client = fresh(site)
    for _ in range(ADDRESS_FAILURES):  # a registrar's name, tried with no code or a made-up one
        answer = join(client, code, "reg")
        assert answer.status_code == 409
        assert "taken" not in answer.text and 'id="username-error"' not in answer.text
    locked = join(client, code, "reg")  # and every try counts
    assert locked.status_code == 429 and "taken" not in locked.text
    assert {u for u, _ in Accounts(site.refs.store).roster()} == {"org", "reg", "watcher"}


def test_only_an_organiser_sees_the_accounts_and_invites(site: Live) -> None:
    for name in ("reg", "watcher"):
        client = fresh(site)
        sign_in(client, name)
        csrf = csrf_in(client.get("/console").text)
        assert client.get("/console/accounts").status_code == 403
        invited = client.post("/console/accounts/invite", data={"role": "organiser", "csrf": csrf})
        assert invited.status_code == 403
    assert Accounts(site.refs.store).pending_invitations() == []


def test_an_invitation_without_its_csrf_token_is_refused(site: Live) -> None:
    sign_in(site.client, "org")
    forged = site.client.post("/console/accounts/invite", data={"role": "organiser", "csrf": "0" * 64})
    assert forged.status_code == 403
    assert Accounts(site.refs.store).pending_invitations() == []
    code = invite(site.client, "observer")
    client = fresh(site)
    client.get("/console/join")
    no_field = client.post(
        "/console/join",
        data={"code": code, "username": "x1", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert no_field.status_code == 403
    no_cookie = TestClient(site.client.app).post(
        "/console/join",
        data={"code": code, "username": "x1", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
        | {"csrf": "a" * 64},
        follow_redirects=False,
    )
    assert no_cookie.status_code == 403
    assert "x1" not in [u for u, _ in Accounts(site.refs.store).roster()]


def test_an_organiser_withdraws_an_invitation(site: Live) -> None:
    sign_in(site.client, "org")
    code = invite(site.client, "organiser")
    page = site.client.get("/console/accounts?lang=en").text
    ref = re.search(r'name="ref" value="([0-9a-f]{64})"', page)
    assert ref
    withdrawn = site.client.post(
        "/console/accounts/revoke", data={"ref": ref.group(1), "csrf": csrf_in(page)}, follow_redirects=False
    )
    assert withdrawn.status_code == 303
    assert "The invitation was withdrawn." in site.client.get(withdrawn.headers["location"] + "&lang=en").text
    assert join(fresh(site), code, "too-late").status_code == 409
