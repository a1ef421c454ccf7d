"""Revoking console accounts (issue 13, finding 11): an organiser disables,
deletes, re-roles an account, sets its password or ends its sessions, from the
console or with ``istifta admin``; each ends the account's sessions at once,
is audited without a secret, and never leaves the console without an
enabled organiser."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from istifta.cli import app as cli
from istifta.store.accounts import Accounts, Member

from . import test_console_accounts
from .conftest import Live
from .test_console import PASSWORD, sign_in
from .test_console_accounts import csrf_in

NEW = "a brand new passphrase"
site = test_console_accounts.site  # accounts org, reg and watcher


def browser(site: Live, name: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(site.client.app)
    assert sign_in(client, name, password) == "/console"
    return client


def change(client: TestClient, action: str, username: str, **form: str) -> int:
    return changed(client, action, username, **form)[0]


def changed(client: TestClient, action: str, username: str, **form: str) -> tuple[int, str]:
    """The status and the page of an organiser's change to ``username``."""
    csrf = csrf_in(client.get("/console/accounts").text)
    data = {"action": action, "username": username, "csrf": csrf, **form}
    answer = client.post("/console/accounts/change?lang=en", data=data, follow_redirects=False)
    return answer.status_code, answer.text


def still_in(client: TestClient) -> bool:
    return client.get("/console", follow_redirects=False).status_code == 200


def members(site: Live) -> list[Member]:
    return Accounts(site.refs.store).members()


def test_a_disabled_account_is_out_at_once_and_cannot_sign_in(site: Live) -> None:
    org, reg = browser(site, "org"), browser(site, "reg")
    assert change(org, "disable", "reg") == 303
    assert not still_in(reg)  # its open session ends now, not in eight hours
    assert sign_in(TestClient(site.client.app), "reg") == "/console/login?failed=wrong"
    assert Member("reg", "registrar", True) in members(site)
    assert change(org, "enable", "reg") == 303
    assert sign_in(TestClient(site.client.app), "reg") == "/console"


def test_a_new_role_and_a_new_password_end_the_sessions(site: Live) -> None:
    org, reg = browser(site, "org"), browser(site, "reg")
    assert change(org, "role", "reg", role="observer") == 303
    assert not still_in(reg)
    reg = browser(site, "reg")
    assert "Signed in as reg (observer)." in reg.get("/console?lang=en").text
    assert change(org, "password", "reg", password=NEW, password_again=NEW) == 303
    assert not still_in(reg)
    assert sign_in(TestClient(site.client.app), "reg") == "/console/login?failed=wrong"  # the old one
    assert still_in(browser(site, "reg", NEW))
    assert change(org, "sign-out", "reg") == 303
    assert still_in(org)


def test_a_deleted_account_is_gone_but_stays_in_the_audit_log(site: Live) -> None:
    org, reg = browser(site, "org"), browser(site, "reg")
    assert change(org, "delete", "reg") == 400  # without the box ticked
    assert [m.username for m in members(site)] == ["org", "reg", "watcher"]
    assert change(org, "delete", "reg", understood="yes") == 303
    assert not still_in(reg)
    assert [m.username for m in members(site)] == ["org", "watcher"]
    log = org.get("/console?lang=en").text
    assert "delete account" in log and "reg" in log


def test_only_an_organiser_may_change_accounts(site: Live) -> None:
    reg = browser(site, "reg")
    csrf = csrf_in(reg.get("/console").text)
    for action in ("disable", "role", "password", "delete", "sign-out"):
        data = {"action": action, "username": "org", "role": "registrar", "csrf": csrf}
        data |= {"password": NEW, "password_again": NEW, "understood": "yes"}
        assert reg.post("/console/accounts/change", data=data, follow_redirects=False).status_code == 403
    assert members(site)[:2] == [Member("org", "organiser", False), Member("reg", "registrar", False)]
    assert still_in(browser(site, "org"))


def test_the_last_organiser_stays(site: Live) -> None:
    org = browser(site, "org")
    for action, form in (("disable", {}), ("delete", {"understood": "yes"}), ("role", {"role": "observer"})):
        status, page = changed(org, action, "org", **form)
        assert status == 409 and "org is the last organiser: make another organiser first" in page
    assert members(site)[0] == Member("org", "organiser", False)
    assert still_in(org)
    assert change(org, "role", "reg", role="organiser") == 303
    assert change(org, "disable", "org") == 303  # now there is another
    assert not still_in(org)


def test_no_password_reaches_the_audit_log(site: Live) -> None:
    org = browser(site, "org")
    assert change(org, "password", "reg", password=NEW, password_again=NEW) == 303
    entries = Accounts(site.refs.store).audit_log()
    assert any(e.action == "set password" and e.target == "reg" and e.username == "org" for e in entries)
    assert not any(NEW in f"{e.action} {e.target}" for e in entries)


def test_istifta_admin_revokes_accounts(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()

    def admin(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, ["admin", *args, *data], input=stdin)
        return result.exit_code, result.output

    def listed() -> list[list[str]]:
        return [line.split() for line in admin("list")[1].splitlines()]

    assert admin("create", "org", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    assert admin("create", "reg", "--role", "registrar", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    assert admin("disable", "reg") == (0, "reg: disabled, its sessions ended\n")
    assert listed() == [["org", "organiser"], ["reg", "registrar", "disabled"]]
    assert admin("enable", "reg")[0] == 0
    assert admin("role", "reg", "observer")[0] == 0
    assert admin("password", "reg", "--password-stdin", stdin=NEW + "\n")[0] == 0
    assert admin("sign-out", "reg")[0] == 0
    code, output = admin("disable", "org")
    assert code == 2 and "org is the last organiser" in output
    code, output = admin("role", "nobody", "observer")
    assert code == 2 and "no account called 'nobody'" in output
    assert admin("delete", "reg", stdin="n\n")[0] == 2  # not confirmed: nothing deleted
    assert listed() == [["org", "organiser"], ["reg", "observer"]]
    assert admin("delete", "reg", "--yes")[0] == 0
    assert listed() == [["org", "organiser"]]
