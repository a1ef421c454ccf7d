"""The server's settings, declared once: name, default, help.

:func:`load_settings` reads them from the environment (``ISTIFTA_…``) at the
edge; everything else receives one :class:`WebSettings`. ``docs/settings.md``
lists them all, and a test keeps that page complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from istifta.settings import Setting, truth

__all__ = ["SETTINGS", "Setting", "WebSettings", "load_settings"]

MAX_BALLOT_BYTES = 16 * 1024


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "ISTIFTA_DATA_DIR", "istifta-data", "Where istifta keeps its store and board key."),
    Setting(
        "database_url",
        "ISTIFTA_DATABASE_URL",
        "",
        "A PostgreSQL URL (postgresql+psycopg://…); SQLite in the data directory when empty.",
    ),
    Setting(
        "cast_rate",
        "ISTIFTA_CAST_RATE",
        "60",
        "Ballots one client address may cast per minute. Mobile networks put many phones behind "
        "one address (carrier-grade NAT), so keep this generous.",
    ),
    Setting("cast_burst", "ISTIFTA_CAST_BURST", "20", "Ballots one client address may cast at once."),
    Setting(
        "read_rate",
        "ISTIFTA_READ_RATE",
        "600",
        "Public pages and API reads one client address may make per minute (casting is counted apart).",
    ),
    Setting("read_burst", "ISTIFTA_READ_BURST", "120", "Public reads one client address may make at once."),
    Setting(
        "trust_forwarded",
        "ISTIFTA_TRUST_FORWARDED",
        "false",
        "Take the client address from X-Forwarded-For (set true only behind your own reverse proxy).",
    ),
    Setting(
        "hsts",
        "ISTIFTA_HSTS",
        "true",
        "Send Strict-Transport-Security (browsers heed it over HTTPS only).",
    ),
    Setting(
        "timezone",
        "ISTIFTA_TIMEZONE",
        "Asia/Baghdad",
        "The time zone in which pages show times (the record keeps UTC).",
    ),
    Setting(
        "max_backlog",
        "ISTIFTA_MAX_BACKLOG",
        "5000",
        "Ballots waiting for the board's writer beyond which casting answers 503 with Retry-After.",
    ),
)


@dataclass(frozen=True)
class WebSettings:
    data_dir: Path = Path("istifta-data")
    database_url: str | None = None
    cast_rate: float = 60.0
    cast_burst: int = 20
    read_rate: float = 600.0
    read_burst: int = 120
    trust_forwarded: bool = False
    hsts: bool = True
    timezone: str = "Asia/Baghdad"
    max_backlog: int = 5000

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "database_url"}
        shown["database_url"] = "set" if self.database_url else None
        return f"WebSettings({shown})"


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> WebSettings:
    """Settings from ``environ`` (default: the process environment), then ``overrides``."""
    env = os.environ if environ is None else environ
    raw = {s.name: env.get(s.env, s.default) for s in SETTINGS}
    try:
        values: dict[str, object] = {
            "data_dir": Path(raw["data_dir"]),
            "database_url": raw["database_url"] or None,
            "cast_rate": float(raw["cast_rate"]),
            "cast_burst": int(raw["cast_burst"]),
            "read_rate": float(raw["read_rate"]),
            "read_burst": int(raw["read_burst"]),
            "trust_forwarded": truth(raw["trust_forwarded"], "ISTIFTA_TRUST_FORWARDED"),
            "hsts": truth(raw["hsts"], "ISTIFTA_HSTS"),
            "timezone": raw["timezone"],
            "max_backlog": int(raw["max_backlog"]),
        }
    except ValueError as e:
        raise ValueError(f"bad setting: {e}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return WebSettings(**values)  # type: ignore[arg-type]
