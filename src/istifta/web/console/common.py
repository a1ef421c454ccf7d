"""What every console page shares: the session (:func:`signed_in`,
:func:`require` for roles), the CSRF check, the form read only after both
(:func:`read_form`), the audit log (:func:`audit`) and the page itself
(:func:`page`, never cached).

Every route but the sign-in and join pages needs a session; every form
carries a CSRF token; every action is written to the audit log. The
console's modules hold the pages of one referendum; they call the same
library as the CLI, never a second implementation.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from istifta.errors import IstiftaError
from istifta.i18n import translator
from istifta.store.accounts import Accounts, SignedIn
from istifta.web.errors import ApiError
from istifta.web.rendering import language_of, render, state_text
from istifta.web.services import services

__all__ = [
    "COOKIE",
    "EVERYONE",
    "LOGIN_CSRF",
    "SignInRequired",
    "accounts_of",
    "audit",
    "check_csrf",
    "page",
    "read_form",
    "require",
    "signed_in",
]

COOKIE = "istifta_session"
LOGIN_CSRF = "istifta_login_csrf"


EVERYONE = ("organiser", "registrar", "observer")


class SignInRequired(IstiftaError):
    """No valid session: the answer is the sign-in page."""


def accounts_of(request: Request) -> Accounts:
    return Accounts(services(request).refs.store)


def signed_in(request: Request) -> SignedIn:
    who = accounts_of(request).signed_in(request.cookies.get(COOKIE))
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
    accounts_of(request).audit(who.username, action, target)


def page(request: Request, template: str, who: SignedIn, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page: never cached, with the signed-in account for the menu and the forms' CSRF token."""
    t = translator(language_of(request).code, services(request).settings.timezone)
    states = {s: state_text(t, s) for s in ("draft", "open", "closed", "tallied", "published")}
    answer = render(request, template, status, who=who, utc=UTC, states=states, zip=zip, **context)
    answer.headers["Cache-Control"] = "no-store"
    return answer
