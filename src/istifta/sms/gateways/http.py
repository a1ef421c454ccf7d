"""A gateway that sends each SMS as one HTTP request to a provider's API.

The request is rendered from ``http_body``: a JSON object whose string values
may hold the placeholders ``{phone}`` (E.164), ``{sender}``, ``{text}`` and
``{id}`` (istifta's message id, the same on every retry). The template is
parsed as JSON once and the placeholders are replaced inside its string
values, so a text with quotes, newlines or Arabic arrives exactly. With
``http_form`` (or the ``GET`` method) the object must be flat, and it is sent
form-encoded (or as the query string). Every request carries the headers of
``http_headers`` and ``Idempotency-Key: istifta-<id>``.

The answer: a 2xx gives the gateway's id from the JSON answer's
``http_id_field`` (a dotted path, e.g. ``data.id`` or ``messages.0.id``);
429, 5xx, timeouts and connection errors are temporary; any other status is
permanent. Errors name the status and at most 200 characters of the answer,
with the message's phone number and text cut out: never a voter's code.

Delivery reports do not come back through this object: the provider posts
them to the webhook of :mod:`istifta.web.api.sms`, which records them itself.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from istifta.errors import SettingError, UsageError
from istifta.sms.gateways.base import GatewayError, Outgoing, ReportHandler
from istifta.sms.settings import SmsSettings

__all__ = ["HttpGateway"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
FIELDS = ("phone", "sender", "text", "id")
MAX_ID = 64
"""The longest gateway id the queue stores (``sms_messages.gateway_id``)."""
EXCERPT = 200


class HttpGateway:
    """One HTTP request per message, to ``settings.http_url``."""

    name: str = "http"

    def __init__(self, settings: SmsSettings) -> None:
        self.idempotent = settings.http_idempotent
        self._url = _parse_url(settings.http_url.value)
        self._method = settings.http_method.strip().upper()
        self._flat = settings.http_form or self._method == "GET"
        self._form = settings.http_form
        self._headers = _parse_headers(settings.http_headers.value)
        self._body = _parse_body(settings.http_body, self._flat)
        self._id_field = settings.http_id_field
        self._sender = settings.sender
        self._timeout = settings.http_timeout
        self._client: httpx.AsyncClient | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self, on_report: ReportHandler) -> None:
        """Open the connection pool. ``on_report`` is not called: reports come by the webhook."""
        self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)

    async def send(self, message: Outgoing) -> str:
        if self._client is None:
            raise UsageError("HttpGateway.send before start()")
        self._in_flight += 1
        self._idle.clear()
        try:
            response = await self._request(self._client, message)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
        return self._answer(response, message)

    async def stop(self) -> None:
        """Wait for the requests in flight, then close the connections."""
        await self._idle.wait()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _request(self, client: httpx.AsyncClient, message: Outgoing) -> httpx.Response:
        values = {
            "phone": message.phone,
            "sender": self._sender,
            "text": message.text,
            "id": str(message.message_id),
        }
        body = _render(self._body, values)
        headers = {**self._headers, "Idempotency-Key": f"istifta-{message.message_id}"}
        if self._method == "GET":
            url = self._url.copy_merge_params(body)  # keeps the URL's own query (an API key)
            request = client.build_request("GET", url, headers=headers)
        elif self._form:
            request = client.build_request(self._method, self._url, data=body, headers=headers)
        else:
            request = client.build_request(self._method, self._url, json=body, headers=headers)
        try:
            return await client.send(request)
        except httpx.TimeoutException as e:
            raise GatewayError(f"no answer from {self._url.host} within {self._timeout:g} s", True) from e
        except httpx.TransportError as e:
            raise GatewayError(f"could not reach {self._url.host}: {type(e).__name__}", True) from e

    def _answer(self, response: httpx.Response, message: Outgoing) -> str:
        status = response.status_code
        if 200 <= status < 300:
            return self._gateway_id(response)
        said = f"HTTP {status} {response.reason_phrase} from {self._url.host}".rstrip()
        excerpt = _excerpt(response.text, message)
        temporary = status == 429 or status >= 500
        raise GatewayError(f"{said}: {excerpt}" if excerpt else said, temporary)

    def _gateway_id(self, response: httpx.Response) -> str:
        where = f"{self._id_field} (ISTIFTA_SMS_HTTP_ID_FIELD)"
        doubt = "the gateway may have taken the message"
        try:
            value = _lookup(response.json(), self._id_field)
        except ValueError:
            raise GatewayError(
                f"HTTP {response.status_code}, but the answer is not JSON with {where}; {doubt}", False
            ) from None
        except LookupError:
            raise GatewayError(
                f"HTTP {response.status_code}, but the answer has no field {where}; {doubt}", False
            ) from None
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            raise GatewayError(f"the answer's field {where} is not a string or a number; {doubt}", False)
        gateway_id = str(value)
        if len(gateway_id) > MAX_ID:
            raise GatewayError(
                f"the answer's field {where} is longer than {MAX_ID} characters; {doubt}", False
            )
        return gateway_id


def _parse_url(url: str) -> httpx.URL:
    if not url:
        raise SettingError("ISTIFTA_SMS_HTTP_URL is empty: set the URL the HTTP gateway sends to")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise SettingError("ISTIFTA_SMS_HTTP_URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SettingError("ISTIFTA_SMS_HTTP_URL must be an http:// or https:// URL with a host")
    return parsed


def _parse_headers(raw: str) -> dict[str, str]:
    try:
        headers = json.loads(raw or "{}")
    except ValueError:
        raise SettingError(
            "ISTIFTA_SMS_HTTP_HEADERS is not JSON: give an object of header names and values"
        ) from None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise SettingError(
            'ISTIFTA_SMS_HTTP_HEADERS must be a JSON object of strings, e.g. {"Authorization": "…"}'
        )
    return headers


def _parse_body(raw: str, flat: bool) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as e:
        raise SettingError(f"ISTIFTA_SMS_HTTP_BODY is not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(body, dict):
        raise SettingError("ISTIFTA_SMS_HTTP_BODY must be a JSON object")
    if flat and not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in body.values()):
        raise SettingError(
            "ISTIFTA_SMS_HTTP_BODY: form fields (or a GET query) take strings or numbers, not objects"
        )
    _check_placeholders(body)
    return body


def _check_placeholders(value: Any) -> None:
    if isinstance(value, str):
        for name in PLACEHOLDER.findall(value):
            if name not in FIELDS:
                known = ", ".join(f"{{{field}}}" for field in FIELDS)
                raise SettingError(f"ISTIFTA_SMS_HTTP_BODY: unknown placeholder {{{name}}}; use {known}")
    elif isinstance(value, list):
        for item in value:
            _check_placeholders(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_placeholders(item)


def _render(value: Any, values: Mapping[str, str]) -> Any:
    """The template with each placeholder replaced, in one pass (a text holding
    ``{id}`` stays as it is), inside string values only."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), value)
    if isinstance(value, list):
        return [_render(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _render(item, values) for key, item in value.items()}
    return value


def _lookup(answer: Any, path: str) -> Any:
    """``answer`` at a dotted ``path``; a numeric part indexes a list. Raises LookupError."""
    value = answer
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise LookupError(path)
    return value


def _excerpt(body: str, message: Outgoing) -> str:
    """At most 200 characters of an answer, with the phone number and the text
    (whole, JSON-escaped, and each of its longer words, the code among them) cut out."""
    secrets = {message.text, message.phone, message.phone.lstrip("+"), message.phone[-7:]}
    secrets |= {json.dumps(message.text)[1:-1], json.dumps(message.text, ensure_ascii=False)[1:-1]}
    secrets |= set(re.findall(r"\w{6,}", message.text))
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            body = body.replace(secret, "…")
    return " ".join(body.split())[:EXCERPT]
