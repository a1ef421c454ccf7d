"""The console's Electorate page: the voters by region and by language, and
importing a file of them.

Every signed-in role reads the page. An organiser or a registrar uploads a
file while the referendum is a draft: ``check`` keeps it
(:mod:`istifta.web.console.uploads`) and runs the dry run of ``istifta
electorate import`` with the same library calls, which names every bad row
(nothing is imported) or reports what the file holds; ``apply`` then imports
that very file, with the options it was checked with. Whatever the CLI
refuses, the page shows as a message, with nothing changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from istifta.electorate.credential_file import check_credentials, credential_rows, holds_credentials
from istifta.electorate.regions import IRAQ
from istifta.electorate.registrar_file import read_header
from istifta.electorate.sealing import CodeBox, load_code_box
from istifta.errors import ImportProblems, IstiftaError
from istifta.i18n import Translator, translator
from istifta.store.accounts import SignedIn
from istifta.store.referendums import Referendums
from istifta.web.charts import Bar, bar_chart
from istifta.web.console import uploads
from istifta.web.console.common import EVERYONE, audit, check_csrf, page, require
from istifta.web.errors import ApiError, from_istifta
from istifta.web.rendering import language_of
from istifta.web.services import services

if TYPE_CHECKING:
    from istifta.electorate.importer import ImportReport

__all__ = ["IMPORTERS", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)
IMPORTERS = ("organiser", "registrar")
FIELDS = ("phone", "region", "language")


@dataclass(frozen=True)
class Options:
    """What the upload form asks, as ``istifta electorate import`` takes it."""

    default_language: str = "ar"
    any_region: bool = False
    country: str = "IQ"
    columns: tuple[tuple[str, str], ...] = ()
    """``--column FIELD=HEADER``: the fields whose column line 1 names otherwise."""

    @classmethod
    def of(cls, fields: dict[str, str]) -> Options:
        columns = tuple((f, fields.get(f"column_{f}", "").strip()) for f in FIELDS)
        return cls(
            fields.get("default_language", "ar").strip() or "ar",
            fields.get("any_region", "") in ("1", "on", "true"),
            fields.get("country", "IQ").strip().upper() or "IQ",
            tuple((f, header) for f, header in columns if header),
        )

    def kept(self) -> dict[str, str]:
        found = {"default_language": self.default_language, "country": self.country}
        found |= {f"column_{f}": header for f, header in self.columns}
        return found | ({"any_region": "1"} if self.any_region else {})


@dataclass(frozen=True)
class Checked:
    """A file's dry run: what it would add."""

    voters: int
    by_region: dict[str | None, int]
    by_language: dict[str, int]
    columns: dict[str, str]


@router.get("/r/{slug}/electorate", response_class=HTMLResponse)
def electorate(
    request: Request,
    slug: str,
    who: Annotated[SignedIn, Depends(require(*EVERYONE))],
    imported: int | None = None,
) -> HTMLResponse:
    done = None
    if imported is not None:
        t = _translator(request)
        done = t.gettext("%(count)s voters imported.") % {"count": t.number(imported)}
    return _page(request, who, slug, done=done)


@router.post("/r/{slug}/electorate/check", response_model=None, max_body_size=uploads.MAX_UPLOAD + 64 * 1024)
async def check(
    request: Request, slug: str, who: Annotated[SignedIn, Depends(require(*IMPORTERS))]
) -> Response:
    """Keep the uploaded file (multipart field ``file``, at most
    :data:`~istifta.web.console.uploads.MAX_UPLOAD`, 200 MB; larger: 413) and
    show its dry run. The other fields: ``csrf``, ``default_language``,
    ``any_region``, ``country``, ``column_phone|region|language``."""
    refs = services(request).refs
    if await run_in_threadpool(refs.state, slug) != "draft":
        return await run_in_threadpool(_page, request, who, slug, 409, problem=_frozen(request))
    folder = services(request).settings.data_dir / "uploads"
    await run_in_threadpool(uploads.sweep, folder)
    try:
        upload = await uploads.receive(request, folder)
    except ApiError as exc:
        return await run_in_threadpool(_page, request, who, slug, exc.status, problem=exc.message)
    try:
        check_csrf(who, upload.fields.get("csrf", ""))
        return await run_in_threadpool(_check, request, who, slug, upload)
    except BaseException:
        uploads.discard(upload)
        raise


def _check(request: Request, who: SignedIn, slug: str, upload: uploads.Upload) -> HTMLResponse:
    options = Options.of(upload.fields)
    try:
        checked = _dry_run(services(request).refs, slug, upload, options)
    except IstiftaError as exc:
        uploads.discard(upload)
        return _refused(request, who, slug, exc, options=options, filename=upload.filename)
    uploads.keep(upload, slug, options.kept())
    return _page(
        request, who, slug, checked=checked, upload=upload.id, options=options, filename=upload.filename
    )


@router.post("/r/{slug}/electorate/apply", response_model=None)
def apply(
    request: Request,
    slug: str,
    who: Annotated[SignedIn, Depends(require(*IMPORTERS))],
    upload: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Import the file that ``check`` kept under ``upload`` (its id), then delete it."""
    check_csrf(who, csrf)
    svc = services(request)
    try:
        found = uploads.claim(uploads.find(svc.settings.data_dir / "uploads", upload, slug))
    except ApiError as exc:
        return _page(request, who, slug, exc.status, problem=exc.message)
    options = Options.of(found.fields)
    try:
        count = _import(svc.refs, svc.settings.data_dir, slug, found, options)
    except IstiftaError as exc:
        return _refused(request, who, slug, exc, options=options, filename=found.filename)
    finally:
        uploads.discard(found)
    audit(request, who, "import electorate", f"{slug}: {count:,} voters")
    return RedirectResponse(f"/console/r/{slug}/electorate?imported={count}", status_code=303)


def _refused(request: Request, who: SignedIn, slug: str, exc: IstiftaError, **context: Any) -> HTMLResponse:
    """The page with what the library refused: every bad row named, or its message."""
    if isinstance(exc, ImportProblems):
        return _page(request, who, slug, 422, problems=exc.problems, bad=exc.count, **context)
    return _page(request, who, slug, from_istifta(exc).status, problem=str(exc), **context)


# --- the library calls, as the CLI makes them ---


def _is_credentials(upload: uploads.Upload, options: Options) -> bool:
    return holds_credentials(read_header(upload.path)) and not options.columns


def _dry_run(refs: Referendums, slug: str, upload: uploads.Upload, options: Options) -> Checked:
    if _is_credentials(upload, options):
        by_region = check_credentials(upload.path, upload.filename)
        names = [h.strip() for h in read_header(upload.path)]
        columns = {n.lower(): n for n in names if n.lower() in ("credential", "region")}
        return Checked(sum(by_region.values()), by_region, {}, columns)
    report = _phones(refs, slug, upload, options, CodeBox(os.urandom(32)), dry_run=True)
    return Checked(report.imported, report.by_region, report.by_language, report.columns)


def _import(refs: Referendums, data_dir: Path, slug: str, upload: uploads.Upload, options: Options) -> int:
    if _is_credentials(upload, options):
        return refs.import_electorate(slug, credential_rows(upload.path, upload.filename))
    return _phones(refs, slug, upload, options, load_code_box(data_dir), dry_run=False).imported


def _phones(
    refs: Referendums, slug: str, upload: uploads.Upload, options: Options, box: CodeBox, dry_run: bool
) -> ImportReport:
    from istifta.electorate.importer import import_registrations  # phonenumbers: loaded only when needed

    return import_registrations(
        refs,
        slug,
        upload.path,
        box,
        dry_run=dry_run,
        default_language=options.default_language,
        regions=None if options.any_region else IRAQ,
        column_map=dict(options.columns),
        country=options.country,
    )


# --- the page ---


def _translator(request: Request) -> Translator:
    return translator(language_of(request).code, services(request).settings.timezone)


def _frozen(request: Request) -> str:
    return _translator(request).gettext(
        "The electorate is frozen: voters are imported only while the referendum is a draft."
    )


def _page(request: Request, who: SignedIn, slug: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The Electorate page: the counts as they stand, and ``context`` (a dry run's report, bad rows)."""
    refs = services(request).refs
    t = _translator(request)
    counts = services(request).views.electorate_counts(slug)
    names = {None: t.gettext("(no region)"), "ar": t.gettext("Arabic"), "ckb": t.gettext("Sorani Kurdish")}
    names["en"] = t.gettext("English")

    def rows(found: dict[Any, int]) -> list[tuple[str, int]]:
        ordered = sorted(found.items(), key=lambda kv: (-kv[1], kv[0] or ""))
        return [(names[key] if key in names else t.region(key), n) for key, n in ordered]

    regions = rows(counts.by_region)
    most = max((n for _, n in regions), default=0) or 1
    bars = [Bar(label, n / most, t.number(n)) for label, n in regions]
    rtl = language_of(request).direction == "rtl"
    checked = context.get("checked")
    return page(
        request,
        "console_electorate.html",
        who,
        status,
        slug=slug,
        tab="electorate",
        state=refs.state(slug),
        counts=counts,
        regions=regions,
        language_rows=rows(counts.by_language),
        chart=bar_chart(t.gettext("Voters by region"), bars, rtl) if len(bars) > 1 else None,
        checked_regions=rows(checked.by_region) if checked else [],
        checked_languages=rows(checked.by_language) if checked else [],
        may_import=who.may(*IMPORTERS),
        limit_mb=uploads.MAX_UPLOAD // 1_000_000,
        **context,
    )
