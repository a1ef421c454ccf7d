"""The delivery-report webhook of the HTTP SMS gateway.

``POST /api/sms/reports/http``, for the provider to call when the network
says what became of a message:

* **auth**: ``Authorization: Bearer <token>``, where the token is
  ``ISTIFTA_SMS_HTTP_REPORT_TOKEN`` (32 characters or more), compared in
  constant time. A wrong or missing token is answered 401 ``unauthorized``,
  and so is a token in the query string (proxies log addresses); with no
  token configured, every report is answered 403 ``reports_disabled``.
* **body**: JSON ``{"id": "<the gateway's id>", "status": "<status>", "error":
  "<why, optional>"}``, or the same three as form fields. ``status``
  ``delivered`` (or ``delivrd``) finishes the message as delivered; ``failed``,
  ``undelivered`` (``undeliv``), ``rejected`` (``rejectd``) or ``expired``
  as failed, with ``error`` (default: the status). Any other status (``queued``,
  ``sent``, ``accepted``…) is not final and is acknowledged without effect.
* **answer**: ``{"matched": true|false, "final": true|false}``: ``matched``
  when a message has that id (a repeated report matches and changes nothing).
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from istifta.sms.gateways.base import DeliveryReport
from istifta.sms.gateways.http import HttpGateway
from istifta.sms.reports import record_report
from istifta.sms.settings import SmsSettings
from istifta.web.errors import ApiError
from istifta.web.services import services

__all__ = ["DELIVERED", "FAILED", "MAX_REPORT_BYTES", "make_router"]

DELIVERED = frozenset({"delivered", "delivrd"})
FAILED = frozenset({"failed", "undelivered", "undeliv", "rejected", "rejectd", "expired"})
MAX_REPORT_BYTES = 16 * 1024
FORM = "application/x-www-form-urlencoded"


class ReportAnswer(BaseModel):
    matched: bool
    """A message has this gateway id."""
    final: bool
    """The status finishes a message (delivered or failed)."""


class ErrorBody(BaseModel):
    code: str
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Not a report: no id or status",
        401: "No token, the wrong one, or a token in the query string",
        403: "Delivery reports are off (no ISTIFTA_SMS_HTTP_REPORT_TOKEN)",
        413: "Larger than 16 KB",
    }.items()
}


def make_router(settings: SmsSettings) -> APIRouter:
    """The webhook's router, checking tokens against ``settings.http_report_token``."""
    router = APIRouter(prefix="/api/sms", tags=["sms"])
    token = settings.http_report_token.value.encode("utf-8")

    @router.post(
        "/reports/http",
        summary="A delivery report from the HTTP SMS gateway",
        response_model=ReportAnswer,
        responses=ERRORS,
    )
    async def http_report(request: Request) -> ReportAnswer:
        _authorize(request, token)
        fields = _fields(request, await _read(request))
        report = _report(fields)
        if report is None:
            return ReportAnswer(matched=False, final=False)
        refs = services(request).refs
        matched = await run_in_threadpool(record_report, refs.store, HttpGateway.name, report, refs.clock())
        return ReportAnswer(matched=matched, final=True)

    return router


def _authorize(request: Request, token: bytes) -> None:
    if not token:
        raise ApiError(403, "reports_disabled", "delivery reports are off: set ISTIFTA_SMS_HTTP_REPORT_TOKEN")
    if "token" in request.query_params:
        raise _unauthorized(
            "send the report token in the header Authorization: Bearer <token>, not in the address"
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8"), token):
        raise _unauthorized("a delivery report needs the report token: Authorization: Bearer <token>")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def _read(request: Request) -> bytes:
    too_large = ApiError(413, "too_large", f"a delivery report is at most {MAX_REPORT_BYTES // 1024} KB")
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdecimal() and int(length) > MAX_REPORT_BYTES:
        raise too_large
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REPORT_BYTES:
            raise too_large
    return body


def _fields(request: Request, raw: bytes) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        fields = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_request", "a delivery report is a JSON object or form fields") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "bad_request", "a delivery report is a JSON object or form fields")
    return fields


def _report(fields: dict[str, Any]) -> DeliveryReport | None:
    """The report the fields make, or None when their status is not final."""
    gateway_id, status, error = fields.get("id"), fields.get("status"), fields.get("error")
    if isinstance(gateway_id, bool) or not isinstance(gateway_id, str | int) or gateway_id == "":
        raise ApiError(400, "bad_request", "id: the gateway's id for the message (a string) is missing")
    if not isinstance(status, str) or not status:
        raise ApiError(400, "bad_request", "status: delivered, failed, or another status of the gateway")
    if error is not None and not isinstance(error, str):
        raise ApiError(400, "bad_request", "error: a string, when given")
    status = status.strip().lower()
    if status in DELIVERED:
        return DeliveryReport(str(gateway_id), delivered=True)
    if status in FAILED:
        return DeliveryReport(str(gateway_id), delivered=False, error=error or status)
    return None
