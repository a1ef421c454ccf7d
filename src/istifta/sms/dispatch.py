"""The dispatcher: takes due messages from the queue and hands them to a gateway.

Each message is claimed (``sending``, committed) before the gateway sees it
and marked ``sent`` with the gateway's id once the gateway took it; the
answers are written in batches. Up to ``window`` messages are in flight, at
most ``rate`` a second. A temporary error queues the message again after a
back-off (``retry_seconds``, doubling) until ``max_attempts``; a permanent
one marks it ``failed`` with the reason. Delivery reports mark messages
``delivered`` or ``failed``; a report that outruns its ``sent`` record is
kept and applied after the next write. Answers and reports are written in
batches, one transaction each. After a crash, :func:`recover`
settles what was ``sending`` (see there), so no message is lost and none is
sent twice on istifta's initiative.

The texts are rendered here, at the last moment, from the sealed codes: a
message's text (which holds the voter's code) is never stored or logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from istifta.electorate.sealing import CodeBox
from istifta.errors import GatewayError, UnknownElection
from istifta.sms.gateways.base import DeliveryReport, Gateway, Outgoing
from istifta.sms.queue import recover
from istifta.sms.reports import FINISHABLE
from istifta.sms.settings import SmsSettings
from istifta.sms.templates import link, render
from istifta.store.db import Store
from istifta.store.models import Election, Registration, SmsMessage

__all__ = ["DispatchResult", "Dispatcher", "Texts"]

Clock = Callable[[], datetime]
FLUSH_EVERY = 50
FLUSH_SECONDS = 0.1
"""Answers are written every 50 messages or 0.1 s, whichever comes first: after a
crash, at most that many and the window are left in doubt."""
MESSAGES = cast(Table, SmsMessage.__table__)
UNMATCHED_TRIES = 20
"""Flushes a report waits for its message's ``sent`` record before it is dropped."""


@dataclass(frozen=True)
class Texts:
    """How to write each message: templates by (kind, language) and the values around the link."""

    slug: str
    link_base: str
    templates: Mapping[tuple[str, str], str]
    title: Mapping[str, str]
    closes: Mapping[str, str]

    def render(self, kind: str, language: str, code: str) -> str:
        template_kind = "reminder" if kind == "reminder" else "invitation"
        text = self.templates.get((template_kind, language)) or self.templates[(template_kind, "ar")]
        values = {
            "link": link(self.link_base, self.slug, code),
            "title": self.title.get(language) or self.title.get("ar", ""),
            "closes": self.closes.get(language) or self.closes.get("ar", ""),
        }
        return render(text, values)


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    recovered: int = 0
    reports: int = 0


@dataclass
class _Claimed:
    id: int
    kind: str
    phone: str
    language: str
    sealed: bytes | None
    attempts: int


class _Pacer:
    """At most ``rate`` a second, with no burst beyond one."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.next > now:
            await asyncio.sleep(self.next - now)
        self.next = max(self.next, now) + self.interval


@dataclass
class Dispatcher:
    store: Store
    slug: str
    gateway: Gateway
    settings: SmsSettings
    box: CodeBox
    texts: Texts
    clock: Clock = field(default=lambda: datetime.now(UTC))
    progress: Callable[[DispatchResult], None] | None = None
    result: DispatchResult = field(default_factory=DispatchResult)
    _done: list[tuple[int, str, Any]] = field(default_factory=list)
    _reports: list[tuple[DeliveryReport, int]] = field(default_factory=list)
    """Reports not yet written, with how many flushes found no ``sent`` record for them."""
    _stopping: bool = False
    _flushed: float = 0.0

    def stop(self) -> None:
        """Finish what is in flight, write it down, and return (e.g. on Ctrl-C)."""
        self._stopping = True

    async def run(self, follow: bool = False) -> DispatchResult:
        """Send until nothing is due (or, with ``follow``, until :meth:`stop`)."""
        election_id = await asyncio.to_thread(self._election_id)
        self.result.recovered = await asyncio.to_thread(
            recover, self.store, election_id, self.gateway.name, self.gateway.idempotent
        )
        await self.gateway.start(self._on_report)
        loop = asyncio.get_running_loop()
        window = asyncio.Semaphore(max(1, self.settings.window))
        pacer = _Pacer(self.settings.rate)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping:
                batch = await asyncio.to_thread(self._claim, election_id, max(1, self.settings.window))
                if not batch:
                    if tasks:
                        await asyncio.wait(tasks, timeout=FLUSH_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                        if loop.time() - self._flushed > FLUSH_SECONDS:
                            await self._flush()
                    else:
                        await self._flush()
                        wait = await asyncio.to_thread(self._next_due, election_id)
                        if wait is None and not follow:
                            break
                        await asyncio.sleep(min(wait if wait is not None else 1.0, 1.0))
                    continue
                for item in batch:
                    await window.acquire()
                    await pacer.wait()
                    task = asyncio.create_task(self._send(item, window))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    if len(self._done) >= FLUSH_EVERY or loop.time() - self._flushed > FLUSH_SECONDS:
                        await self._flush()
        finally:
            if tasks:
                await asyncio.wait(tasks)
            await self._flush()
            await self.gateway.stop()  # hands over the reports it still holds
            await self._flush()  # and those that outran their "sent" record
        return self.result

    # --- the queue ---

    def _election_id(self) -> int:
        with self.store.session() as session:
            election_id = session.execute(select(Election.id).where(Election.slug == self.slug)).scalar()
        if election_id is None:
            raise UnknownElection(f"no referendum is called {self.slug!r}")
        return int(election_id)

    def _claim(self, election_id: int, limit: int) -> list[_Claimed]:
        now = self.clock()
        with self.store.session() as session, session.begin():
            due = (
                select(SmsMessage.id)
                .where(
                    SmsMessage.election_id == election_id,
                    SmsMessage.gateway == self.gateway.name,
                    SmsMessage.state == "queued",
                    SmsMessage.next_attempt_at <= now,
                )
                .order_by(SmsMessage.id)
                .limit(limit)
            )
            if not self.store.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            ids = list(session.execute(due).scalars())
            if not ids:
                return []
            session.execute(update(SmsMessage).where(SmsMessage.id.in_(ids)).values(state="sending"))
            rows = session.execute(
                select(
                    SmsMessage.id,
                    SmsMessage.kind,
                    Registration.phone,
                    Registration.language,
                    Registration.code_sealed,
                    SmsMessage.attempts,
                )
                .join(
                    Registration,
                    (Registration.election_id == SmsMessage.election_id)
                    & (Registration.number == SmsMessage.number),
                )
                .where(SmsMessage.id.in_(ids))
                .order_by(SmsMessage.id)
            )
            return [_Claimed(*row) for row in rows]

    def _next_due(self, election_id: int) -> float | None:
        """Seconds until the next queued message is due, or ``None`` if none is queued."""
        with self.store.session() as session:
            when = session.execute(
                select(func.min(SmsMessage.next_attempt_at)).where(
                    SmsMessage.election_id == election_id,
                    SmsMessage.gateway == self.gateway.name,
                    SmsMessage.state == "queued",
                )
            ).scalar()
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - self.clock()).total_seconds())

    # --- sending ---

    async def _send(self, item: _Claimed, window: asyncio.Semaphore) -> None:
        try:
            if item.sealed is None:
                self._done.append((item.id, "failed", "the voter's code was erased (the referendum closed)"))
                return
            text = self.texts.render(item.kind, item.language, self.box.open(item.sealed))
            gateway_id = await self.gateway.send(Outgoing(item.id, item.phone, text))
        except GatewayError as error:
            self._done.append((item.id, *self._after_error(item, error)))
        else:
            self._done.append((item.id, "sent", gateway_id))
        finally:
            window.release()

    def _after_error(self, item: _Claimed, error: GatewayError) -> tuple[str, Any]:
        attempts = item.attempts + 1
        if error.temporary and attempts < self.settings.max_attempts:
            delay = self.settings.retry_seconds * 2 ** (attempts - 1)
            return "retry", (attempts, self.clock() + timedelta(seconds=delay), error.reason)
        reason = error.reason if not error.temporary else f"gave up after {attempts} attempts: {error.reason}"
        return "failed", reason

    async def _flush(self) -> None:
        self._flushed = asyncio.get_running_loop().time()
        done, self._done = self._done, []
        if done:
            await asyncio.to_thread(self._write, done)
        if self._reports:
            pending, self._reports = self._reports, []
            self._reports.extend(await asyncio.to_thread(self._record_reports, pending))
        if self.progress:
            self.progress(self.result)

    def _write(self, done: list[tuple[int, str, Any]]) -> None:
        now = self.clock()
        sent = [{"b_id": i, "b_gid": v} for i, kind, v in done if kind == "sent"]
        failed = [{"b_id": i, "b_error": v} for i, kind, v in done if kind == "failed"]
        retry = [
            {"b_id": i, "b_attempts": v[0], "b_next": v[1], "b_error": v[2]}
            for i, kind, v in done
            if kind == "retry"
        ]
        with self.store.session() as session, session.begin():
            self._executemany(session, sent, state="sent", gateway_id=bindparam("b_gid"), sent_at=now)
            self._executemany(session, failed, state="failed", error=bindparam("b_error"), done_at=now)
            self._executemany(
                session,
                retry,
                state="queued",
                attempts=bindparam("b_attempts"),
                next_attempt_at=bindparam("b_next"),
                error=bindparam("b_error"),
            )
        self.result.sent += len(sent)
        self.result.failed += len(failed)
        self.result.retried += len(retry)

    @staticmethod
    def _executemany(session: Session, rows: list[dict[str, Any]], **values: Any) -> None:
        if rows:
            statement = update(MESSAGES).where(MESSAGES.c.id == bindparam("b_id"))
            session.execute(statement.values(**values), rows)

    # --- delivery reports ---

    async def _on_report(self, report: DeliveryReport) -> None:
        self._reports.append((report, 0))  # written with the next batch of answers

    def _record_reports(self, reports: list[tuple[DeliveryReport, int]]) -> list[tuple[DeliveryReport, int]]:
        """Finish the messages these reports are about, in one transaction; return
        the reports whose message has no ``sent`` record yet, to try again."""
        now = self.clock()
        rows = [
            {
                "b_gid": r.gateway_id,
                "b_state": "delivered" if r.delivered else "failed",
                "b_error": None if r.delivered else (r.error or "the network reported it undelivered")[:500],
            }
            for r, _ in reports
        ]
        with self.store.session() as session, session.begin():
            statement = (
                update(MESSAGES)
                .where(
                    MESSAGES.c.gateway == self.gateway.name,
                    MESSAGES.c.gateway_id == bindparam("b_gid"),
                    or_(*(MESSAGES.c.state == state for state in FINISHABLE)),  # no IN in executemany
                )
                .values(state=bindparam("b_state"), error=bindparam("b_error"), done_at=now)
            )
            session.execute(statement, rows)
            known = set(
                session.execute(
                    select(SmsMessage.gateway_id).where(
                        SmsMessage.gateway == self.gateway.name,
                        SmsMessage.gateway_id.in_([r.gateway_id for r, _ in reports]),
                    )
                ).scalars()
            )
        self.result.reports += sum(1 for r, _ in reports if r.gateway_id in known)
        return [
            (r, tries + 1) for r, tries in reports if r.gateway_id not in known and tries < UNMATCHED_TRIES
        ]
