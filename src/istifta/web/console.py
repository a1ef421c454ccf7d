"""The organisers' console at ``/console``: signing in and out, and the home
page (the referendums, and the audit log for organisers). Every route but
the sign-in page needs a session; every form carries a CSRF token.

Built so far: accounts, sessions, CSRF, throttled sign-in, the audit log.
The console's actions (create, electorate, invitations, open/close/tally/
publish) call the same library as the CLI and come next.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from istifta.accounts import SESSION_HOURS, Accounts, SignedIn
from istifta.web.errors import ApiError
from istifta.web.pages import render
from istifta.web.services import client_address, services

__all__ = ["COOKIE", "router"]

COOKIE = "istifta_session"
LOGIN_CSRF = "istifta_login_csrf"
FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
router = APIRouter(prefix="/console", include_in_schema=False)
_failures: dict[tuple[str, str], list[float]] = {}


class SignInRequired(Exception):
    """No valid session: the answer is the sign-in page."""


def _accounts(request: Request) -> Accounts:
    return Accounts(services(request).refs.store)


def signed_in(request: Request) -> SignedIn:
    who = _accounts(request).signed_in(request.cookies.get(COOKIE))
    if who is None:
        raise SignInRequired()
    return who


def require(*roles: str) -> Callable[[Request], SignedIn]:
    def check(request: Request) -> SignedIn:
        who = signed_in(request)
        if not who.may(*roles):
            raise ApiError(403, "forbidden", f"a {who.role} may not do this")
        return who

    return check


def check_csrf(who: SignedIn, token: str) -> None:
    if not hmac.compare_digest(who.csrf.encode(), token.encode()):
        raise ApiError(403, "csrf", "the form has expired: reload the page and try again")


def _locked(key: tuple[str, str]) -> float:
    now = time.monotonic()
    recent = [t for t in _failures.get(key, []) if now - t < LOCKOUT_SECONDS]
    _failures[key] = recent
    return LOCKOUT_SECONDS - (now - recent[0]) if len(recent) >= FAILURES else 0.0


def _cookie_options(request: Request) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/console",
    }


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, failed: str = "") -> HTMLResponse:
    token = secrets.token_hex(32)
    page = render(request, "console_login.html", csrf=token, failed=failed)
    page.set_cookie(LOGIN_CSRF, token, max_age=3600, **_cookie_options(request))  # type: ignore[arg-type]
    page.headers["Cache-Control"] = "no-store"
    return page


@router.post("/login", response_model=None)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        raise ApiError(403, "csrf", "the form has expired: reload the page and try again")
    key = (username.strip().lower(), client_address(request, services(request).settings.trust_forwarded))
    wait = _locked(key)
    if wait:
        return RedirectResponse(f"/console/login?failed=locked{int(wait // 60) + 1}", status_code=303)
    token = _accounts(request).sign_in(key[0], password)
    if token is None:
        _failures.setdefault(key, []).append(time.monotonic())
        return RedirectResponse("/console/login?failed=wrong", status_code=303)
    _failures.pop(key, None)
    answer = RedirectResponse("/console", status_code=303)
    answer.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, **_cookie_options(request))  # type: ignore[arg-type]
    answer.delete_cookie(LOGIN_CSRF, path="/console")
    return answer


@router.post("/logout", response_model=None)
def logout(
    request: Request, who: Annotated[SignedIn, Depends(signed_in)], csrf: Annotated[str, Form(max_length=64)]
) -> Response:
    check_csrf(who, csrf)
    _accounts(request).sign_out(request.cookies.get(COOKIE, ""), who.username)
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/console")
    return answer


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: Annotated[SignedIn, Depends(signed_in)]) -> HTMLResponse:
    log = _accounts(request).audit_log() if who.may("organiser") else []
    page = render(
        request,
        "console_home.html",
        who=who,
        referendums=services(request).views.summaries(),
        log=log,
        utc=UTC,
    )
    page.headers["Cache-Control"] = "no-store"
    return page
