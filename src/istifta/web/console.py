"""The organisers' console at ``/console``: signing in and out, the home
page (the referendums, and the audit log for organisers), and what every
console page shares: :func:`signed_in` and :func:`require` (roles),
:func:`check_csrf`, :func:`audit` and :func:`page`.

Every route but the sign-in and join pages needs a session; every form
carries a CSRF token; every action is written to the audit log. The other
``console_*`` modules hold the pages of one referendum; they call the same
library as the CLI, never a second implementation.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from istifta.i18n import translator
from istifta.store.accounts import SESSION_HOURS, Accounts, Busy, SignedIn, Throttled
from istifta.web.errors import ApiError
from istifta.web.pages import language_of, render, state_text
from istifta.web.services import client_address, services

__all__ = [
    "COOKIE",
    "EVERYONE",
    "audit",
    "check_csrf",
    "page",
    "read_form",
    "require",
    "router",
    "signed_in",
]

COOKIE = "istifta_session"
LOGIN_CSRF = "istifta_login_csrf"
router = APIRouter(prefix="/console", include_in_schema=False)


EVERYONE = ("organiser", "registrar", "observer")


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


@asynccontextmanager
async def read_form(
    request: Request,
    who: SignedIn,
    *,
    max_files: int = 0,
    max_fields: int = 16,
    max_part_size: int = 64 * 1024,
) -> AsyncIterator[FormData]:
    """The form of a signed-in request, parsed only now that its role has been checked,
    within the limits given, its CSRF token checked; its files closed at the end. (A
    ``Form``/``File`` parameter would have FastAPI parse the body, files and all,
    before the role is known.)"""
    async with request.form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size) as form:
        csrf = form.get("csrf")
        check_csrf(who, csrf if isinstance(csrf, str) else "")
        yield form


def audit(request: Request, who: SignedIn, action: str, target: str | None = None) -> None:
    """Write one console action to the audit log (never a secret: no code, password or token)."""
    _accounts(request).audit(who.username, action, target)


def page(request: Request, template: str, who: SignedIn, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page: never cached, with the signed-in account for the menu and the forms' CSRF token."""
    t = translator(language_of(request).code, services(request).settings.timezone)
    states = {s: state_text(t, s) for s in ("draft", "open", "closed", "tallied", "published")}
    answer = render(request, template, status, who=who, utc=UTC, states=states, zip=zip, **context)
    answer.headers["Cache-Control"] = "no-store"
    return answer


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
        token = _accounts(request).sign_in(username.strip().lower(), password, address)
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
    _accounts(request).sign_out(request.cookies.get(COOKIE, ""), who.username)
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/console")
    return answer


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: Annotated[SignedIn, Depends(signed_in)]) -> HTMLResponse:
    log = _accounts(request).audit_log() if who.may("organiser") else []
    return page(
        request, "console_home.html", who, referendums=services(request).views.summaries(drafts=True), log=log
    )
