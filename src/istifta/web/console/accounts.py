"""The console's accounts: the roster, invitations, and the page where an
invited person opens their account.

An organiser invites someone with a role and hands them the link the page
shows once, ``{base}/console/join#CODE``: the code is in the fragment, which a
browser never sends, so no server or proxy log holds it. The join page needs
no session; like the sign-in page it carries a double-submit CSRF token (a
cookie and the same value in the form), and wrong codes from one address are
throttled as wrong passwords are.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from istifta.errors import IstiftaError
from istifta.i18n import Translator, translator
from istifta.store.accounts import ROLES, Accounts, SignedIn, check_password, check_username
from istifta.web.console.common import check_csrf, page, require
from istifta.web.errors import ApiError
from istifta.web.rendering import language_of, render
from istifta.web.services import client_address, services

__all__ = ["JOIN_CSRF", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)
JOIN_CSRF = "istifta_join_csrf"
Organiser = Annotated[SignedIn, Depends(require("organiser"))]


def _accounts(request: Request) -> Accounts:
    return Accounts(services(request).refs.store)


def _t(request: Request) -> Translator:
    return translator(language_of(request).code, services(request).settings.timezone)


# --- the roster and the invitations (organisers) ---


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request, who: Organiser, done: str = "") -> HTMLResponse:
    t = _t(request)
    notices = {
        "revoked": t.gettext("The invitation was withdrawn."),
        "disable": t.gettext("The account is disabled and its sessions have ended."),
        "enable": t.gettext("The account may sign in again."),
        "role": t.gettext("The role was changed and the account's sessions have ended."),
        "password": t.gettext("The password was set and the account's sessions have ended."),
        "sign-out": t.gettext("The account's sessions have ended."),
        "delete": t.gettext("The account was deleted."),
    }
    return _accounts_page(request, who, done=notices.get(done))


@router.post("/accounts/change", response_model=None)
def change_account(
    request: Request,
    who: Organiser,
    action: Annotated[str, Form(max_length=16)],
    username: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=16)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
    understood: Annotated[str, Form(max_length=8)] = "",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """One organiser's change to an account; each ends that account's sessions at once."""
    check_csrf(who, csrf)
    t = _t(request)
    accounts, by = _accounts(request), who.username
    changes: dict[str, Callable[[], None]] = {
        "disable": lambda: accounts.disable(username, by),
        "enable": lambda: accounts.enable(username, by),
        "role": lambda: accounts.set_role(username, role, by),
        "password": lambda: accounts.set_password(username, password, by),
        "sign-out": lambda: accounts.end_sessions(username, by),
        "delete": lambda: accounts.delete(username, by),
    }
    if action not in changes:
        return _accounts_page(request, who, 400, problem=f"{action!r} is not a change to an account")
    if action == "password" and password != password_again:
        return _accounts_page(request, who, 400, problem=t.gettext("The two passwords differ."))
    if action == "delete" and not understood:
        problem = t.gettext("Tick the box to confirm that the account is to be deleted.")
        return _accounts_page(request, who, 400, problem=problem)
    try:
        changes[action]()
    except IstiftaError as exc:
        return _accounts_page(request, who, 409, problem=str(exc))
    if username == who.username and action != "enable":  # one's own sessions ended with it
        return RedirectResponse("/console/login", status_code=303)
    return RedirectResponse(f"/console/accounts?done={action}", status_code=303)


@router.post("/accounts/invite", response_model=None)
def invite(
    request: Request,
    who: Organiser,
    role: Annotated[str, Form(max_length=16)],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """A new invitation; the page shows its link once (it is kept only as a hash)."""
    check_csrf(who, csrf)
    try:
        code = _accounts(request).invite(role, who.username)
    except IstiftaError as exc:
        return _accounts_page(request, who, 400, problem=str(exc))
    link = f"{request.url.scheme}://{request.url.netloc}/console/join#{code}"
    return _accounts_page(request, who, link=link, invited=role)


@router.post("/accounts/revoke", response_model=None)
def revoke(
    request: Request,
    who: Organiser,
    ref: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(who, csrf)
    try:
        _accounts(request).revoke(ref, who.username)
    except IstiftaError as exc:
        return _accounts_page(request, who, 409, problem=str(exc))
    return RedirectResponse("/console/accounts?done=revoked", status_code=303)


def _accounts_page(request: Request, who: SignedIn, status: int = 200, **context: Any) -> HTMLResponse:
    accounts = _accounts(request)
    return page(
        request,
        "console_accounts.html",
        who,
        status,
        members=accounts.members(),
        pending=accounts.pending_invitations(),
        roles=ROLES,
        **context,
    )


# --- joining (no session) ---


@router.get("/join", response_class=HTMLResponse)
def join_page(request: Request) -> HTMLResponse:
    return _join_page(request)


@router.post("/join", response_model=None)
def join(
    request: Request,
    code: Annotated[str, Form(max_length=128)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    expected = request.cookies.get(JOIN_CSRF, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        raise ApiError(403, "csrf", "the form has expired: reload the page and try again")
    t = _t(request)
    accounts = _accounts(request)
    address = client_address(request, services(request).settings.trust_forwarded)
    wait = accounts.address_wait(address)
    if wait:
        minutes = t.number(int(wait // 60) + 1)
        message = t.gettext("Too many failed attempts: try again in %(minutes)s minutes.") % {
            "minutes": minutes
        }
        return _join_page(request, 429, username=username, errors={"code": message})
    username = username.strip().lower()
    errors = _field_errors(t, code, username, password, password_again)
    try:  # the code first: without a good one, nothing is said about the username
        accounts.check_invitation(code)
    except IstiftaError as exc:
        accounts.address_failed(address)
        errors["code"] = errors.get("code") or str(exc)
        return _join_page(request, 409, username=username, errors=errors)
    if "username" not in errors and accounts.username_taken(username):
        errors["username"] = t.gettext("This username is taken: choose another.")
    if errors:
        return _join_page(request, 400, username=username, errors=errors)
    try:
        accounts.join(code, username, password)
    except IstiftaError as exc:  # the code used meanwhile, the name taken meanwhile, the server busy
        field = "username" if accounts.username_taken(username) else "code"
        return _join_page(request, 409, username=username, errors={field: str(exc)})
    answer = RedirectResponse("/console/login?joined=1", status_code=303)
    answer.delete_cookie(JOIN_CSRF, path="/console")
    return answer


def _field_errors(t: Translator, code: str, username: str, password: str, again: str) -> dict[str, str]:
    """What is wrong with each field, by its form alone (never whether a name is taken)."""
    errors: dict[str, str] = {}
    if not code.strip():
        errors["code"] = t.gettext("Paste the code from the link you were given.")
    for field, check, value in (
        ("username", check_username, username),
        ("password", check_password, password),
    ):
        try:
            check(value)
        except IstiftaError as exc:
            errors[field] = str(exc)
    if password != again:
        errors["password_again"] = t.gettext("The two passwords differ.")
    return errors


def _join_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    """The join form with a fresh double-submit token (never the code or a password)."""
    token = secrets.token_hex(32)
    answer = render(request, "console_join.html", status, csrf=token, **context)
    answer.set_cookie(
        JOIN_CSRF,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer
