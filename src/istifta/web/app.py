"""The ASGI application: ``create_app()`` for any ASGI server, ``istifta serve`` for uvicorn.

One exception handler turns every error into its answer: JSON
``{"code", "message"}`` under ``/api``, a page in the visitor's language
elsewhere. Every response carries the security headers of
:mod:`istifta.web.security`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware

import istifta
from istifta.errors import IstiftaError
from istifta.i18n import LANGUAGES
from istifta.sms.settings import SmsSettings, load_sms_settings
from istifta.store.db import POOL_SIZE
from istifta.store.private import refuse_exposed
from istifta.store.public import PublicViews
from istifta.store.referendums import Referendums
from istifta.web.api import public as api
from istifta.web.api.sms import make_router
from istifta.web.body_limit import BODY_LIMIT, TooLargeAnswers, too_large
from istifta.web.console import accounts, create, electorate, home, referendum
from istifta.web.console import sms as console_sms
from istifta.web.console.common import SignInRequired
from istifta.web.errors import ApiError, from_istifta
from istifta.web.pages import public as pages
from istifta.web.ratelimit import RateLimiter
from istifta.web.rendering import render
from istifta.web.security import SecurityHeaders
from istifta.web.services import Services
from istifta.web.settings import WebSettings, load_settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
STATUS_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "bad_request",
}


def create_app(
    settings: WebSettings | None = None, refs: Referendums | None = None, sms: SmsSettings | None = None
) -> FastAPI:
    """The web application over the data directory (or database) of ``settings``
    (default: from the environment). Pass ``refs`` to share an open store.
    Raises :class:`ExposedSecret` when group or others may read a key or the database."""
    settings = settings or load_settings()
    refuse_exposed(settings.data_dir, settings.store_url)
    sms = sms or load_sms_settings(data_dir=settings.data_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The threads that run blocking handlers (casting, the pages) each use a
        # connection of the store's pool: no more of them than it keeps open.
        to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        yield
        app.state.services.senders.stop_all()  # each finishes and records what it has in flight
        if refs is None:
            app.state.services.close()

    app = FastAPI(
        title="istifta",
        version=istifta.__version__,
        summary="A verifiable referendum's public API: parameters, casting, the board, proofs, the result.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        form_limits={"max_files": 0, "max_fields": 32, "max_part_size": 16 * 1024},
        # No spans, metrics or logs leave the server, whatever the environment sets up:
        # a span of /credentials/{P} would say when a voter looked, and costs a lookup
        # of the environment on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    opened = refs or Referendums.open(settings.data_dir, settings.store_url)
    app.state.services = Services(
        opened,
        PublicViews(opened),
        settings,
        RateLimiter(settings.cast_rate, settings.cast_burst),
        sms,
        read_limiter=RateLimiter(settings.read_rate, settings.read_burst),
    )
    app.include_router(api.router, max_body_size=BODY_LIMIT)
    app.include_router(make_router(sms), max_body_size=BODY_LIMIT)
    # The console before the pages: their /{slug} would take /console.
    for part in (home, create, referendum, electorate, console_sms, accounts):
        app.include_router(part.router, max_body_size=BODY_LIMIT)
    app.include_router(pages.router, max_body_size=BODY_LIMIT)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    _install_handlers(app)
    app.add_middleware(TooLargeAnswers, answer=_answer)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(SecurityHeaders, hsts=settings.hsts)
    return app


def _answer(request: Request, error: ApiError) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
    page = render(request, "error.html", error.status, message_key=error.code, message=error.message)
    page.headers.update(error.headers)
    return page


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> Response:
        lang = request.query_params.get("lang")  # the language chosen on the way in is kept
        return RedirectResponse(
            "/console/login" + (f"?lang={lang}" if lang in LANGUAGES else ""), status_code=303
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _answer(request, exc)

    @app.exception_handler(IstiftaError)
    async def istifta_error(request: Request, exc: IstiftaError) -> Response:
        answer = from_istifta(exc)
        if answer.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
        return _answer(request, answer)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _answer(request, ApiError(400, "bad_request", _describe(exc.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 413:
            return _answer(request, too_large(request.scope))
        code = STATUS_CODES.get(exc.status_code, "error")
        return _answer(request, ApiError(exc.status_code, code, str(exc.detail), dict(exc.headers or {})))


def _describe(errors: Any) -> str:
    """FastAPI's validation errors as one sentence: where, and what was wrong."""
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("path", "query", "body"))
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
