"""The console's "new referendum" page: the manifest from a form, or uploaded.

The form holds the question(s) and their options in each chosen language,
the schedule (in the pages' time zone) and the trustees' ``t`` of ``n``. It
builds the same manifest the CLI takes (PROTOCOL.md §2), checked by the same
parser; :func:`~istifta.protocol.manifest.manifest_problems` gives every bad
field at once, each shown next to its input. "Preview" shows the ballot in
each language exactly as voters will see it, before anything is created;
"Create" calls :meth:`Referendums.create`, as ``istifta election create`` does.
Questions and options are added and removed by submitting the form (no script
needed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile

from istifta.errors import ManifestError, WrongState
from istifta.i18n import LANGUAGES, Translator, translator
from istifta.protocol.manifest import MAX_OPTIONS, MAX_QUESTIONS, VERSION, manifest_problems
from istifta.store.accounts import SignedIn
from istifta.web.console.common import audit, page, read_form, require
from istifta.web.rendering import ballot_preview, language_of
from istifta.web.services import services

__all__ = ["previews_for", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)
MANIFEST_LIMIT = 256 * 1024
"""The largest manifest file taken: 20 questions × 64 options × 3 languages fit well within it."""
FORM_LIMIT = 1024 * 1024
"""The largest form of a new referendum taken (every text of the largest manifest, and more)."""
FORM_FIELDS = 8 + MAX_QUESTIONS * (6 + 3 * MAX_OPTIONS)
_LOCAL = "%Y-%m-%dT%H:%M"
_RANGE = re.compile(r"expected a number from (\d+) to (\d+)")


@dataclass
class Draft:
    """What the form holds, field by field, as typed."""

    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    slug: str = ""
    title: dict[str, str] = field(default_factory=dict)
    questions: list[dict[str, Any]] = field(default_factory=list)
    opens_at: str = ""
    closes_at: str = ""
    n: str = "3"
    threshold: str = "2"

    @classmethod
    def blank(cls, zone: ZoneInfo) -> Draft:
        start = (datetime.now(zone) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        return cls(
            questions=[_question(2)],
            opens_at=start.strftime(_LOCAL),
            closes_at=(start + timedelta(hours=12)).strftime(_LOCAL),
        )

    @classmethod
    def read(cls, form: FormData) -> Draft:
        def get(name: str) -> str:
            value = form.get(name, "")
            return value.strip() if isinstance(value, str) else ""

        languages = [code for code in LANGUAGES if code in form.getlist("lang")]
        count = _bounded(get("questions"), 1, MAX_QUESTIONS)
        questions = []
        for i in range(count):
            options = _bounded(get(f"q{i}.options"), 2, MAX_OPTIONS)
            questions.append(
                {
                    "text": {code: get(f"q{i}.text.{code}") for code in LANGUAGES},
                    "options": [
                        {code: get(f"q{i}.o{k}.{code}") for code in LANGUAGES} for k in range(options)
                    ],
                    "min": get(f"q{i}.min") or "1",
                    "max": get(f"q{i}.max") or "1",
                }
            )
        return cls(
            languages,
            get("slug"),
            {code: get(f"title.{code}") for code in LANGUAGES},
            questions,
            get("opens_at"),
            get("closes_at"),
            get("n"),
            get("threshold"),
        )

    def manifest(self, zone: ZoneInfo, problems: dict[str, str], t: Translator) -> dict[str, Any]:
        """The manifest this form describes; a time or a number that cannot be read goes to ``problems``."""

        def pick(texts: dict[str, str]) -> dict[str, str]:
            return {code: texts.get(code, "") for code in self.languages}

        return {
            "version": VERSION,
            "slug": self.slug,
            "title": pick(self.title),
            "questions": [
                {
                    "text": pick(q["text"]),
                    "options": [{"label": pick(o)} for o in q["options"]],
                    "min": _number(q["min"], f"q{i}.min", problems, t),
                    "max": _number(q["max"], f"q{i}.max", problems, t),
                }
                for i, q in enumerate(self.questions)
            ],
            "opens_at": _utc(self.opens_at, "opens_at", zone, problems, t),
            "closes_at": _utc(self.closes_at, "closes_at", zone, problems, t),
            "trustees": {
                "n": _number(self.n, "n", problems, t),
                "threshold": _number(self.threshold, "threshold", problems, t),
            },
        }

    def change(self, action: str) -> None:
        """Add or remove a question or an option (the form's small buttons)."""
        what, _, where = action.partition(":")
        if what == "add_question" and len(self.questions) < MAX_QUESTIONS:
            self.questions.append(_question(2))
        elif what == "remove_question" and len(self.questions) > 1:
            self.questions.pop()
        elif what in ("add_option", "remove_option") and _whole(where) and int(where) < len(self.questions):
            options = self.questions[int(where)]["options"]
            if what == "add_option" and len(options) < MAX_OPTIONS:
                options.append({code: "" for code in LANGUAGES})
            elif what == "remove_option" and len(options) > 2:
                options.pop()


def _question(options: int) -> dict[str, Any]:
    return {
        "text": {code: "" for code in LANGUAGES},
        "options": [{code: "" for code in LANGUAGES} for _ in range(options)],
        "min": "1",
        "max": "1",
    }


def _whole(value: str) -> bool:
    """Digits 0-9 only (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    return value.isascii() and value.isdecimal()


def _bounded(value: str, low: int, high: int) -> int:
    return min(max(int(value), low), high) if _whole(value) and len(value) < 6 else low


def _number(value: str, name: str, problems: dict[str, str], t: Translator) -> int | str:
    if _whole(value) and len(value) < 6:
        return int(value)
    problems[name] = t.gettext("Give a whole number.")
    return value


def _utc(value: str, name: str, zone: ZoneInfo, problems: dict[str, str], t: Translator) -> str:
    try:
        local = datetime.strptime(value, _LOCAL).replace(tzinfo=zone)
    except ValueError:
        problems[name] = t.gettext("Give a date and a time.")
        return value
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def form_field(path: str) -> str:
    """The form input a manifest field is typed in: ``questions[0].options[1].label.ar`` → ``q0.o1.ar``."""
    name = re.sub(r"\.options\[(\d+)\]\.label", r".o\1", path)
    name = re.sub(r"^questions\[(\d+)\]", r"q\1", name)
    return name.removeprefix("trustees.")


def explain(error: ManifestError, t: Translator) -> str:
    """A manifest error in the organiser's language, where it is one the form can lead to."""
    _ = t.gettext
    reason = error.reason
    if reason == "expected non-empty text":
        return _("Write this text.")
    if error.field == "slug":
        return _("Use 1 to 64 lowercase Latin letters, digits and inner hyphens, e.g. coalition-2024.")
    if reason.startswith("the referendum must close after it opens"):
        return _("The referendum must close after it opens.")
    if reason.startswith("longer than"):
        return _("This text is too long: %(limit)s characters at most.") % {
            "limit": t.number(int(reason.split()[2]))
        }
    if reason.startswith("min (") and "more than max" in reason:
        return _("The least number of answers is more than the most.")
    found = _RANGE.match(reason)
    if found:
        return _("Give a whole number from %(low)s to %(high)s.") % {
            "low": t.number(int(found.group(1))),
            "high": t.number(int(found.group(2))),
        }
    return reason


def _render(request: Request, who: SignedIn, draft: Draft, **context: Any) -> HTMLResponse:
    return page(
        request,
        "console_new.html",
        who,
        context.pop("status", 200),
        draft=draft,
        all_languages=list(LANGUAGES.values()),
        zone=services(request).settings.timezone,
        errors=context.pop("errors", {}),
        **context,
    )


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(services(request).settings.timezone)


def _t(request: Request) -> Translator:
    return translator(language_of(request).code, services(request).settings.timezone)


@router.get("/new", response_class=HTMLResponse)
def new_form(request: Request, who: Annotated[SignedIn, Depends(require("organiser"))]) -> HTMLResponse:
    return _render(request, who, Draft.blank(_zone(request)))


@router.post("/new", response_model=None, max_body_size=FORM_LIMIT)
async def new_submit(request: Request, who: Annotated[SignedIn, Depends(require("organiser"))]) -> Response:
    async with read_form(request, who, max_fields=FORM_FIELDS) as form:
        return _new_submit(request, who, form)


def _new_submit(request: Request, who: SignedIn, form: FormData) -> Response:
    draft = Draft.read(form)
    action = str(form.get("action", "create"))
    if action not in ("create", "preview"):
        draft.change(action)
        return _render(request, who, draft)
    t = _t(request)
    errors: dict[str, str] = {}
    if not draft.languages:
        errors["lang"] = t.gettext("Choose at least one language.")
    raw = draft.manifest(_zone(request), errors, t)
    if not errors:
        for problem in manifest_problems(raw):
            errors.setdefault(form_field(problem.field), explain(problem, t))
    if errors:
        return _render(request, who, draft, errors=errors, status=400)
    if action == "preview":
        previews = [
            ballot_preview(raw, code, services(request).settings.timezone) for code in draft.languages
        ]
        return _render(request, who, draft, previews=previews)
    return _create(
        request, who, raw, lambda message: _render(request, who, draft, errors={"slug": message}, status=409)
    )


def _create(request: Request, who: SignedIn, raw: Any, refused: Any) -> Response:
    refs = services(request).refs
    try:
        manifest = refs.create(raw)
    except WrongState as exc:  # the slug is taken
        if exc.state != "exists":
            raise
        return refused(_t(request).gettext("A referendum with this short name already exists."))  # type: ignore[no-any-return]
    audit(request, who, "create referendum", f"{manifest.slug} ({manifest.manifest_hash[:16]})")
    return RedirectResponse(f"/console/r/{manifest.slug}?done=created", status_code=303)


@router.post("/new/manifest", response_model=None, max_body_size=MANIFEST_LIMIT + 64 * 1024)
async def new_from_manifest(
    request: Request, who: Annotated[SignedIn, Depends(require("organiser"))]
) -> Response:
    """A manifest file (form field ``manifest``; and ``csrf``), read once the role is checked."""
    async with read_form(request, who, max_files=1) as form:
        manifest = form.get("manifest")
        body = await manifest.read(MANIFEST_LIMIT + 1) if isinstance(manifest, UploadFile) else b""
    t = _t(request)
    draft = Draft.blank(_zone(request))

    def refused(message: str, problems: list[tuple[str, str]] | None = None) -> HTMLResponse:
        return _render(request, who, draft, upload_error=message, upload_problems=problems or [], status=400)

    if len(body) > MANIFEST_LIMIT:
        return refused(t.gettext("This file is too large for a manifest (at most 256 KB)."))
    try:
        raw = json.loads(body.decode("utf-8"))
    except RecursionError:
        return refused(t.gettext("This file is not JSON text: %(reason)s") % {"reason": "nested too deeply"})
    except (UnicodeDecodeError, ValueError) as exc:
        return refused(t.gettext("This file is not JSON text: %(reason)s") % {"reason": str(exc)})
    problems = manifest_problems(raw)
    if problems:
        return refused(
            t.gettext("The manifest has mistakes; nothing was created."),
            [(p.field, explain(p, t)) for p in problems],
        )
    return _create(request, who, raw, lambda message: refused(message))


def previews_for(request: Request, manifest: dict[str, Any]) -> list[Markup]:
    """The ballot in each of the manifest's languages that the pages speak."""
    zone = services(request).settings.timezone
    return [ballot_preview(manifest, code, zone) for code in manifest["title"] if code in LANGUAGES]
