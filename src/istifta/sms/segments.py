"""How many SMS segments a text takes, and so what it costs.

GSM-7 (3GPP TS 23.038, the ``gsm0338`` codec) when every character is in
its basic set or extension table (an extension character takes two septets):
160 septets in one segment, 153 per part once split. Otherwise UCS-2, which
every Arabic or Kurdish text needs: 70 UTF-16 units in one segment, 67 per
part (a character outside the BMP takes two units).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

__all__ = ["Segments", "cost", "segments"]

GSM7 = "gsm03.38"


@dataclass(frozen=True)
class Segments:
    encoding: str
    """``GSM-7`` or ``UCS-2``."""
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2)."""
    count: int
    """Segments, each billed."""
    per_segment: int
    """What one segment holds at this length: 160/153 or 70/67."""

    @property
    def room(self) -> int:
        """Units left before the message takes another segment."""
        return self.count * self.per_segment - self.units


def segments(text: str) -> Segments:
    widths = _gsm7_widths(text)
    if widths is None:
        widths = [len(ch.encode("utf-16-be")) // 2 for ch in text]
        single, part, encoding = 70, 67, "UCS-2"
    else:
        single, part, encoding = 160, 153, "GSM-7"
    units = sum(widths)
    if units <= single:
        return Segments(encoding, units, 1, single)
    return Segments(encoding, units, _parts(widths, part), part)


def _gsm7_widths(text: str) -> list[int] | None:
    """Septets per character (2 for the extension table), or ``None`` if one is not GSM-7."""
    if "\x1b" in text:  # a bare escape is not a character a phone shows
        return None
    try:
        return [len(ch.encode(GSM7)) for ch in text]
    except UnicodeEncodeError:
        return None


def _parts(widths: list[int], room: int) -> int:
    """Parts as a sender splits them: a character (an escape pair, a surrogate
    pair) is never cut between two parts, so a part may hold one unit less."""
    parts, used = 1, 0
    for width in widths:
        if used + width > room:
            parts, used = parts + 1, 0
        used += width
    return parts


def cost(segment_count: int, price: Decimal) -> Decimal:
    return price * segment_count
