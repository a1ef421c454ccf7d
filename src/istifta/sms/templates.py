"""The invitation and reminder texts, per language, and the voting link.

A template has placeholders ``{link}``, ``{title}`` and ``{closes}``. The
link is short: ``BASE/SLUG#CODE``, where ``BASE`` is the server's address
(``ISTIFTA_SMS_LINK_BASE``); ``/SLUG`` redirects to the ballot page and the
browser keeps the fragment, which it never sends to the server. The default
texts fit one UCS-2 segment (70 characters) with a link of up to 45
characters, e.g. ``https://ist.iq/c24#`` and the 26-character code.
:func:`check_template` refuses a template that could take more segments
than allowed, computed with the longest values its placeholders can take.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from istifta.errors import DecodeError
from istifta.sms.segments import Segments, segments

__all__ = ["DEFAULTS", "KINDS", "Template", "check_template", "link", "render"]

KINDS = ("invitation", "reminder")
DEFAULTS: Mapping[str, Mapping[str, str]] = {
    "invitation": {
        "ar": "للتصويت في الاستفتاء: {link}",
        "ckb": "دەنگ بدە لە ڕاپرسیدا: {link}",
        "en": "Your personal link to vote in the referendum: {link}",
    },
    "reminder": {
        "ar": "لم تصوّت بعد: {link}",
        "ckb": "هێشتا دەنگت نەداوە: {link}",
        "en": "You have not voted yet. Vote before {closes}: {link}",
    },
}
PLACEHOLDERS = frozenset({"link", "title", "closes"})


@dataclass(frozen=True)
class Template:
    kind: str
    language: str
    text: str


def link(base: str, slug: str, code: str) -> str:
    """The voting link: the code is in the fragment, which never reaches a server."""
    return f"{base.rstrip('/')}/{slug}#{code}"


def _fields(text: str) -> set[str]:
    """The placeholders of ``text``, each bare: ``{link}``, never ``{link:>300}`` or
    ``{link!r}``, whose width or precision could make a text of any size (or drop
    the link) while the checks look only at the names."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise DecodeError(f"template {text[:80]!r}: {exc}") from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise DecodeError(
                f"template: {shown[:40]} has a format after its name; write the placeholder alone, "
                f"as {{{name}}}"
            )
        names.add(name)
    unknown = names - PLACEHOLDERS
    if unknown:
        raise DecodeError(
            f"template: unknown placeholder {{{sorted(unknown)[0]}}}; use {{link}}, {{title}}, {{closes}}"
        )
    return names


def render(text: str, values: Mapping[str, str]) -> str:
    _fields(text)
    return text.format_map(dict(values))


def check_template(text: str, widest: Mapping[str, str], max_segments: int) -> Segments:
    """The segments ``text`` takes with the longest placeholder values
    (``widest``); :class:`DecodeError` when it needs more than ``max_segments``
    or has no ``{link}``."""
    if "link" not in _fields(text):
        raise DecodeError("template: it must contain {link}, or the voter cannot vote")
    counted = segments(render(text, widest))
    if counted.count > max_segments:
        single, part = (160, 153) if counted.encoding == "GSM-7" else (70, 67)
        allowed = single if max_segments == 1 else max_segments * part
        raise DecodeError(
            f"template takes {counted.count} {counted.encoding} segments ({counted.units} characters "
            f"with the longest values); at most {max_segments} allowed: "
            f"shorten it by {counted.units - allowed} characters"
        )
    return counted
