"""The console's front door: accounts, signing in (throttled), sessions,
CSRF on every form, roles, the audit log; an anonymous client gets the
sign-in page on every console route the app registers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from istifta.store.accounts import ACCOUNT_FAILURES, ADDRESS_FAILURES, Accounts
from istifta.web.console import common as console

from .conftest import Live, serve

PASSWORD = "correct horse battery"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Live]:
    for live in serve(tmp_path, None):
        accounts = Accounts(live.refs.store)
        accounts.create("org", PASSWORD, "organiser")
        accounts.create("watcher", PASSWORD, "observer")
        yield live


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    page = client.get("/console/login?lang=en").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf
    answer = client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return str(answer.headers["location"])


def test_an_organiser_signs_in_sees_the_audit_log_and_signs_out(site: Live) -> None:
    assert sign_in(site.client, "org") == "/console"
    cookie = site.client.cookies.get(console.COOKIE)
    assert cookie
    home = site.client.get("/console?lang=en")
    assert "Signed in as org (organiser)." in home.text and "Audit log" in home.text
    assert "sign in" in home.text and "create account: watcher (observer)" in home.text
    assert cookie not in home.text  # the session token never appears in a page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', home.text)
    assert csrf
    out = site.client.post("/console/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert site.client.get("/console", follow_redirects=False).headers["location"] == "/console/login"


def test_the_session_cookie_is_httponly_and_strict(site: Live) -> None:
    page = site.client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert csrf
    answer = site.client.post(
        "/console/login",
        data={"username": "org", "password": PASSWORD, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/console" in header


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_address(site: Live) -> None:
    assert sign_in(site.client, "org", "not the password") == "/console/login?failed=wrong"
    assert "The name or the password is wrong." in site.client.get("/console/login?failed=wrong&lang=en").text
    assert sign_in(site.client, "nobody", "whatever at all") == "/console/login?failed=wrong"
    for n in range(ADDRESS_FAILURES - 2):  # any names, from one address
        assert sign_in(site.client, f"guess{n}", "not the password") == "/console/login?failed=wrong"
    locked = sign_in(site.client, "watcher")  # even another account's right password, for a while
    assert locked == "/console/login?failed=locked15"
    page = site.client.get(f"{locked}&lang=en").text
    assert "Too many failed attempts: try again in 15 minutes." in page
    assert site.client.cookies.get(console.COOKIE) is None


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Live]:
    """Behind a proxy that adds the client's address to X-Forwarded-For."""
    for live in serve(tmp_path, None, trust_forwarded=True):
        Accounts(live.refs.store).create("org", PASSWORD, "organiser")
        yield live


def test_guesses_from_many_addresses_lock_the_account_not_the_others(proxied: Live) -> None:
    client = proxied.client
    Accounts(proxied.refs.store).create("amina", PASSWORD, "organiser")
    for n in range(ACCOUNT_FAILURES):  # two guesses from each of ten addresses: no address is locked
        client.headers["x-forwarded-for"] = f"198.51.100.{n // 2}"
        assert sign_in(client, "org", f"guess number {n}") == "/console/login?failed=wrong"
    client.headers["x-forwarded-for"] = "203.0.113.9"  # the organiser, from elsewhere
    assert sign_in(client, "org").startswith("/console/login?failed=locked")
    assert sign_in(client, "amina") == "/console"  # another account is not locked


def test_the_proxys_hop_counts_not_what_the_client_wrote(proxied: Live) -> None:
    client = proxied.client
    for n in range(ADDRESS_FAILURES):  # one client writes a new first hop each time
        client.headers["x-forwarded-for"] = f"10.9.8.{n}, 192.0.2.44"
        assert sign_in(client, f"guess{n}", "not the password") == "/console/login?failed=wrong"
    client.headers["x-forwarded-for"] = "10.0.0.1, 192.0.2.44"
    assert sign_in(client, "org").startswith("/console/login?failed=locked")
    client.headers["x-forwarded-for"] = "192.0.2.45"  # a neighbour is not
    assert sign_in(client, "org") == "/console"


def test_a_form_without_its_token_is_refused(site: Live) -> None:
    site.client.get("/console/login")
    forged = site.client.post(
        "/console/login",
        data={"username": "org", "password": PASSWORD, "csrf": "0" * 64},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    sign_in(site.client, "org")
    out = site.client.post("/console/logout", data={"csrf": "f" * 64}, follow_redirects=False)
    assert out.status_code == 403
    assert site.client.get("/console", follow_redirects=False).status_code == 200  # still signed in


def test_an_observer_does_not_see_the_audit_log(site: Live) -> None:
    sign_in(site.client, "watcher")
    home = site.client.get("/console?lang=en").text
    assert "Signed in as watcher (observer)." in home and "Audit log" not in home


def test_every_console_route_sends_an_anonymous_client_to_sign_in(site: Live) -> None:
    routes = [r for r in every_route(site.client.app.routes) if r.path.startswith("/console")]  # type: ignore[attr-defined]
    assert len(routes) >= 4
    for route in routes:
        if route.path in ("/console/login", "/console/join"):
            continue
        for method in route.methods or ():
            if method == "HEAD":
                continue
            answer = site.client.request(method, route.path, data={"csrf": "x"}, follow_redirects=False)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/console/login"), route.path


def every_route(routes: list[Any]) -> Iterator[Route]:
    """The app's routes, into the routers it included (FastAPI nests them)."""
    for route in routes:
        if isinstance(route, Route):
            yield route
        elif hasattr(route, "original_router"):
            yield from every_route(route.original_router.routes)


def test_accounts_refuse_weak_or_bad_input(site: Live) -> None:
    from istifta.errors import DecodeError, LifecycleError

    accounts = Accounts(site.refs.store)
    with pytest.raises(DecodeError, match="at least 12 characters"):
        accounts.create("bob", "short", "organiser")
    with pytest.raises(DecodeError, match="is not a role"):
        accounts.create("bob", PASSWORD, "king")
    with pytest.raises(LifecycleError, match="already an account"):
        accounts.create("org", PASSWORD, "observer")
