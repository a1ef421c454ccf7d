"""The console's pages of one referendum: its overview (steps, turnout, board,
result), the ballot preview, the trustees' ceremony and decryption, and the
four steps that cannot be undone — open, close, tally, publish — each behind
a page that says what will happen.

Every step calls :class:`~istifta.store.referendums.Referendums`, as the CLI does;
every refusal is shown as a message, with nothing changed.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from istifta.errors import DecodeError, IstiftaError
from istifta.i18n import Translator, translator
from istifta.store.accounts import SignedIn
from istifta.store.ceremony_progress import ceremony_progress, confirm_trustee
from istifta.web.charts import standalone, turnout_chart
from istifta.web.console.common import EVERYONE, audit, check_csrf, page, read_form, require
from istifta.web.console.create import previews_for
from istifta.web.rendering import language_of, schedule_of
from istifta.web.services import services

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)
Action = Literal["open", "close", "tally", "publish"]
FILE_LIMIT = 4 * 1024 * 1024
"""The largest trustee or decryption file taken (a decryption of 20 × 64 options is about 400 KB)."""
MAX_FILES = 64
"""Files in one upload of trustees' files or decryptions, at most (a manifest has at most 64 trustees)."""
UPLOAD_LIMIT = 16 * 1024 * 1024
"""The largest upload of those files taken, all of them together."""
STATE_OF_ACTION = {"open": "draft", "close": "open", "tally": "closed", "publish": "tallied"}
Reader = Annotated[SignedIn, Depends(require(*EVERYONE))]
Organiser = Annotated[SignedIn, Depends(require("organiser"))]
Csrf = Annotated[str, Form(max_length=64)]


def _t(request: Request) -> Translator:
    return translator(language_of(request).code, services(request).settings.timezone)


def _done(t: Translator, key: str) -> str:
    _ = t.gettext
    return {
        "created": _("The referendum is created. Next: the trustees' ceremony and the electorate."),
        "open": _("The referendum is open: the parameters are on the board."),
        "close": _("The referendum is closed: no more ballots are accepted."),
        "tally": _("The encrypted totals are on the board: the trustees can now decrypt them."),
        "publish": _("The result is published."),
        "trustees": _("The trustees' files were checked and kept."),
        "confirmed": _("The trustee's confirmation matches the published keys."),
        "decryptions": _("The partial decryptions were checked and put on the board."),
    }.get(key, "")


@router.get("/r/{slug}", response_class=HTMLResponse)
def overview(request: Request, slug: str, who: Reader, done: str = "") -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug, drafts=True)
    t = _t(request)
    ceremony = ceremony_progress(svc.refs, slug)
    turnout = svc.views.turnout(slug, drafts=True)
    head = svc.refs.tree_head(slug) if s.state != "draft" else None
    result = svc.views.result(slug) if s.state == "published" else None
    return page(
        request,
        "console_referendum.html",
        who,
        slug=slug,
        tab="overview",
        r=s,
        m=s.manifest,
        schedule=schedule_of(t, s.manifest, s.closed_at),
        manifest_hash=svc.refs.manifest(slug).manifest_hash,
        ceremony=ceremony,
        eligible=sum(r.eligible for r in turnout),
        voted=sum(r.voted for r in turnout),
        head=head,
        result=result,
        next_action=next((a for a, state in STATE_OF_ACTION.items() if state == s.state), None),
        done=_done(t, done),
    )


@router.get("/r/{slug}/preview", response_class=HTMLResponse)
def preview(request: Request, slug: str, who: Reader) -> HTMLResponse:
    s = services(request).views.summary(slug, drafts=True)
    return page(
        request,
        "console_preview.html",
        who,
        slug=slug,
        tab="overview",
        r=s,
        previews=previews_for(request, s.manifest),
    )


@router.get("/r/{slug}/turnout.json")
def turnout_json(request: Request, slug: str, who: Reader) -> JSONResponse:
    svc = services(request)
    rows = svc.views.turnout(slug, drafts=True)
    eligible = sum(r.eligible for r in rows)
    voted = sum(r.voted for r in rows)
    head = svc.refs.tree_head(slug) if svc.refs.state(slug) != "draft" else None
    return JSONResponse(
        {
            "eligible": eligible,
            "voted": voted,
            "percent": _t(request).percent(voted / eligible if eligible else 0.0),
            "by_region": {r.region or "": {"eligible": r.eligible, "voted": r.voted} for r in rows},
            "board": {"size": head.size, "root": head.root.hex(), "timestamp": head.timestamp}
            if head
            else None,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/r/{slug}/turnout.svg")
def turnout_svg(request: Request, slug: str, who: Reader) -> Response:
    rows = services(request).views.turnout(slug, drafts=True)
    chart = turnout_chart(_t(request), rows, language_of(request).direction == "rtl")
    body = (
        standalone(chart)
        if chart is not None
        else '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'
    )
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


# --- the trustees ---------------------------------------------------------------------


def _trustees_page(
    request: Request, slug: str, who: SignedIn, status: int = 200, **context: Any
) -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug, drafts=True)
    return page(
        request,
        "console_trustees.html",
        who,
        status,
        slug=slug,
        tab="trustees",
        r=s,
        ceremony=ceremony_progress(svc.refs, slug),
        **context,
    )


@router.get("/r/{slug}/trustees", response_class=HTMLResponse)
def trustees(request: Request, slug: str, who: Reader, done: str = "") -> HTMLResponse:
    return _trustees_page(request, slug, who, done=_done(_t(request), done))


async def _json_files(request: Request, who: SignedIn, t: Translator) -> list[tuple[Any, str]]:
    """The form's ``files`` (each at most :data:`FILE_LIMIT`), read as JSON, once the
    organiser's role and the form's CSRF token have been checked."""
    read = []
    async with read_form(request, who, max_files=MAX_FILES) as form:
        for upload in form.getlist("files"):
            if not isinstance(upload, UploadFile):
                continue
            name = upload.filename or "file"
            body = await upload.read(FILE_LIMIT + 1)
            if len(body) > FILE_LIMIT:
                raise DecodeError(t.gettext("%(name)s is too large.") % {"name": name})
            try:
                read.append((json.loads(body.decode("utf-8")), name))
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise DecodeError(t.gettext("%(name)s is not a JSON file.") % {"name": name}) from None
    return read


@router.post("/r/{slug}/trustees", response_model=None, max_body_size=UPLOAD_LIMIT)
async def add_trustees(request: Request, slug: str, who: Organiser) -> Response:
    """Trustees' public files (form field ``files``, ``trustee-<i>.json``; and ``csrf``):
    all kept, or none if one is bad."""
    refs = services(request).refs
    try:
        read = await _json_files(request, who, _t(request))
        indices = await run_in_threadpool(refs.add_trustees, slug, read)
    except (ValueError, IstiftaError) as exc:
        return _trustees_page(request, slug, who, 400, upload_error=str(exc))
    audit(request, who, "add trustee keys", f"{slug}: {', '.join(map(str, indices))}")
    return RedirectResponse(f"/console/r/{slug}/trustees?done=trustees", status_code=303)


@router.post("/r/{slug}/trustees/confirm", response_model=None)
def confirm(
    request: Request,
    slug: str,
    who: Organiser,
    csrf: Csrf,
    index: Annotated[int, Form(ge=1, le=64)],
    verification_key: Annotated[str, Form(max_length=200)],
) -> Response:
    """A trustee's ``V_j``, as ``istifta trustee receive`` printed it: kept only when it matches."""
    check_csrf(who, csrf)
    try:
        confirm_trustee(services(request).refs, slug, index, verification_key, who.username)
    except IstiftaError as exc:
        return _trustees_page(request, slug, who, 400, confirm_error=(index, str(exc)))
    audit(request, who, "confirm trustee shares", f"{slug}: trustee {index}")
    return RedirectResponse(f"/console/r/{slug}/trustees?done=confirmed", status_code=303)


@router.post("/r/{slug}/decryptions", response_model=None, max_body_size=UPLOAD_LIMIT)
async def add_decryptions(request: Request, slug: str, who: Organiser) -> Response:
    """Trustees' partial decryptions (form field ``files``, ``partial-<i>.json``; and
    ``csrf``): each checked against the tally and the trustee's ``V_j``; all put on
    the board, or none if one is bad."""
    refs = services(request).refs
    try:
        read = await _json_files(request, who, _t(request))
        receipts = await run_in_threadpool(refs.add_partial_decryptions, slug, [raw for raw, _ in read])
    except (ValueError, IstiftaError) as exc:
        return _trustees_page(request, slug, who, 400, decryption_error=str(exc))
    audit(
        request,
        who,
        "add partial decryptions",
        f"{slug}: entries {', '.join(str(r.index) for r in receipts)}",
    )
    return RedirectResponse(f"/console/r/{slug}/trustees?done=decryptions", status_code=303)


# --- open, close, tally, publish --------------------------------------------------------


def _confirm_page(
    request: Request, slug: str, action: Action, who: SignedIn, status: int = 200, problem: str = ""
) -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug, drafts=True)
    turnout = svc.views.turnout(slug, drafts=True)
    return page(
        request,
        "console_confirm.html",
        who,
        status,
        slug=slug,
        tab="overview",
        r=s,
        m=s.manifest,
        schedule=schedule_of(_t(request), s.manifest, s.closed_at),
        action=action,
        eligible=sum(r.eligible for r in turnout),
        voted=sum(r.voted for r in turnout),
        ceremony=ceremony_progress(svc.refs, slug),
        ready=s.state == STATE_OF_ACTION[action],
        problem=problem,
    )


@router.get("/r/{slug}/confirm/{action}", response_class=HTMLResponse)
def confirm_action(request: Request, slug: str, action: Action, who: Organiser) -> HTMLResponse:
    return _confirm_page(request, slug, action, who)


@router.post("/r/{slug}/run/{action}", response_model=None)
def run_action(
    request: Request,
    slug: str,
    action: Action,
    who: Organiser,
    csrf: Csrf,
    understood: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """One of the four steps, after the organiser ticked "I understand"."""
    check_csrf(who, csrf)
    if understood != "yes":
        t = _t(request)
        return _confirm_page(
            request, slug, action, who, 400, t.gettext("Tick the box to confirm that you understand.")
        )
    refs = services(request).refs
    try:
        if action == "open":
            done = f"election_hash {refs.open_election(slug).election_hash}"
        elif action == "close":
            done = f"board entry {refs.close(slug).index}"
        elif action == "tally":
            done = f"{refs.tally(slug).counted} ballots counted"
        else:
            voted = refs.publish_result(slug)["turnout"]["voted"]
            done = f"{voted} voted"
    except IstiftaError as exc:
        return _confirm_page(request, slug, action, who, 409, str(exc))
    audit(request, who, f"{action} referendum", f"{slug}: {done}")
    return RedirectResponse(f"/console/r/{slug}?done={action}", status_code=303)
