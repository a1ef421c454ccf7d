"""The pages people read: the ballot page, the "did my credential vote?" page,
the referendum's page, the board browser, the result, the encryption check.

Server-rendered with Jinja2 in the visitor's language; the only scripts are
the built bundles in ``static/js`` (no inline script: the CSP forbids it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from istifta.board.merkle import leaf_hash
from istifta.crypto.group import Point
from istifta.i18n import translator
from istifta.protocol.manifest import parse_time
from istifta.store.public import Summary
from istifta.web.charts import Bar, bar_chart, turnout_chart
from istifta.web.pages.messages import script_messages
from istifta.web.rendering import language_of, localised, render, schedule_of, state_text
from istifta.web.services import services
from istifta.web.throttle import throttle_reads

__all__ = ["router"]

PAGE = 50
router = APIRouter(include_in_schema=False, dependencies=[Depends(throttle_reads)])


def _context(request: Request, s: Summary) -> dict[str, Any]:
    t = translator(language_of(request).code, services(request).settings.timezone)
    return {
        "r": s,
        "m": s.manifest,
        "schedule": schedule_of(t, s.manifest, s.closed_at),
        "state_text": state_text(t, s.state),
    }


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return render(request, "index.html", referendums=services(request).views.summaries())


@router.get("/r/{slug}", response_class=HTMLResponse)
def referendum(request: Request, slug: str) -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug)
    t = translator(language_of(request).code, svc.settings.timezone)
    rows = svc.views.turnout(slug)
    chart = turnout_chart(t, rows, language_of(request).direction == "rtl")
    voted = sum(r.voted for r in rows)
    eligible = sum(r.eligible for r in rows)
    return render(
        request,
        "referendum.html",
        **_context(request, s),
        chart=chart,
        voted=voted,
        eligible=eligible,
    )


@router.get("/r/{slug}/board", response_class=HTMLResponse, response_model=None)
def board(
    request: Request,
    slug: str,
    start: Annotated[int, Query(ge=0, le=2**62)] = 0,
    tracker: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    svc = services(request)
    s = svc.views.summary(slug)
    wanted = tracker.strip().lower().replace(" ", "").replace("-", "")
    if wanted:
        found = svc.views.find_tracker(slug, wanted)
        if found is not None:
            return RedirectResponse(f"/r/{slug}/board/{found}", status_code=303)
    rows = svc.views.entries(slug, start, PAGE)
    return render(
        request,
        "board.html",
        **_context(request, s),
        rows=[(r, r.entry()) for r in rows],
        start=start,
        page=PAGE,
        searched=wanted,
        heads=svc.views.tree_heads(slug, 5),
    )


@router.get("/r/{slug}/board/{index}", response_class=HTMLResponse)
def entry(request: Request, slug: str, index: Annotated[int, PathParam(ge=0, le=2**62)]) -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug)
    row = svc.views.entry(slug, index)
    if row is None:
        return render(request, "error.html", 404, message_key="no_entry")
    data = row.entry()
    superseded_by = None
    if row.kind == "ballot":
        later = svc.views.ballots_of(slug, Point.from_hex(data["ballot"]["credential"], "credential"))
        superseded_by = later[-1].index if later and later[-1].index != index else None
    return render(
        request,
        "entry.html",
        **_context(request, s),
        row=row,
        data=data,
        pretty=json.dumps(data, indent=1, ensure_ascii=False),
        leaf=leaf_hash(row.data).hex(),
        superseded_by=superseded_by,
    )


@router.get("/r/{slug}/result", response_class=HTMLResponse)
def result(request: Request, slug: str) -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug)
    found = svc.views.result(slug)
    language = language_of(request)
    t = translator(language.code, svc.settings.timezone)
    rtl = language.direction == "rtl"
    questions = []
    if found is not None:
        for q, counts in zip(s.manifest["questions"], found["counts"], strict=True):
            total = sum(counts)
            bars = [
                Bar(
                    localised(o["label"], language.code),
                    n / total if total else 0.0,
                    f"{t.number(n)} ({t.percent(n / total if total else 0.0)})",
                )
                for o, n in zip(q["options"], counts, strict=True)
            ]
            questions.append((q, bars, bar_chart(localised(q["text"], language.code), bars, rtl)))
        regions = [_RegionRow(k, **v) for k, v in sorted(found["turnout"]["by_region"].items())]
        by_region = turnout_chart(t, regions, rtl)
    else:
        by_region = None
    return render(
        request,
        "result.html",
        **_context(request, s),
        result=found,
        questions=questions,
        turnout_chart=by_region,
    )


class _RegionRow:
    def __init__(self, region: str, eligible: int, voted: int) -> None:
        self.region, self.eligible, self.voted = region, eligible, voted


@router.get("/r/{slug}/record.zip")
def record_download(slug: str) -> RedirectResponse:
    return RedirectResponse(f"/api/referendums/{slug}/record.zip", status_code=307)


def _ballot_page(request: Request, slug: str, template: str) -> HTMLResponse:
    svc = services(request)
    s = svc.views.summary(slug)
    parameters = json.loads(svc.views.parameters_text(slug)) if s.election_hash else None
    t = translator(language_of(request).code, svc.settings.timezone)
    response = render(
        request,
        template,
        **_context(request, s),
        board_key=svc.refs.board_key.hex(),
        messages=script_messages(t),
        parameters=parameters,
        now_closed=s.state != "open" or datetime.now(UTC) > parse_time(s.manifest["closes_at"], ""),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/v/{slug}", response_class=HTMLResponse)
def ballot_page(request: Request, slug: str) -> HTMLResponse:
    return _ballot_page(request, slug, "ballot.html")


@router.get("/v/{slug}/status", response_class=HTMLResponse)
def status_page(request: Request, slug: str) -> HTMLResponse:
    return _ballot_page(request, slug, "status.html")


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request) -> HTMLResponse:
    t = translator(language_of(request).code, services(request).settings.timezone)
    return render(request, "check.html", messages=script_messages(t))


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    schema = request.app.openapi()
    routes = [
        (method.upper(), path, op.get("summary", ""))
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    ]
    return render(request, "api_docs.html", routes=routes)


@router.get("/{slug}")
def short_link(request: Request, slug: str) -> RedirectResponse:
    """The SMS's short link ``BASE/SLUG#CODE``: on to the ballot page. The
    browser keeps the fragment (the code) across the redirect and never sends it."""
    services(request).views.summary(slug)  # an unknown slug is a 404 page
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/v/{slug}{query}", status_code=302)
