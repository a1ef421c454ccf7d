"""The SMS settings, declared once (name, environment variable, default, help).

:func:`load_sms_settings` reads them at the edge; the dispatcher and the
gateways receive one :class:`SmsSettings`. Secrets are :class:`Secret`, whose
``repr`` hides them. ``docs/settings.md`` lists every one (a test checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from istifta.errors import SettingError
from istifta.settings import DEFAULT_DATA_DIR, Secret, Setting, load, setting, table

__all__ = ["GATEWAYS", "MIN_REPORT_TOKEN", "SMS_SETTINGS", "Secret", "SmsSettings", "load_sms_settings"]


MIN_REPORT_TOKEN = 32
"""The shortest delivery-report token accepted: a guess must be hopeless."""
GATEWAYS = ("outbox", "smpp", "http")


def _s(name: str, default: Any, help: str) -> Any:
    return setting(f"ISTIFTA_SMS_{name.upper()}", default, help)


@dataclass(frozen=True)
class SmsSettings:
    gateway: str = _s(
        "gateway", "outbox", "Where messages go: outbox (nothing leaves the machine), smpp or http."
    )
    rate: float = _s("rate", 100.0, "Messages per second the dispatcher hands to the gateway, at most.")
    window: int = _s("window", 50, "Messages handed over and not yet acknowledged, at most.")
    max_attempts: int = _s(
        "max_attempts", 5, "Attempts before a message that keeps failing temporarily is marked failed."
    )
    retry_seconds: float = _s(
        "retry_seconds", 30.0, "The first retry's delay; each further retry waits twice as long."
    )
    link_base: str = _s(
        "link_base", "http://127.0.0.1:8000", "The voting link's start: a link is BASE/SLUG#CODE."
    )
    price: Decimal = _s(
        "price", Decimal("0.02"), "The operator's price per SMS segment, for the cost estimate."
    )
    currency: str = _s("currency", "USD", "The currency of the price.")
    max_segments: int = _s("max_segments", 1, "Templates longer than this many segments are refused.")
    sender: str = _s(
        "sender", "istifta", "The sender shown on phones (an alphanumeric source address or a short code)."
    )
    smpp_host: str = _s("smpp_host", "127.0.0.1", "The operator's SMPP server.")
    smpp_port: int = _s("smpp_port", 2775, "Its port.")
    smpp_system_id: str = _s("smpp_system_id", "istifta", "The SMPP account (system_id).")
    smpp_password: Secret = _s("smpp_password", Secret(""), "The SMPP password (secret).")
    smpp_system_type: str = _s("smpp_system_type", "", "The system_type the operator asks for, often empty.")
    smpp_binds: int = _s(
        "smpp_binds", 2, "Transceiver binds (connections) to open; the rate is shared between them."
    )
    smpp_enquire_link: float = _s("smpp_enquire_link", 30.0, "Seconds between enquire_link keep-alives.")
    http_url: Secret = _s(
        "http_url", Secret(""), "The HTTP gateway's URL for sending (secret: it may hold an API key)."
    )
    http_method: str = _s("http_method", "POST", "Its method.")
    http_headers: Secret = _s(
        "http_headers", Secret("{}"), "Extra headers as a JSON object, e.g. an Authorization header (secret)."
    )
    http_body: str = _s(
        "http_body",
        '{"to": "{phone}", "from": "{sender}", "text": "{text}", "reference": "{id}"}',
        "The request body: JSON with {phone}, {sender}, {text} and {id} placeholders, "
        "or form fields when http_form is true.",
    )
    http_form: bool = _s("http_form", False, "Send the body as form fields instead of JSON.")
    http_id_field: str = _s(
        "http_id_field", "id", "The field of the JSON answer that holds the gateway's message id."
    )
    http_idempotent: bool = _s(
        "http_idempotent",
        False,
        "The gateway deduplicates on the reference: messages in doubt may be resent.",
    )
    http_report_token: Secret = _s(
        "http_report_token",
        Secret(""),
        f"The secret a delivery-report webhook must present, {MIN_REPORT_TOKEN} characters or more (secret).",
    )
    http_timeout: float = _s("http_timeout", 10.0, "Seconds to wait for the HTTP gateway.")
    data_dir: Path = DEFAULT_DATA_DIR
    """Where the outbox file and the key that seals the codes live (the server's ``--data-dir``)."""

    def __post_init__(self) -> None:
        length = len(self.http_report_token.value)
        if 0 < length < MIN_REPORT_TOKEN:
            raise SettingError(
                f"ISTIFTA_SMS_HTTP_REPORT_TOKEN has {length} characters: a report token needs "
                f"{MIN_REPORT_TOKEN} or more (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.gateway not in GATEWAYS:
            raise SettingError(f"ISTIFTA_SMS_GATEWAY: {self.gateway!r} is not outbox, smpp or http")


SMS_SETTINGS: tuple[Setting, ...] = table(SmsSettings)


def load_sms_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> SmsSettings:
    """Settings from ``environ`` (default: the process environment), then ``overrides``."""
    return load(SmsSettings, environ, overrides)
