"""``istifta sms …``: the cost estimate, queuing invitations and reminders,
sending them through the configured gateway, stopping and resuming, and the
outbox of the embedded default gateway.

Settings come from the environment (``ISTIFTA_SMS_…``, docs/settings.md).
Templates are the built-in defaults unless ``invite --templates FILE`` gives
others; they are checked against the segment limit, then kept with the data
(``sms-templates-SLUG.json``) so that what is sent is what was estimated.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from istifta import files
from istifta.election_cli import DEFAULT_DATA_DIR, Database, DataDir, Slug, fail, referendums
from istifta.errors import DecodeError
from istifta.sms import queue
from istifta.sms.dispatch import Dispatcher, DispatchResult, Texts
from istifta.sms.gateways.base import Gateway
from istifta.sms.registry import normalise_phone
from istifta.sms.sealing import load_code_box
from istifta.sms.segments import Segments
from istifta.sms.settings import SmsSettings, load_sms_settings
from istifta.sms.templates import CODE_LENGTH, DEFAULTS, KINDS, check_template, link
from istifta.web.i18n import LANGUAGES, translator
from istifta.web.settings import load_settings

__all__ = ["sms_app"]

sms_app = typer.Typer(help="Invitations and reminders by SMS: estimate, queue, send.", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings(data_dir: Path) -> SmsSettings:
    try:
        return load_sms_settings(data_dir=data_dir)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _templates_path(data_dir: Path, slug: str) -> Path:
    return data_dir / f"sms-templates-{slug}.json"


def _load_templates(data_dir: Path, slug: str, given: Path | None) -> dict[tuple[str, str], str]:
    raw: Any = DEFAULTS
    path = _templates_path(data_dir, slug)
    if given is not None:
        raw = files.read_json(given)
    elif path.exists():
        raw = files.read_json(path)
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


def _texts(refs: Any, slug: str, settings: SmsSettings, templates: dict[tuple[str, str], str]) -> Texts:
    manifest = refs.manifest(slug)
    zone = load_settings().timezone  # the pages' time zone, so the SMS says what the page says
    closes = {code: translator(code, zone).time(manifest.closes_at) for code in LANGUAGES}
    title = dict(manifest.raw["title"])
    return Texts(slug, settings.link_base, templates, title, closes)


def _checked(texts: Texts, settings: SmsSettings) -> dict[tuple[str, str], Segments]:
    widest_link = link(settings.link_base, texts.slug, "0" * CODE_LENGTH)
    checked = {}
    for (kind, lang), text in texts.templates.items():
        widest = {
            "link": widest_link,
            "title": texts.title.get(lang) or texts.title.get("ar", ""),
            "closes": texts.closes.get(lang, ""),
        }
        try:
            checked[(kind, lang)] = check_template(text, widest, settings.max_segments)
        except DecodeError as exc:
            raise DecodeError(f"{kind} template in {lang}: {exc}") from None
    return checked


def _segments_by_language(checked: dict[tuple[str, str], Segments], kind: str) -> dict[str, int]:
    found = {lang: s.count for (k, lang), s in checked.items() if k == kind}
    return {code: found.get(code, found["ar"]) for code in LANGUAGES}


@sms_app.command("estimate")
def estimate(
    slug: Slug,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
    templates: Annotated[Path | None, typer.Option(help="Templates (JSON) instead of the defaults.")] = None,
) -> None:
    """Each template's length and segments, and what inviting the whole electorate costs."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        texts = _texts(refs, slug, settings, _load_templates(data_dir, slug, templates))
        checked = _checked(texts, settings)
        by_language = queue.registrations_by_language(refs.store, slug)
    table = Table("message", "language", "encoding", "characters", "segments", "voters", "segments in all")
    for column in table.columns:
        column.no_wrap = True
    total = 0
    for (kind, lang), seg in sorted(checked.items()):
        voters = by_language.get(lang, 0) if kind == "invitation" else 0
        if kind == "invitation":
            total += voters * seg.count
        table.add_row(
            kind,
            lang,
            seg.encoding,
            f"{seg.units}/{seg.per_segment}",
            str(seg.count),
            f"{voters:,}",
            f"{voters * seg.count:,}",
        )
    out.print(table)
    cost = settings.price * total
    out.print(
        f"invitations for {sum(by_language.values()):,} voters: {total:,} segments × {settings.price} "
        f"{settings.currency} = [bold]{cost:,.2f} {settings.currency}[/] "
        "(a reminder round costs at most as much)",
        highlight=False,
    )


@sms_app.command("invite")
def invite(
    slug: Slug,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
    templates: Annotated[Path | None, typer.Option(help="Templates (JSON) instead of the defaults.")] = None,
) -> None:
    """Queue an invitation for every voter not yet invited (then run `istifta sms send`)."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        chosen = _load_templates(data_dir, slug, templates)
        texts = _texts(refs, slug, settings, chosen)
        checked = _checked(texts, settings)
        by_kind: dict[str, dict[str, str]] = {}
        for (kind, lang), text in chosen.items():
            by_kind.setdefault(kind, {})[lang] = text
        _templates_path(data_dir, slug).write_text(json.dumps(by_kind, ensure_ascii=False, indent=1), "utf-8")
        queued = queue.enqueue(
            refs.store,
            slug,
            "invitation",
            settings.gateway,
            _segments_by_language(checked, "invitation"),
            _now(),
        )
    out.print(f"queued {queued:,} invitations for {escape(slug)} through {settings.gateway}", highlight=False)


@sms_app.command("remind")
def remind(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Queue a reminder for every voter who has no ballot on the board yet."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        texts = _texts(refs, slug, settings, _load_templates(data_dir, slug, None))
        checked = _checked(texts, settings)
        round_ = queue.next_reminder_round(refs.store, slug)
        queued = queue.enqueue(
            refs.store,
            slug,
            "reminder",
            settings.gateway,
            _segments_by_language(checked, "reminder"),
            _now(),
            round_,
        )
    out.print(f"queued reminder round {round_}: {queued:,} voters have not voted yet", highlight=False)


@sms_app.command("resend")
def resend(
    slug: Slug,
    phone: Annotated[
        str, typer.Argument(help="The voter's number, as imported (E.164, e.g. +9647701234567).")
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
) -> None:
    """Queue a voter's link again (the voter lost the first message)."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        texts = _texts(refs, slug, settings, _load_templates(data_dir, slug, None))
        counts = _segments_by_language(_checked(texts, settings), "invitation")
        number = normalise_phone(phone)
        message = queue.resend(refs.store, slug, number, settings.gateway, lambda lang: counts[lang], _now())
    out.print(f"queued message {message} (run `istifta sms send {escape(slug)}`)", highlight=False)


@sms_app.command("send")
def send(
    slug: Slug,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database: Database = None,
    follow: Annotated[bool, typer.Option(help="Keep waiting for new messages until Ctrl-C.")] = False,
) -> None:
    """Send what is queued through the configured gateway (Ctrl-C stops cleanly)."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        texts = _texts(refs, slug, settings, _load_templates(data_dir, slug, None))
        _checked(texts, settings)
        total = queue.counts(refs.store, slug).by_state
        pending = total["queued"] + total["sending"]
        dispatcher = Dispatcher(
            refs.store, slug, gateway_for(settings), settings, load_code_box(data_dir), texts
        )
        with Progress(
            TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
        ) as bar:
            task = bar.add_task("send", total=pending or None)

            def progress(result: DispatchResult) -> None:
                bar.update(task, completed=result.sent + result.failed)

            dispatcher.progress = progress
            result = asyncio.run(_run(dispatcher, follow))
    out.print(
        f"sent {result.sent:,}, failed {result.failed:,}, to retry {result.retried:,}, "
        f"delivery reports {result.reports:,}"
        + (f", recovered after a stop {result.recovered:,}" if result.recovered else ""),
        highlight=False,
    )


async def _run(dispatcher: Dispatcher, follow: bool) -> DispatchResult:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, dispatcher.stop)
    return await dispatcher.run(follow=follow)


@sms_app.command("stop")
def stop(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Hold every queued message (a running `send` finishes what is in flight)."""
    with referendums(data_dir, database) as refs:
        held = queue.hold(refs.store, slug)
    out.print(f"held {held:,} messages; `istifta sms resume {escape(slug)}` releases them", highlight=False)


@sms_app.command("resume")
def resume(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Release held messages to the queue (then run `istifta sms send`)."""
    with referendums(data_dir, database) as refs:
        released = queue.release(refs.store, slug)
    out.print(f"released {released:,} messages", highlight=False)


@sms_app.command("status")
def status(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Messages by state and by kind, segments sent and what they cost."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        counts = queue.counts(refs.store, slug)
    table = Table("state", "messages")
    for state, n in counts.by_state.items():
        table.add_row(state, f"{n:,}")
    out.print(table)
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(counts.by_kind.items())) or "none"
    out.print(f"by kind: {kinds}", highlight=False)
    out.print(
        f"segments sent: {counts.segments:,} = {counts.cost(settings.price):,.2f} {settings.currency}",
        highlight=False,
    )


@sms_app.command("outbox")
def outbox(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    limit: Annotated[int, typer.Option(help="Show at most this many, newest last.")] = 50,
) -> None:
    """The messages the outbox gateway kept (nothing left the machine), with their links."""
    from istifta.sms.gateways.outbox import read_outbox

    entries = read_outbox(data_dir)
    for entry in entries[-limit:]:  # plain lines: a link must never be cut to fit a table
        out.print(f"{entry.id}\t{entry.phone}\t{entry.at}\t{escape(entry.text)}", highlight=False)
    out.print(f"{len(entries):,} messages in {escape(str(data_dir / 'outbox.jsonl'))}", highlight=False)


def gateway_for(settings: SmsSettings) -> Gateway:
    """The gateway ``ISTIFTA_SMS_GATEWAY`` names."""
    if settings.gateway == "smpp":
        from istifta.sms.gateways.smpp import SmppGateway

        return SmppGateway(settings)
    if settings.gateway == "http":
        from istifta.sms.gateways.http import HttpGateway

        return HttpGateway(settings)
    from istifta.sms.gateways.outbox import OutboxGateway

    return OutboxGateway(settings)


def _now() -> datetime:
    return datetime.now(UTC)
