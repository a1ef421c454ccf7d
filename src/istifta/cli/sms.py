"""``istifta sms …``: the cost estimate, queuing invitations and reminders,
sending them through the configured gateway, stopping and resuming, and the
outbox of the embedded default gateway.

Settings come from the environment (``ISTIFTA_SMS_…``, docs/settings.md).
Templates are the built-in defaults unless ``invite --templates FILE`` gives
others; they are checked against the segment limit, then kept with the data
(``sms-templates-SLUG.json``) so that what is sent is what was estimated.
Each command is one call to :mod:`istifta.sms.invitations`, which the
console's Invitations page calls too.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from istifta.cli.common import DEFAULT_DATA_DIR, Database, DataDir, Slug, err, fail, out, referendums
from istifta.sms import invitations, queue
from istifta.sms.dispatch import Dispatcher, DispatchResult
from istifta.sms.settings import SmsSettings, load_sms_settings
from istifta.web.settings import load_settings

__all__ = ["sms_app"]

sms_app = typer.Typer(help="Invitations and reminders by SMS: estimate, queue, send.", no_args_is_help=True)


def _settings(data_dir: Path) -> SmsSettings:
    try:
        return load_sms_settings(data_dir=data_dir)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _zone() -> str:
    return load_settings().timezone  # the pages' time zone, so the SMS says what the page says


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
        chosen = invitations.load_templates(data_dir, slug, templates)
        found = invitations.estimate(refs, slug, settings, chosen, _zone())
    table = Table("message", "language", "encoding", "characters", "segments", "voters", "segments in all")
    for column in table.columns:
        column.no_wrap = True
    for row in found.rows:
        seg = row.segments
        table.add_row(
            row.kind,
            row.language,
            seg.encoding,
            f"{seg.units}/{seg.per_segment}",
            str(seg.count),
            f"{row.voters:,}",
            f"{row.voters * seg.count:,}",
        )
    out.print(table)
    out.print(
        f"invitations for {found.voters:,} voters: {found.segments:,} segments × {found.price} "
        f"{found.currency} = [bold]{found.cost:,.2f} {found.currency}[/] "
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
        chosen = invitations.load_templates(data_dir, slug, templates)
        queued = invitations.invite(refs, slug, settings, _zone(), _now(), chosen)
    out.print(f"queued {queued:,} invitations for {escape(slug)} through {settings.gateway}", highlight=False)


@sms_app.command("remind")
def remind(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Queue a reminder for every voter who has no ballot on the board yet."""
    settings = _settings(data_dir)
    with referendums(data_dir, database) as refs:
        round_, queued = invitations.remind(refs, slug, settings, _zone(), _now())
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
        message = invitations.resend(refs, slug, phone, settings, _zone(), _now())
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
        dispatcher = invitations.dispatcher(refs, slug, settings, _zone())
        total = queue.counts(refs.store, slug).by_state
        pending = total["queued"] + total["sending"]
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
        held = invitations.hold(refs, slug)
    out.print(f"held {held:,} messages; `istifta sms resume {escape(slug)}` releases them", highlight=False)


@sms_app.command("resume")
def resume(slug: Slug, data_dir: DataDir = DEFAULT_DATA_DIR, database: Database = None) -> None:
    """Release held messages to the queue (then run `istifta sms send`)."""
    with referendums(data_dir, database) as refs:
        released = invitations.release(refs, slug)
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


def _now() -> datetime:
    return datetime.now(UTC)
