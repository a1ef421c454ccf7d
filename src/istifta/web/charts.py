"""Bar charts drawn on the server as SVG: no script, light on a weak phone,
readable right to left. Each bar has a text label and its figure, so the
chart says the same to a screen reader (``role="img"`` with a title and a
description listing every bar)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from istifta.i18n import Translator

__all__ = ["Bar", "bar_chart", "standalone", "turnout_chart"]

WIDTH = 320
ROW = 38
LABEL_ROW = 17
BAR_HEIGHT = 12


@dataclass(frozen=True)
class Bar:
    label: str
    fraction: float
    """The bar's length, 0 to 1."""
    figure: str
    """What is written beside the bar (a count, a percentage), already in the page's language."""


STANDALONE = {
    "chart-label": 'fill="#1b1f24" font-family="Noto Naskh Arabic, Noto Sans, sans-serif" font-size="13"',
    "chart-track": 'fill="#e6e9ec"',
    "chart-bar": 'fill="#0b6e4f"',
}
"""The site's chart colours as attributes, for an SVG served on its own (an
``<img>`` that the page reloads), where the page's stylesheet does not reach."""


def standalone(svg: Markup) -> str:
    """The chart as an SVG document of its own: colours and font as attributes."""
    text = str(svg)
    for name, attributes in STANDALONE.items():
        text = text.replace(f'class="{name}"', f'class="{name}" {attributes}')
    return text


def bar_chart(title: str, bars: Sequence[Bar], rtl: bool) -> Markup:
    """One horizontal bar per row, label above it, figure at its end."""
    height = max(1, len(bars)) * ROW + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape('; '.join(f'{b.label}: {b.figure}' for b in bars))}</desc>",
    ]
    anchor = "start"  # with direction="rtl", the start is the right edge
    for i, bar in enumerate(bars):
        parts.extend(_row(i, bar, rtl, anchor))
    parts.append("</svg>")
    return Markup("".join(parts))


def _row(i: int, bar: Bar, rtl: bool, anchor: str) -> list[str]:
    top = i * ROW + 2
    full = WIDTH - 4
    length = max(0.0, min(1.0, bar.fraction)) * full
    x = WIDTH - 2 - length if rtl else 2
    text_x = WIDTH - 2 if rtl else 2
    direction = ' direction="rtl"' if rtl else ""
    y = top + LABEL_ROW
    return [
        f'<text x="{text_x}" y="{y - 3}" text-anchor="{anchor}"{direction} class="chart-label">'
        f"{escape(bar.label)} — {escape(bar.figure)}</text>",
        f'<rect x="2" y="{y}" width="{full}" height="{BAR_HEIGHT}" rx="2" class="chart-track"/>',
        f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" rx="2" class="chart-bar"/>',
    ]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def turnout_chart(t: Translator, rows: list[Any], rtl: bool) -> Any:
    if not rows:
        return None
    bars = [
        Bar(
            t.region(r.region) if r.region else t.gettext("No region"),
            _share(r.voted, r.eligible),
            f"{t.percent(_share(r.voted, r.eligible))} ({t.number(r.voted)} / {t.number(r.eligible)})",
        )
        for r in rows
    ]
    return bar_chart(t.gettext("Turnout by region"), bars, rtl)
