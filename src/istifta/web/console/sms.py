"""The console's Invitations page: the SMS templates (checked and previewed as
the organiser types), the cost estimate, sending in the background, pausing,
resuming, reminders, a resend to one voter, and the live counters and chart.

Every step calls :mod:`istifta.sms.invitations`, as ``istifta sms`` does;
sending runs in this server process (:class:`~istifta.web.services.Senders`),
one sender per referendum. Any signed-in account reads the page; organisers
and registrars act.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from istifta.errors import DecodeError, LifecycleError, WrongState
from istifta.i18n import LANGUAGES, Translator, translator
from istifta.sms import invitations, queue
from istifta.sms.invitations import Review, Templates
from istifta.sms.templates import DEFAULTS, KINDS
from istifta.store.accounts import SignedIn
from istifta.web.console.common import EVERYONE, audit, check_csrf, page, require
from istifta.web.console.timeline_chart import timeline_svg
from istifta.web.rendering import language_of
from istifta.web.services import Services, services

__all__ = ["router", "timeline_svg"]

router = APIRouter(prefix="/console", include_in_schema=False)
Reader = Annotated[SignedIn, Depends(require(*EVERYONE))]
Sender = Annotated[SignedIn, Depends(require("organiser", "registrar"))]
Csrf = Annotated[str, Form(max_length=64)]
TEXT_LIMIT = 2000
TOP_FAILURES = 5
FIELDS = tuple((kind, lang) for kind in KINDS for lang in LANGUAGES)


class TemplateForm(BaseModel):
    """The templates form: one text per (kind, language), named ``kind_lang``."""

    csrf: str = Field("", max_length=64)
    do: str = Field("check", max_length=8)
    invitation_ar: str = Field("", max_length=TEXT_LIMIT)
    invitation_ckb: str = Field("", max_length=TEXT_LIMIT)
    invitation_en: str = Field("", max_length=TEXT_LIMIT)
    reminder_ar: str = Field("", max_length=TEXT_LIMIT)
    reminder_ckb: str = Field("", max_length=TEXT_LIMIT)
    reminder_en: str = Field("", max_length=TEXT_LIMIT)

    def templates(self) -> Templates:
        """The texts given; an empty one but Arabic's is left out (that language gets the Arabic text)."""
        found = {}
        for kind, lang in FIELDS:
            text = str(getattr(self, f"{kind}_{lang}")).replace("\r\n", "\n").strip()
            if text or lang == "ar":
                found[(kind, lang)] = text
        return found


def _t(request: Request) -> Translator:
    return translator(language_of(request).code, services(request).settings.timezone)


def _zone(request: Request) -> str:
    return services(request).settings.timezone


def _money(t: Translator, amount: Decimal, currency: str) -> str:
    shown = format_decimal(amount, "#,##0.00", locale=t.language.babel_locale, numbering_system="default")
    return f"{t.digits(shown)} {currency}"


def _done(t: Translator, key: str, n: int) -> str:
    _ = t.gettext
    messages = {
        "saved": _("The templates are saved: invitations and reminders will use them."),
        "invited": _("%(n)s invitations queued; they are being sent in the background."),
        "paused": _("Sending is paused: %(n)s messages held."),
        "resumed": _("Sending resumed: %(n)s messages released."),
        "reminded": _("%(n)s reminders queued for the voters who have not voted yet."),
        "resent": _("The voter's link is queued again."),
    }
    return messages.get(key, "") % {"n": t.number(n)}


def _estimate(request: Request, slug: str, reviews: Mapping[tuple[str, str], Review]) -> dict[str, Any]:
    """The cost of inviting everyone, by language, in the page's language (no
    figures while an invitation template is refused)."""
    svc, t = services(request), _t(request)
    by_language = queue.registrations_by_language(svc.refs.store, slug)
    if any(r.segments is None for (kind, _), r in reviews.items() if kind == "invitation"):
        rows = [(LANGUAGES[lang].name, t.number(by_language.get(lang, 0)), "—", "—") for lang in LANGUAGES]
        return {"ok": False, "rows": rows, "text": t.gettext("Correct the invitation texts to see the cost.")}
    checked = {key: r.segments for key, r in reviews.items() if r.segments is not None}
    found = invitations.estimate_of(checked, by_language, svc.sms)
    per = invitations.segments_by_language(checked, "invitation")
    figures = [(lang, by_language.get(lang, 0), per[lang]) for lang in LANGUAGES]
    text = t.gettext(
        "%(voters)s voters: %(segments)s segments × %(price)s = %(cost)s. "
        "A reminder round costs at most as much."
    ) % {
        "voters": t.number(found.voters),
        "segments": t.number(found.segments),
        "price": _money(t, found.price, found.currency),
        "cost": _money(t, found.cost, found.currency),
    }
    rows = [(LANGUAGES[lang].name, t.number(v), t.number(n), t.number(v * n)) for lang, v, n in figures]
    return {"ok": True, "rows": rows, "text": text}


def _reviewed(
    request: Request, slug: str, given: Templates | None
) -> tuple[Templates, dict[tuple[str, str], Review], str]:
    """The templates (``given``, else the saved ones), each reviewed, and a problem with the saved file."""
    svc, problem = services(request), ""
    if given is None:
        try:
            given = invitations.load_templates(svc.sms.data_dir, slug)
        except DecodeError as exc:
            given, problem = invitations.parse_templates(DEFAULTS), str(exc)
    texts = invitations.texts_for(svc.refs, slug, svc.sms, given, _zone(request))
    return given, invitations.review_templates(texts, svc.sms), problem


def _review_json(t: Translator, review: Review | None) -> dict[str, Any]:
    s = review.segments if review is not None else None
    return {
        "fallback": review is None,
        "encoding": s.encoding if s else "",
        "units": s.units if s else None,
        "per_segment": s.per_segment if s else None,
        "count": s.count if s else None,
        "characters": f"{t.number(s.units)}/{t.number(s.per_segment)}" if s else "",
        "segments": t.number(s.count) if s else "",
        "preview": review.preview if review is not None else None,
        "error": review.error if review is not None else None,
    }


def _counts(request: Request, slug: str) -> dict[str, Any]:
    svc, t = services(request), _t(request)
    counts = queue.counts(svc.refs.store, slug)
    failures: list[dict[str, Any]] = [
        {"reason": reason or t.gettext("no reason given"), "count": n}
        for reason, n in queue.failure_reasons(svc.refs.store, slug, TOP_FAILURES)
    ]
    failures += [{"reason": "", "count": ""}] * (TOP_FAILURES - len(failures))  # fixed slots for data-key
    running = svc.senders.running(slug)
    return {
        **counts.to_json(),
        "cost": _money(t, counts.cost(svc.sms.price), svc.sms.currency),
        "running": running,
        "sender": t.gettext("Sending in the background") if running else t.gettext("Not sending"),
        "failures": failures,
    }


def _render(
    request: Request,
    slug: str,
    who: SignedIn,
    given: Templates | None = None,
    status: int = 200,
    **notices: Any,
) -> HTMLResponse:
    svc, t = services(request), _t(request)
    state = svc.refs.state(slug)
    templates, reviews, saved_problem = _reviewed(request, slug, given)
    fields = [
        {
            "name": f"{kind}_{lang}",
            "kind": kind,
            "language": LANGUAGES[lang],
            "text": templates.get((kind, lang), ""),
            "review": _review_json(t, reviews.get((kind, lang))),
        }
        for kind, lang in FIELDS
    ]
    return page(
        request,
        "console_invitations.html",
        who,
        status,
        slug=slug,
        tab="invitations",
        state=state,
        fields=fields,
        kinds=KINDS,
        estimate=_estimate(request, slug, reviews),
        counts=_counts(request, slug),
        sender_error=svc.senders.error(slug),
        saved_problem=saved_problem,
        sms=svc.sms,
        **({"errors": {}, "phone": ""} | notices),
    )


def _after(slug: str, done: str, n: int = 0) -> RedirectResponse:
    return RedirectResponse(f"/console/r/{slug}/invitations?done={done}&n={n}", status_code=303)


def _start(request: Request, slug: str) -> None:
    """Start the background sender of ``slug`` unless it is running."""
    svc, zone = services(request), _zone(request)
    svc.senders.start(slug, lambda: invitations.dispatcher(svc.refs, slug, svc.sms, zone))


def _refused(
    request: Request, slug: str, who: SignedIn, exc: Exception, field: str = "", **kept: Any
) -> HTMLResponse:
    """The page again with the refusal: next to ``field`` if given, else at the top; nothing changed."""
    status = 409 if isinstance(exc, WrongState) else 422
    if field and not isinstance(exc, WrongState):
        return _render(request, slug, who, status=status, errors={field: str(exc)}, **kept)
    return _render(request, slug, who, status=status, problem=str(exc), **kept)


@router.get("/r/{slug}/invitations", response_class=HTMLResponse)
def invitations_page(request: Request, slug: str, who: Reader, done: str = "", n: int = 0) -> HTMLResponse:
    return _render(request, slug, who, done=_done(_t(request), done, n))


@router.post("/r/{slug}/invitations/check")
def check(request: Request, slug: str, who: Sender, form: Annotated[TemplateForm, Form()]) -> JSONResponse:
    """Each template's encoding, characters, segments, preview or error, and the
    estimate: what templates.js shows as the organiser types."""
    check_csrf(who, form.csrf)
    t = _t(request)
    _, reviews, _ = _reviewed(request, slug, form.templates())
    answer = {
        "ok": all(r.error is None for r in reviews.values()),
        "templates": {f"{k}_{lang}": _review_json(t, reviews.get((k, lang))) for k, lang in FIELDS},
        "estimate": _estimate(request, slug, reviews),
    }
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.post("/r/{slug}/invitations/templates", response_model=None)
def save(request: Request, slug: str, who: Sender, form: Annotated[TemplateForm, Form()]) -> Response:
    """``do=check`` shows the figures (without script); ``do=save`` keeps the templates if none is refused."""
    check_csrf(who, form.csrf)
    given = form.templates()
    if form.do != "save":
        return _render(request, slug, who, given)
    svc = services(request)
    try:
        invitations.save_templates(svc.refs, slug, svc.sms, given, _zone(request))
    except DecodeError:
        problem = _t(request).gettext("Nothing was saved: correct the templates marked below.")
        return _render(request, slug, who, given, 422, problem=problem)
    audit(request, who, "save SMS templates", slug)
    return _after(slug, "saved")


def _then_send(
    request: Request,
    slug: str,
    who: SignedIn,
    done: str,
    step: Callable[[Services], tuple[str, int]],
    **form: str,
) -> Response:
    """Do ``step`` (it says what to audit and how many messages it moved), then make
    sure the background sender runs; a refusal is shown on the page, nothing sent."""
    try:
        action, count = step(services(request))
        _start(request, slug)
    except (DecodeError, LifecycleError) as exc:
        return _refused(request, slug, who, exc, **form)
    audit(request, who, action, slug)
    return _after(slug, done, count)


@router.post("/r/{slug}/invitations/send", response_model=None)
def send(request: Request, slug: str, who: Sender, csrf: Csrf = "") -> Response:
    """Queue an invitation for every voter not yet invited, and send in the background."""
    check_csrf(who, csrf)
    zone = _zone(request)

    def step(svc: Services) -> tuple[str, int]:
        return "send SMS invitations", invitations.invite(svc.refs, slug, svc.sms, zone, svc.refs.clock())

    return _then_send(request, slug, who, "invited", step)


@router.post("/r/{slug}/invitations/pause", response_model=None)
def pause(request: Request, slug: str, who: Sender, csrf: Csrf = "") -> Response:
    """Hold what is queued and stop the sender (it finishes what it has in flight)."""
    check_csrf(who, csrf)
    svc = services(request)
    held = invitations.hold(svc.refs, slug)
    svc.senders.stop(slug)
    held += invitations.hold(svc.refs, slug)  # retries the sender queued again while stopping
    audit(request, who, "pause SMS sending", slug)
    return _after(slug, "paused", held)


@router.post("/r/{slug}/invitations/resume", response_model=None)
def resume(request: Request, slug: str, who: Sender, csrf: Csrf = "") -> Response:
    """Release what is held and start the sender again."""
    check_csrf(who, csrf)

    def step(svc: Services) -> tuple[str, int]:
        invitations.require_open(svc.refs, slug)
        return "resume SMS sending", invitations.release(svc.refs, slug)

    return _then_send(request, slug, who, "resumed", step)


@router.post("/r/{slug}/invitations/remind", response_model=None)
def remind(request: Request, slug: str, who: Sender, csrf: Csrf = "") -> Response:
    """Queue the next reminder round for the voters who have not voted, and send it."""
    check_csrf(who, csrf)
    zone = _zone(request)

    def step(svc: Services) -> tuple[str, int]:
        round_, queued = invitations.remind(svc.refs, slug, svc.sms, zone, svc.refs.clock())
        return f"queue SMS reminder round {round_}", queued

    return _then_send(request, slug, who, "reminded", step)


@router.post("/r/{slug}/invitations/resend", response_model=None)
def resend(
    request: Request, slug: str, who: Sender, csrf: Csrf = "", phone: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    """Queue one voter's link again, found by phone number, and send it."""
    check_csrf(who, csrf)
    zone = _zone(request)

    def step(svc: Services) -> tuple[str, int]:
        message = invitations.resend(svc.refs, slug, phone, svc.sms, zone, svc.refs.clock())
        return f"resend SMS (message {message})", 0  # no phone number in the log

    return _then_send(request, slug, who, "resent", step, field="phone", phone=phone)


@router.get("/r/{slug}/invitations/counts.json")
def counts_json(request: Request, slug: str, who: Reader) -> JSONResponse:
    return JSONResponse(_counts(request, slug), headers={"Cache-Control": "no-store"})


@router.get("/r/{slug}/invitations/chart.svg")
def chart_svg(request: Request, slug: str, who: Reader) -> Response:
    timeline = queue.timeline(services(request).refs.store, slug)
    svg = timeline_svg(_t(request), timeline, language_of(request).direction == "rtl")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
