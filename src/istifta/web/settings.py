"""The server's settings, declared once (:func:`istifta.settings.setting`:
variable, default, help). :func:`load_settings` reads them from the
environment (``ISTIFTA_…``) at the edge; everything else receives one
:class:`WebSettings`. ``docs/settings.md`` lists them all, and a test keeps
that page complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from istifta.settings import DEFAULT_DATA_DIR, Secret, Setting, load, setting, table

__all__ = ["MAX_BALLOT_BYTES", "SETTINGS", "WebSettings", "load_settings"]

MAX_BALLOT_BYTES = 16 * 1024


@dataclass(frozen=True)
class WebSettings:
    data_dir: Path = setting(
        "ISTIFTA_DATA_DIR", DEFAULT_DATA_DIR, "Where istifta keeps its store and board key."
    )
    database_url: Secret = setting(
        "ISTIFTA_DATABASE_URL",
        Secret(),
        "A PostgreSQL URL (postgresql+psycopg://…); SQLite in the data directory when empty.",
    )
    cast_rate: float = setting(
        "ISTIFTA_CAST_RATE",
        60.0,
        "Ballots one client address may cast per minute. Mobile networks put many phones behind "
        "one address (carrier-grade NAT), so keep this generous.",
    )
    cast_burst: int = setting("ISTIFTA_CAST_BURST", 20, "Ballots one client address may cast at once.")
    read_rate: float = setting(
        "ISTIFTA_READ_RATE",
        600.0,
        "Public pages and API reads one client address may make per minute (casting is counted apart).",
    )
    read_burst: int = setting("ISTIFTA_READ_BURST", 120, "Public reads one client address may make at once.")
    trust_forwarded: bool = setting(
        "ISTIFTA_TRUST_FORWARDED",
        False,
        "Take the client address from X-Forwarded-For (set true only behind your own reverse proxy).",
    )
    hsts: bool = setting(
        "ISTIFTA_HSTS", True, "Send Strict-Transport-Security (browsers heed it over HTTPS only)."
    )
    timezone: str = setting(
        "ISTIFTA_TIMEZONE", "Asia/Baghdad", "The time zone in which pages show times (the record keeps UTC)."
    )
    max_backlog: int = setting(
        "ISTIFTA_MAX_BACKLOG",
        5000,
        "Ballots waiting for the board's writer beyond which casting answers 503 with Retry-After.",
    )

    @property
    def store_url(self) -> str | None:
        """The PostgreSQL URL, or ``None`` for SQLite in the data directory."""
        return self.database_url.value or None


SETTINGS: tuple[Setting, ...] = table(WebSettings)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> WebSettings:
    """Settings from ``environ`` (default: the process environment), then ``overrides``."""
    return load(WebSettings, environ, overrides)
