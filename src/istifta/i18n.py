"""The voter's language: Arabic (default), Sorani Kurdish, English.

Catalogues are gettext ``.po`` files in ``locales/<lang>/LC_MESSAGES``, read
with Babel at start-up; numbers and dates are formatted by Babel with the
locale's own digits (Arabic-Indic for ``ar`` and ``ckb``, as Iraq's CLDR
locales use them).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_gmt
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from istifta.electorate.regions import local_name

__all__ = ["DEFAULT", "LANGUAGES", "Language", "Translator", "pick_language", "translator"]

LOCALES = Path(__file__).parent / "locales"
ARABIC_INDIC = str.maketrans("0123456789%", "٠١٢٣٤٥٦٧٨٩٪")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    """The language's name in itself, for the language switch."""
    direction: str
    babel_locale: str
    arabic_digits: bool


LANGUAGES: Mapping[str, Language] = {
    "ar": Language("ar", "العربية", "rtl", "ar_IQ", True),
    "ckb": Language("ckb", "کوردی", "rtl", "ckb_IQ", True),
    "en": Language("en", "English", "ltr", "en_GB", False),
}
DEFAULT = "ar"


def pick_language(query: str | None, cookie: str | None) -> Language:
    """The language asked for in the URL, else the one remembered, else Arabic."""
    for asked in (query, cookie):
        if asked is not None and asked in LANGUAGES:
            return LANGUAGES[asked]
    return LANGUAGES[DEFAULT]


@cache
def _catalogue(code: str) -> gettext.NullTranslations:
    path = LOCALES / code / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """Messages, numbers and times in one language."""

    def __init__(self, language: Language, timezone: str) -> None:
        self.language = language
        self.tz = ZoneInfo(timezone)
        self._t = _catalogue(language.code)

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def digits(self, text: str) -> str:
        return text.translate(ARABIC_INDIC) if self.language.arabic_digits else text

    def region(self, name: str) -> str:
        """A region's name as this language writes it (Iraq's governorates; others as given)."""
        return local_name(name, self.language.code)

    def number(self, n: int) -> str:
        return self.digits(format_decimal(n, locale=self.language.babel_locale, numbering_system="default"))

    def percent(self, fraction: float) -> str:
        shown = format_percent(
            fraction, "#,##0.0%", locale=self.language.babel_locale, numbering_system="default"
        )
        return self.digits(shown)

    def time(self, at: datetime) -> str:
        locale = self.language.babel_locale
        local = at.astimezone(self.tz)
        day = format_date(local, "long", locale=locale)
        hour = format_time(local, "short", tzinfo=self.tz, locale=locale)
        zone = get_timezone_gmt(local, "long", locale=locale)
        return self.digits(
            f"{day}، {hour} ({zone})" if self.language.arabic_digits else f"{day}, {hour} ({zone})"
        )


@cache
def translator(code: str, timezone: str) -> Translator:
    return Translator(LANGUAGES[code], timezone)
