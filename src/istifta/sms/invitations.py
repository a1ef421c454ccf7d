"""Invitations and reminders, as ``istifta sms …`` and the console both do them.

The templates are the built-in defaults until someone saves others: they are
kept with the data, in ``DATA_DIR/sms-templates-SLUG.json`` (``{"invitation":
{"ar": "…{link}…", "ckb": …, "en": …}, "reminder": {…}}``), and checked
against the segment limit with the longest values their placeholders can
take, so that what is sent is what was estimated. A language without its
own text gets the Arabic one.

Each step (:func:`invite`, :func:`remind`, :func:`resend`, :func:`hold`,
:func:`release`) is one call to the durable queue (:mod:`istifta.sms.queue`);
:func:`dispatcher` makes what sends it. Refusals are :mod:`istifta.errors`
exceptions: :class:`DecodeError` for templates and phone numbers,
:class:`WrongState` when the referendum is not open, :class:`LifecycleError`
for a number that is not in the electorate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from istifta import files
from istifta.crypto.credentials import CODE_LENGTH
from istifta.electorate.importer import normalise_phone
from istifta.electorate.sealing import load_code_box
from istifta.errors import DecodeError, WrongState
from istifta.i18n import LANGUAGES, translator
from istifta.sms import queue
from istifta.sms.dispatch import Dispatcher, Texts
from istifta.sms.gateways import gateway_for
from istifta.sms.segments import Segments
from istifta.sms.settings import SmsSettings
from istifta.sms.templates import DEFAULTS, KINDS, check_template, link, render
from istifta.store.referendums import Referendums

__all__ = [
    "PLACEHOLDER_CODE",
    "Estimate",
    "EstimateRow",
    "Review",
    "Templates",
    "by_kind",
    "check_templates",
    "dispatcher",
    "estimate",
    "estimate_of",
    "hold",
    "invite",
    "load_templates",
    "parse_templates",
    "release",
    "remind",
    "require_open",
    "resend",
    "review_templates",
    "save_templates",
    "segments_by_language",
    "templates_path",
    "texts_for",
]

Templates = dict[tuple[str, str], str]
"""A text by (kind, language): ``("invitation", "ar")``."""
PLACEHOLDER_CODE = "X" * CODE_LENGTH
"""What a preview shows in place of a voter's code: never a real one."""


# --- the templates ---------------------------------------------------------------------


def templates_path(data_dir: Path, slug: str) -> Path:
    return data_dir / f"sms-templates-{slug}.json"


def parse_templates(raw: object) -> Templates:
    """Templates from their JSON shape (a text by language code, for each kind),
    or :class:`DecodeError` saying what is wrong. Arabic is required for each kind."""
    shape = f"templates: expected an object with {' and '.join(KINDS)}, each a text by language code"
    if not isinstance(raw, dict) or any(k not in KINDS for k in raw):
        raise DecodeError(shape)
    for kind, by_lang in raw.items():
        if not isinstance(by_lang, dict) or not all(
            lang in LANGUAGES and isinstance(text, str) for lang, text in by_lang.items()
        ):
            raise DecodeError(f"{shape} ({', '.join(LANGUAGES)}); {kind} is not")
    found = {(kind, lang): text for kind, by_lang in raw.items() for lang, text in by_lang.items()}
    for kind in KINDS:
        if (kind, "ar") not in found:
            raise DecodeError(f"templates: {kind} needs at least an Arabic (ar) text")
    return found


def load_templates(data_dir: Path, slug: str, given: Path | None = None) -> Templates:
    """The templates in ``given``, else those saved for ``slug``, else the defaults."""
    path = templates_path(data_dir, slug)
    if given is not None:
        return parse_templates(files.read_json(given))
    if path.exists():
        return parse_templates(files.read_json(path))
    return parse_templates(DEFAULTS)


def by_kind(templates: Templates) -> dict[str, dict[str, str]]:
    """The templates in their JSON shape."""
    shaped: dict[str, dict[str, str]] = {}
    for (kind, lang), text in templates.items():
        shaped.setdefault(kind, {})[lang] = text
    return shaped


def texts_for(
    refs: Referendums, slug: str, settings: SmsSettings, templates: Templates, timezone: str
) -> Texts:
    """How the messages of ``slug`` are written: ``{closes}`` in ``timezone``,
    the pages' time zone, so that the SMS says what the pages say."""
    manifest = refs.manifest(slug)
    closes = {code: translator(code, timezone).time(manifest.closes_at) for code in LANGUAGES}
    title = dict(manifest.raw["title"])
    return Texts(slug, settings.link_base, templates, title, closes)


def _values(texts: Texts, lang: str, code: str) -> dict[str, str]:
    return {
        "link": link(texts.link_base, texts.slug, code),
        "title": texts.title.get(lang) or texts.title.get("ar", ""),
        "closes": texts.closes.get(lang, ""),
    }


def _check(texts: Texts, kind: str, lang: str, max_segments: int) -> Segments:
    """One template's segments with the widest link (26 characters of code)."""
    try:
        return check_template(
            texts.templates[(kind, lang)], _values(texts, lang, "0" * CODE_LENGTH), max_segments
        )
    except ValueError as exc:  # DecodeError, or a format spec that does not fit a text ({link:d})
        raise DecodeError(str(exc) if isinstance(exc, DecodeError) else f"template: {exc}") from None


def check_templates(texts: Texts, settings: SmsSettings) -> dict[tuple[str, str], Segments]:
    """Every template's segments; :class:`DecodeError` for the first one that
    takes more segments than allowed or has no ``{link}``."""
    checked = {}
    for kind, lang in texts.templates:
        try:
            checked[(kind, lang)] = _check(texts, kind, lang, settings.max_segments)
        except DecodeError as exc:
            raise DecodeError(f"{kind} template in {lang}: {exc}") from None
    return checked


@dataclass(frozen=True)
class Review:
    """One template as the console shows it: its segments, or why it is refused, and its preview."""

    segments: Segments | None
    error: str | None
    preview: str | None
    """The message as the voter reads it, with :data:`PLACEHOLDER_CODE` for the code."""


def review_templates(texts: Texts, settings: SmsSettings) -> dict[tuple[str, str], Review]:
    """Every template checked on its own: one that is refused does not hide the others."""
    reviews = {}
    for (kind, lang), text in texts.templates.items():
        try:
            preview: str | None = render(text, _values(texts, lang, PLACEHOLDER_CODE))
        except ValueError:
            preview = None
        try:
            reviews[(kind, lang)] = Review(_check(texts, kind, lang, settings.max_segments), None, preview)
        except DecodeError as exc:
            reviews[(kind, lang)] = Review(None, str(exc), preview)
    return reviews


def segments_by_language(checked: Mapping[tuple[str, str], Segments], kind: str) -> dict[str, int]:
    """Segments of one ``kind`` of message in each language (Arabic's where a language has no text)."""
    found = {lang: s.count for (k, lang), s in checked.items() if k == kind}
    return {code: found.get(code, found["ar"]) for code in LANGUAGES}


def save_templates(
    refs: Referendums, slug: str, settings: SmsSettings, templates: Templates, timezone: str
) -> dict[tuple[str, str], Segments]:
    """Check ``templates`` (:class:`DecodeError`, nothing written, when one is
    refused), then keep them for ``slug``, replacing the file at once."""
    checked = check_templates(texts_for(refs, slug, settings, templates, timezone), settings)
    path = templates_path(settings.data_dir, slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(by_kind(templates), ensure_ascii=False, indent=1), "utf-8")
    os.replace(partial, path)
    return checked


# --- the cost ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimateRow:
    kind: str
    language: str
    segments: Segments
    voters: int
    """Voters registered in this language (0 for reminders: a round goes to fewer)."""


@dataclass(frozen=True)
class Estimate:
    """What inviting the whole electorate costs (a reminder round costs at most as much)."""

    rows: tuple[EstimateRow, ...]
    voters: int
    segments: int
    """Segments of one invitation to every registered voter."""
    price: Decimal
    currency: str

    @property
    def cost(self) -> Decimal:
        return self.price * self.segments


def estimate_of(
    checked: Mapping[tuple[str, str], Segments], by_language: Mapping[str, int], settings: SmsSettings
) -> Estimate:
    """The estimate from checked templates and the voters registered in each language."""
    counts = segments_by_language(checked, "invitation")
    rows = tuple(
        EstimateRow(kind, lang, seg, by_language.get(lang, 0) if kind == "invitation" else 0)
        for (kind, lang), seg in sorted(checked.items())
    )
    total = sum(n * counts.get(lang, max(counts.values())) for lang, n in by_language.items())
    return Estimate(rows, sum(by_language.values()), total, settings.price, settings.currency)


def estimate(
    refs: Referendums, slug: str, settings: SmsSettings, templates: Templates, timezone: str
) -> Estimate:
    checked = check_templates(texts_for(refs, slug, settings, templates, timezone), settings)
    return estimate_of(checked, queue.registrations_by_language(refs.store, slug), settings)


# --- the steps ---------------------------------------------------------------------------


def invite(
    refs: Referendums,
    slug: str,
    settings: SmsSettings,
    timezone: str,
    now: datetime,
    templates: Templates | None = None,
) -> int:
    """Queue an invitation for every voter not yet invited; returns how many.
    The templates (``templates``, else those saved, else the defaults) are
    checked and saved first, so that a later ``send`` uses them."""
    chosen = templates if templates is not None else load_templates(settings.data_dir, slug)
    checked = save_templates(refs, slug, settings, chosen, timezone)
    return queue.enqueue(
        refs.store, slug, "invitation", settings.gateway, segments_by_language(checked, "invitation"), now
    )


def _saved_checked(
    refs: Referendums, slug: str, settings: SmsSettings, timezone: str
) -> dict[tuple[str, str], Segments]:
    templates = load_templates(settings.data_dir, slug)
    return check_templates(texts_for(refs, slug, settings, templates, timezone), settings)


def remind(
    refs: Referendums, slug: str, settings: SmsSettings, timezone: str, now: datetime
) -> tuple[int, int]:
    """Queue the next reminder round for every voter with no ballot on the board: (round, how many)."""
    counts = segments_by_language(_saved_checked(refs, slug, settings, timezone), "reminder")
    round_ = queue.next_reminder_round(refs.store, slug)
    return round_, queue.enqueue(refs.store, slug, "reminder", settings.gateway, counts, now, round_)


def resend(
    refs: Referendums, slug: str, phone: str, settings: SmsSettings, timezone: str, now: datetime
) -> int:
    """Queue a voter's link again (found by ``phone``, as imported); returns the message id."""
    number = normalise_phone(phone)
    counts = segments_by_language(_saved_checked(refs, slug, settings, timezone), "invitation")
    return queue.resend(refs.store, slug, number, settings.gateway, lambda lang: counts[lang], now)


def require_open(refs: Referendums, slug: str) -> None:
    """:class:`WrongState` unless ``slug`` is open: messages go out only then."""
    state = refs.state(slug)
    if state != "open":
        raise WrongState(
            f"{slug} is {state}: invitations go out only while it is open (the codes are erased at close)",
            state,
        )


def hold(refs: Referendums, slug: str) -> int:
    """Hold every queued message (a running dispatcher finishes what is in flight)."""
    return queue.hold(refs.store, slug)


def release(refs: Referendums, slug: str) -> int:
    """Queue the held messages again."""
    return queue.release(refs.store, slug)


def dispatcher(refs: Referendums, slug: str, settings: SmsSettings, timezone: str) -> Dispatcher:
    """What sends the queue of ``slug`` through the configured gateway, with the saved templates."""
    texts = texts_for(refs, slug, settings, load_templates(settings.data_dir, slug), timezone)
    check_templates(texts, settings)
    return Dispatcher(
        refs.store, slug, gateway_for(settings), settings, load_code_box(settings.data_dir), texts
    )
