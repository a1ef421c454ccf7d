"""The SMS settings, declared once (name, environment variable, default, help).

:func:`load_sms_settings` reads them at the edge; the dispatcher and the
gateways receive one :class:`SmsSettings`. Secrets are :class:`Secret`, whose
``repr`` hides them. ``docs/settings.md`` lists every one (a test checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from istifta.settings import Secret, Setting, truth

__all__ = ["MIN_REPORT_TOKEN", "SMS_SETTINGS", "Secret", "SmsSettings", "load_sms_settings"]


MIN_REPORT_TOKEN = 32
"""The shortest delivery-report token accepted: a guess must be hopeless."""


def _s(name: str, default: str, help: str) -> Setting:
    return Setting(name, f"ISTIFTA_SMS_{name.upper()}", default, help)


SMS_SETTINGS: tuple[Setting, ...] = (
    _s("gateway", "outbox", "Where messages go: outbox (nothing leaves the machine), smpp or http."),
    _s("rate", "100", "Messages per second the dispatcher hands to the gateway, at most."),
    _s("window", "50", "Messages handed over and not yet acknowledged, at most."),
    _s("max_attempts", "5", "Attempts before a message that keeps failing temporarily is marked failed."),
    _s("retry_seconds", "30", "The first retry's delay; each further retry waits twice as long."),
    _s("link_base", "http://127.0.0.1:8000", "The voting link's start: a link is BASE/SLUG#CODE."),
    _s("price", "0.02", "The operator's price per SMS segment, for the cost estimate."),
    _s("currency", "USD", "The currency of the price."),
    _s("max_segments", "1", "Templates longer than this many segments are refused."),
    _s("sender", "istifta", "The sender shown on phones (an alphanumeric source address or a short code)."),
    _s("smpp_host", "127.0.0.1", "The operator's SMPP server."),
    _s("smpp_port", "2775", "Its port."),
    _s("smpp_system_id", "istifta", "The SMPP account (system_id)."),
    _s("smpp_password", "", "The SMPP password (secret)."),
    _s("smpp_system_type", "", "The system_type the operator asks for, often empty."),
    _s("smpp_binds", "2", "Transceiver binds (connections) to open; the rate is shared between them."),
    _s("smpp_enquire_link", "30", "Seconds between enquire_link keep-alives."),
    _s("http_url", "", "The HTTP gateway's URL for sending (secret: it may hold an API key)."),
    _s("http_method", "POST", "Its method."),
    _s("http_headers", "{}", "Extra headers as a JSON object, e.g. an Authorization header (secret)."),
    _s(
        "http_body",
        '{"to": "{phone}", "from": "{sender}", "text": "{text}", "reference": "{id}"}',
        "The request body: JSON with {phone}, {sender}, {text} and {id} placeholders, "
        "or form fields when http_form is true.",
    ),
    _s("http_form", "false", "Send the body as form fields instead of JSON."),
    _s("http_id_field", "id", "The field of the JSON answer that holds the gateway's message id."),
    _s(
        "http_idempotent",
        "false",
        "The gateway deduplicates on the reference: messages in doubt may be resent.",
    ),
    _s(
        "http_report_token",
        "",
        f"The secret a delivery-report webhook must present, {MIN_REPORT_TOKEN} characters or more (secret).",
    ),
    _s("http_timeout", "10", "Seconds to wait for the HTTP gateway."),
)


@dataclass(frozen=True)
class SmsSettings:
    gateway: str = "outbox"
    rate: float = 100.0
    window: int = 50
    max_attempts: int = 5
    retry_seconds: float = 30.0
    link_base: str = "http://127.0.0.1:8000"
    price: Decimal = Decimal("0.02")
    currency: str = "USD"
    max_segments: int = 1
    sender: str = "istifta"
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = "istifta"
    smpp_password: Secret = field(default_factory=lambda: Secret(""))
    smpp_system_type: str = ""
    smpp_binds: int = 2
    smpp_enquire_link: float = 30.0
    http_url: Secret = field(default_factory=lambda: Secret(""))
    http_method: str = "POST"
    http_headers: Secret = field(default_factory=lambda: Secret("{}"))
    http_body: str = '{"to": "{phone}", "from": "{sender}", "text": "{text}", "reference": "{id}"}'
    http_form: bool = False
    http_id_field: str = "id"
    http_idempotent: bool = False
    http_report_token: Secret = field(default_factory=lambda: Secret(""))
    http_timeout: float = 10.0
    data_dir: Path = Path("istifta-data")
    """Where the outbox file and the key that seals the codes live."""

    def __post_init__(self) -> None:
        length = len(self.http_report_token.value)
        if 0 < length < MIN_REPORT_TOKEN:
            raise ValueError(
                f"ISTIFTA_SMS_HTTP_REPORT_TOKEN has {length} characters: a report token needs "
                f"{MIN_REPORT_TOKEN} or more (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )


def _convert(name: str, env: str, raw: str, kind: object) -> object:
    try:
        if kind in ("float", float):
            return float(raw)
        if kind in ("int", int):
            return int(raw)
        if kind in ("bool", bool):
            return truth(raw, env)
        if kind in ("Decimal", Decimal):
            return Decimal(raw)
        if kind in ("Secret", Secret):
            return Secret(raw)
    except (ValueError, KeyError, InvalidOperation):
        raise ValueError(f"{env}: {raw!r} is not a valid {name} ({kind})") from None
    return raw


def load_sms_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> SmsSettings:
    """Settings from ``environ`` (default: the process environment), then ``overrides``."""
    env = os.environ if environ is None else environ
    kinds = {f.name: f.type for f in SmsSettings.__dataclass_fields__.values()}
    values: dict[str, object] = {
        s.name: _convert(s.name, s.env, env.get(s.env, s.default), kinds[s.name]) for s in SMS_SETTINGS
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values["gateway"] not in ("outbox", "smpp", "http"):
        raise ValueError(f"ISTIFTA_SMS_GATEWAY: {values['gateway']!r} is not outbox, smpp or http")
    return SmsSettings(**values)  # type: ignore[arg-type]
