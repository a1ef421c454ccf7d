"""The organisers' console at ``/console``: signing in and out, and the home
page (the referendums, and the audit log for organisers)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from istifta.store.accounts import SESSION_HOURS, Busy, SignedIn, Throttled
from istifta.web.console.common import (
    COOKIE,
    LOGIN_CSRF,
    accounts_of,
    check_csrf,
    page,
    signed_in,
)
from istifta.web.errors import ApiError
from istifta.web.rendering import render
from istifta.web.services import client_address, services

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


def _cookie_options(request: Request) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/console",
    }


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, failed: str = "", joined: str = "") -> HTMLResponse:
    token = secrets.token_hex(32)
    answer = render(request, "console_login.html", csrf=token, failed=failed, joined=joined)
    answer.set_cookie(LOGIN_CSRF, token, max_age=3600, **_cookie_options(request))  # type: ignore[arg-type]
    answer.headers["Cache-Control"] = "no-store"
    return answer


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
    address = client_address(request, services(request).settings.trust_forwarded)
    try:
        token = accounts_of(request).sign_in(username.strip().lower(), password, address)
    except Throttled as exc:
        return RedirectResponse(f"/console/login?failed=locked{int(exc.wait // 60) + 1}", status_code=303)
    except Busy:
        return RedirectResponse("/console/login?failed=busy", status_code=303)
    if token is None:
        return RedirectResponse("/console/login?failed=wrong", status_code=303)
    answer = RedirectResponse("/console", status_code=303)
    answer.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, **_cookie_options(request))  # type: ignore[arg-type]
    answer.delete_cookie(LOGIN_CSRF, path="/console")
    return answer


@router.post("/logout", response_model=None)
def logout(
    request: Request, who: Annotated[SignedIn, Depends(signed_in)], csrf: Annotated[str, Form(max_length=64)]
) -> Response:
    check_csrf(who, csrf)
    accounts_of(request).sign_out(request.cookies.get(COOKIE, ""), who.username)
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/console")
    return answer


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: Annotated[SignedIn, Depends(signed_in)]) -> HTMLResponse:
    log = accounts_of(request).audit_log() if who.may("organiser") else []
    return page(
        request, "console_home.html", who, referendums=services(request).views.summaries(drafts=True), log=log
    )
