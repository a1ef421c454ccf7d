"""Pages in the visitor's language, for the public pages and the console alike:
one Jinja2 environment over ``web/templates``, the language a request asks
for (``?lang=``, then its cookie), and the manifest's texts and times as a
page shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from istifta.i18n import LANGUAGES, Language, Translator, pick_language, translator
from istifta.protocol.manifest import parse_time
from istifta.web.services import services

__all__ = [
    "TEMPLATES",
    "ballot_preview",
    "language_of",
    "localised",
    "render",
    "schedule_of",
    "state_text",
]

TEMPLATES = Path(__file__).parent / "templates"
env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)


def language_of(request: Request) -> Language:
    return pick_language(request.query_params.get("lang"), request.cookies.get("lang"))


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the visitor's language; a ``?lang=`` choice is remembered in a cookie."""
    language = language_of(request)
    t = translator(language.code, services(request).settings.timezone)
    page = env.get_template(template).render(
        request=request,
        lang=language,
        languages=LANGUAGES.values(),
        t=t,
        _=t.gettext,
        gettext=t.gettext,
        ngettext=t.ngettext,
        text=lambda texts: localised(texts, language.code),
        **context,
    )
    response = HTMLResponse(page, status_code=status)
    asked = request.query_params.get("lang")
    if asked is not None and asked in LANGUAGES:
        response.set_cookie("lang", asked, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def ballot_preview(manifest: dict[str, Any], code: str, timezone: str) -> Markup:
    """The ballot as voters reading ``code`` will see it (the same template as the
    ballot page, its buttons disabled): for the console, before and after creating."""
    t = translator(code, timezone)
    return Markup(
        env.get_template("_ballot_preview.html").render(
            lang=LANGUAGES[code],
            t=t,
            _=t.gettext,
            gettext=t.gettext,
            ngettext=t.ngettext,
            text=lambda texts: localised(texts, code),
            m=manifest,
            schedule=schedule_of(t, manifest),
            preview=True,
        )
    )


def localised(texts: dict[str, str], code: str) -> str:
    """A manifest text in the visitor's language, else Arabic, else the first given."""
    return texts.get(code) or texts.get("ar") or next(iter(texts.values()), "")


def schedule_of(t: Translator, manifest: dict[str, Any], closed_at: str | None = None) -> dict[str, Any]:
    """The opening and closing times to show; ``past`` once voting has closed, with the
    time it really closed (an organiser may close before the scheduled time)."""
    closes = parse_time(closed_at or manifest["closes_at"], "closes_at")
    return {
        "opens": t.time(parse_time(manifest["opens_at"], "opens_at")),
        "closes": t.time(closes),
        "past": closed_at is not None or datetime.now(UTC) > closes,
    }


def state_text(t: Translator, state: str) -> str:
    names = {
        "draft": t.gettext("Being prepared"),
        "open": t.gettext("Open for voting"),
        "closed": t.gettext("Closed: counting"),
        "tallied": t.gettext("Closed: decrypting the totals"),
        "published": t.gettext("Result published"),
    }
    return names.get(state, state)
