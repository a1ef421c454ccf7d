"""Every console route, for every role: who may use it, who gets 403; the
headers and the page scripts; and no secret in any log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from istifta.testing import live_manifest

from .test_console import PASSWORD, every_route
from .test_console_referendum import SLUG, Desk, ceremony_for

ALL = {"organiser", "registrar", "observer"}
ORGANISER = {"organiser"}
SENDERS = {"organiser", "registrar"}
ANYONE = {"anonymous"}
ROLES: dict[tuple[str, str], set[str]] = {
    ("GET", "/console/login"): ANYONE,
    ("POST", "/console/login"): ANYONE,
    ("GET", "/console/join"): ANYONE,
    ("POST", "/console/join"): ANYONE,
    ("POST", "/console/logout"): ALL,
    ("GET", "/console"): ALL,
    ("GET", "/console/new"): ORGANISER,
    ("POST", "/console/new"): ORGANISER,
    ("POST", "/console/new/manifest"): ORGANISER,
    ("GET", "/console/accounts"): ORGANISER,
    ("POST", "/console/accounts/invite"): ORGANISER,
    ("POST", "/console/accounts/revoke"): ORGANISER,
    ("POST", "/console/accounts/change"): ORGANISER,
    ("GET", "/console/r/{slug}"): ALL,
    ("GET", "/console/r/{slug}/preview"): ALL,
    ("GET", "/console/r/{slug}/turnout.json"): ALL,
    ("GET", "/console/r/{slug}/turnout.svg"): ALL,
    ("GET", "/console/r/{slug}/trustees"): ALL,
    ("POST", "/console/r/{slug}/trustees"): ORGANISER,
    ("POST", "/console/r/{slug}/trustees/confirm"): ORGANISER,
    ("POST", "/console/r/{slug}/decryptions"): ORGANISER,
    ("GET", "/console/r/{slug}/confirm/{action}"): ORGANISER,
    ("POST", "/console/r/{slug}/run/{action}"): ORGANISER,
    ("GET", "/console/r/{slug}/electorate"): ALL,
    ("POST", "/console/r/{slug}/electorate/check"): SENDERS,
    ("POST", "/console/r/{slug}/electorate/apply"): SENDERS,
    ("GET", "/console/r/{slug}/invitations"): ALL,
    ("GET", "/console/r/{slug}/invitations/counts.json"): ALL,
    ("GET", "/console/r/{slug}/invitations/chart.svg"): ALL,
    ("POST", "/console/r/{slug}/invitations/check"): SENDERS,
    ("POST", "/console/r/{slug}/invitations/templates"): SENDERS,
    ("POST", "/console/r/{slug}/invitations/send"): SENDERS,
    ("POST", "/console/r/{slug}/invitations/pause"): SENDERS,
    ("POST", "/console/r/{slug}/invitations/resume"): SENDERS,
    ("POST", "/console/r/{slug}/invitations/remind"): SENDERS,
    ("POST", "/console/r/{slug}/invitations/resend"): SENDERS,
}
"""Who may use each console route; docs/console.md has the same table in words."""


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:

    d = Desk(tmp_path)
    ceremony_for(d)
    yield d
    d.refs.close_store()


def console_routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in every_route(client.app.routes):  # type: ignore[attr-defined]
        if route.path.startswith("/console"):
            found += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
    return found


def concrete(path: str) -> str:
    return path.replace("{slug}", SLUG).replace("{action}", "open")


def test_every_console_route_is_in_the_roles_table(desk: Desk) -> None:
    with TestClient(desk.app) as client:
        registered = set(console_routes(client))
    assert registered == set(ROLES), "a console route was added or removed: say who may use it in ROLES"


@pytest.mark.parametrize("role", ["organiser", "registrar", "observer"])
def test_each_role_reaches_only_its_routes(desk: Desk, role: str) -> None:
    """A route refuses a role it is not for with 403, before reading the form: even
    with the right CSRF token, nothing is done. A route it is for never answers 403
    (its own checks may still refuse the empty form)."""
    client = desk.client({"organiser": "org", "registrar": "reg", "observer": "obs"}[role])
    csrf = desk.csrf(client)
    for (method, path), allowed in ROLES.items():
        if allowed == ANYONE or path == "/console/logout":
            continue
        answer = client.request(method, concrete(path), data={"csrf": csrf}, follow_redirects=False)
        if role in allowed:
            assert answer.status_code != 403, (method, path)
        else:
            assert answer.status_code == 403, (method, path, answer.status_code)
    assert desk.refs.state(SLUG) == "draft"


def test_console_pages_carry_the_security_headers_and_no_inline_script(desk: Desk) -> None:
    client = desk.client("org")
    for path in (
        "/console",
        "/console/new",
        f"/console/r/{SLUG}",
        f"/console/r/{SLUG}/trustees",
        f"/console/r/{SLUG}/electorate",
        f"/console/r/{SLUG}/invitations",
        "/console/accounts",
        f"/console/r/{SLUG}/confirm/open",
        f"/console/r/{SLUG}/preview",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"
        scripts = re.findall(r"<script([^>]*)>", answer.text)
        assert all('src="/static/js/' in s or 'type="application/json"' in s for s in scripts), path
        assert not re.search(r"\son[a-z]+=", answer.text), path  # no inline event handlers


def test_no_secret_reaches_a_log(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    """Passwords, session tokens and invitation codes stay out of every log line and the audit log."""
    caplog.set_level(logging.DEBUG)
    org = desk.client("org")
    session = org.cookies.get("istifta_session")
    csrf = desk.csrf(org)
    shown = org.post("/console/accounts/invite", data={"csrf": csrf, "role": "observer"}).text
    code = re.search(r"/console/join#([A-Za-z0-9_-]+)", shown)
    assert code and session
    newcomer = TestClient(desk.app)
    page = newcomer.get("/console/join").text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token
    joined = newcomer.post(
        "/console/join",
        data={
            "csrf": token.group(1),
            "code": code.group(1),
            "username": "newcomer",
            "password": "a long secret phrase",
            "password_again": "a long secret phrase",
        },
        follow_redirects=False,
    )
    assert joined.status_code == 303
    desk.refs.create(live_manifest(slug="another"))
    log = org.get("/console?lang=en").text
    assert "newcomer" in log
    secrets = (PASSWORD, "a long secret phrase", session, code.group(1))
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in log
