"""The invitations' chart: messages sent, delivered and failed over time, as
grouped bars drawn on the server (an SVG document of its own, which the
console's page reloads as an ``<img>``)."""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from istifta.i18n import Translator
from istifta.sms import queue

__all__ = ["timeline_svg"]

WIDTH, HEIGHT = 640, 240
TOP, BOTTOM, AXIS, EDGE = 30, 22, 40, 8
COLOURS = {"sent": "#3b6fb6", "delivered": "#0b6e4f", "failed": "#b42318"}
INK, GRID = "#1b1f24", "#d5dade"
SLOT = 40
"""The widest a bucket's three bars may be together (a few buckets stay thin)."""
FONT = 'font-family="Noto Naskh Arabic, Noto Sans, sans-serif" font-size="11"'


def _step_text(t: Translator, step: int) -> str:
    _ = t.gettext
    return {
        60: _("per minute"),
        300: _("per 5 minutes"),
        900: _("per 15 minutes"),
        3600: _("per hour"),
        21600: _("per 6 hours"),
        86400: _("per day"),
    }.get(step, _("per week"))


def timeline_svg(t: Translator, timeline: queue.Timeline, rtl: bool) -> str:
    """Messages sent, delivered and failed per bucket as grouped bars, time
    flowing with the page's direction; an SVG document of its own (colours as
    attributes: the page's stylesheet does not reach an ``<img>``)."""
    _ = t.gettext
    names = {"sent": _("sent"), "delivered": _("delivered"), "failed": _("failed")}
    title = _("Messages sent, delivered and failed, %(step)s") % {"step": _step_text(t, timeline.step)}
    when = "%H:%M" if timeline.step < 86400 else "%d/%m"
    times = [t.digits(b.start.astimezone(t.tz).strftime(when)) for b in timeline.buckets]
    lines = [
        _("%(time)s: %(sent)s sent, %(delivered)s delivered, %(failed)s failed")
        % {
            "time": at,
            "sent": t.number(b.sent),
            "delivered": t.number(b.delivered),
            "failed": t.number(b.failed),
        }
        for at, b in zip(times, timeline.buckets, strict=True)
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-timeline" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title><desc>{escape('; '.join(lines))}</desc>",
        *_legend(names, rtl),
    ]
    if not timeline.buckets:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="chart-label" fill="{INK}" '
            f"{FONT}>{escape(_('No message sent yet.'))}</text>"
        )
    else:
        parts += _bars(t, timeline.buckets, times, rtl)
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Mapping[str, str], rtl: bool) -> list[str]:
    parts = []
    direction = ' direction="rtl"' if rtl else ""
    for i, (key, name) in enumerate(names.items()):
        x = WIDTH - EDGE - 12 - i * 130 if rtl else EDGE + i * 130
        text_x = x - 4 if rtl else x + 16  # "start" is the right end of right-to-left text
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" class="chart-{key}" fill="{COLOURS[key]}"/>'
            f'<text x="{text_x}" y="18" text-anchor="start" class="chart-label" fill="{INK}" {FONT}'
            f"{direction}>{escape(name)}</text>"
        )
    return parts


def _bars(t: Translator, buckets: tuple[queue.Bucket, ...], times: list[str], rtl: bool) -> list[str]:
    left, right = (EDGE, WIDTH - AXIS) if rtl else (AXIS, WIDTH - EDGE)
    base = HEIGHT - BOTTOM
    most = max(max(b.sent, b.delivered, b.failed) for b in buckets) or 1
    scale = (base - TOP - 8) / most
    slot = min((right - left) / len(buckets), SLOT)
    width = slot * 0.8 / 3
    axis_x, anchor = (right + 4, "start") if rtl else (left - 4, "end")
    parts = [
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" class="chart-axis" stroke="{GRID}"/>',
        f'<line x1="{left}" y1="{base - most * scale:.1f}" x2="{right}" y2="{base - most * scale:.1f}" '
        f'class="chart-grid" stroke="{GRID}" stroke-dasharray="3 3"/>',
        f'<text x="{axis_x}" y="{base - most * scale + 4:.1f}" text-anchor="{anchor}" class="chart-label" '
        f'fill="{INK}" {FONT}>{t.number(most)}</text>',
        f'<text x="{axis_x}" y="{base}" text-anchor="{anchor}" class="chart-label" fill="{INK}" {FONT}>'
        f"{t.number(0)}</text>",
    ]
    labelled = {0, len(buckets) // 2, len(buckets) - 1}
    for i, bucket in enumerate(buckets):
        start = right - (i + 1) * slot if rtl else left + i * slot
        figures = {"sent": bucket.sent, "delivered": bucket.delivered, "failed": bucket.failed}
        for j, (key, n) in enumerate(figures.items()):
            x = start + slot * 0.1 + (2 - j if rtl else j) * width
            parts.append(
                f'<rect x="{x:.1f}" y="{base - n * scale:.1f}" width="{width:.1f}" height="{n * scale:.1f}" '
                f'class="chart-{key}" fill="{COLOURS[key]}"/>'
            )
        if i in labelled:
            parts.append(
                f'<text x="{start + slot / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" class="chart-label" '
                f'fill="{INK}" {FONT}>{escape(times[i])}</text>'
            )
    return parts
