"""The durable SMS queue (table ``sms_messages``): what to send, and its state.

Queuing is one ``INSERT … SELECT`` per batch, so an invitation per voter
for millions of voters costs seconds; the unique key ``(election, voter,
kind, round)`` makes queuing twice queue nothing twice. Reminders go only to
voters whose credential has no ballot on the board. ``hold`` and ``release``
stop and resume sending (durably, for any dispatcher); ``recover`` settles
what a dispatcher that stopped abruptly left in ``sending``.
:func:`failure_reasons` and :func:`timeline` are what the console shows of
the sending: why messages failed, and how many were sent, delivered and
failed minute by minute (or by a longer step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CursorResult,
    DateTime,
    Integer,
    Result,
    String,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from istifta.errors import LifecycleError, UnknownElection, WrongState
from istifta.store.db import Store
from istifta.store.models import BoardEntry, Election, Registration, SmsMessage

__all__ = [
    "STATES",
    "Bucket",
    "Counts",
    "Timeline",
    "counts",
    "enqueue",
    "failure_reasons",
    "hold",
    "next_reminder_round",
    "recover",
    "registrations_by_language",
    "release",
    "resend",
    "timeline",
]

STATES = ("queued", "held", "sending", "sent", "delivered", "failed", "in_doubt", "cancelled")


def _election(session: Session, slug: str) -> Election:
    row = session.execute(select(Election).where(Election.slug == slug)).scalar()
    if row is None:
        raise UnknownElection(f"no referendum is called {slug!r}")
    return row


def _open(session: Session, slug: str) -> Election:
    election = _election(session, slug)
    if election.state != "open":
        raise WrongState(
            f"{slug} is {election.state}: invitations go out only while it is open "
            "(the codes are erased at close)",
            election.state,
        )
    return election


def enqueue(
    store: Store,
    slug: str,
    kind: str,
    gateway: str,
    segments_by_language: dict[str, int],
    now: datetime,
    round: int = 0,
) -> int:
    """Queue one ``kind`` message (``invitation``, or ``reminder`` with its
    ``round``) for every voter who should get it; returns how many were queued.
    Reminders skip voters who have a ballot on the board."""
    with store.session() as session, session.begin():
        election = _open(session, slug)
        r = Registration
        already = exists().where(
            SmsMessage.election_id == r.election_id,
            SmsMessage.number == r.number,
            SmsMessage.kind == kind,
            SmsMessage.round == round,
        )
        wanted = [r.election_id == election.id, r.code_sealed.is_not(None), ~already]
        if kind == "reminder":
            voted = exists().where(
                BoardEntry.election_id == r.election_id,
                BoardEntry.kind == "ballot",
                BoardEntry.credential == r.credential,
            )
            wanted.append(~voted)
        segments = case(
            *((r.language == lang, n) for lang, n in segments_by_language.items()),
            else_=max(segments_by_language.values()),
        )
        rows = select(
            r.election_id,
            r.number,
            literal(kind, String()),
            literal(round, Integer()),
            literal(gateway, String()),
            literal("queued", String()),
            segments,
            literal(0, Integer()),
            literal(now, DateTime(timezone=True)),
            literal(now, DateTime(timezone=True)),
        ).where(and_(*wanted))
        columns = [
            "election_id",
            "number",
            "kind",
            "round",
            "gateway",
            "state",
            "segments",
            "attempts",
            "next_attempt_at",
            "created_at",
        ]
        statement = insert(SmsMessage).from_select(columns, rows)
        result = session.execute(statement.execution_options(preserve_rowcount=True))
        return _rowcount(result)


def registrations_by_language(store: Store, slug: str) -> dict[str, int]:
    """How many registered voters each language has (for the cost estimate)."""
    with store.session() as session:
        election = _election(session, slug)
        rows = session.execute(
            select(Registration.language, func.count())
            .where(Registration.election_id == election.id)
            .group_by(Registration.language)
        ).all()
    return {lang: int(n) for lang, n in rows}


def next_reminder_round(store: Store, slug: str) -> int:
    with store.session() as session:
        election = _election(session, slug)
        last = session.execute(
            select(func.max(SmsMessage.round)).where(
                SmsMessage.election_id == election.id, SmsMessage.kind == "reminder"
            )
        ).scalar()
        return int(last or 0) + 1


def resend(
    store: Store, slug: str, phone: str, gateway: str, segments: Callable[[str], int], now: datetime
) -> int:
    """Queue the voter's link again (the voter lost it); returns the message id."""
    with store.session() as session, session.begin():
        election = _open(session, slug)
        voter = session.execute(
            select(Registration).where(Registration.election_id == election.id, Registration.phone == phone)
        ).scalar()
        if voter is None:
            raise LifecycleError(f"no voter of {slug} has the number {phone}")
        last = session.execute(
            select(func.max(SmsMessage.round)).where(
                SmsMessage.election_id == election.id,
                SmsMessage.number == voter.number,
                SmsMessage.kind == "resend",
            )
        ).scalar()
        message = SmsMessage(
            election_id=election.id,
            number=voter.number,
            kind="resend",
            round=int(last or 0) + 1,
            gateway=gateway,
            state="queued",
            segments=segments(voter.language),
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(message)
        session.flush()
        return int(message.id)


def _move(store: Store, slug: str, source: str, target: str) -> int:
    with store.session() as session, session.begin():
        election = _election(session, slug)
        result = session.execute(
            update(SmsMessage)
            .where(SmsMessage.election_id == election.id, SmsMessage.state == source)
            .values(state=target)
        )
        return _rowcount(result)


def hold(store: Store, slug: str) -> int:
    """Stop sending: every queued message is held (a running dispatcher finishes what is in flight)."""
    return _move(store, slug, "queued", "held")


def release(store: Store, slug: str) -> int:
    """Resume sending what was held."""
    return _move(store, slug, "held", "queued")


def recover(store: Store, election_id: int, gateway: str, idempotent: bool) -> int:
    """Settle what a dispatcher left ``sending`` when it stopped abruptly: the
    gateway may or may not have taken those messages. Through an idempotent
    gateway they are queued again (the gateway drops a second copy); otherwise
    they become ``in_doubt``, never sent twice on istifta's own initiative:
    the organiser sees them and may resend."""
    target = "queued" if idempotent else "in_doubt"
    with store.session() as session, session.begin():
        result = session.execute(
            update(SmsMessage)
            .where(
                SmsMessage.election_id == election_id,
                SmsMessage.gateway == gateway,
                SmsMessage.state == "sending",
            )
            .values(state=target)
        )
        return _rowcount(result)


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


@dataclass(frozen=True)
class Counts:
    by_state: dict[str, int]
    by_kind: dict[str, int]
    segments: int
    """Segments of every message the gateway took (sent, delivered, failed after sending)."""

    def cost(self, price: Decimal) -> Decimal:
        return price * self.segments

    def to_json(self) -> dict[str, Any]:
        return {"by_state": self.by_state, "by_kind": self.by_kind, "segments_sent": self.segments}


def counts(store: Store, slug: str) -> Counts:
    with store.session() as session:
        election = _election(session, slug)
        where = SmsMessage.election_id == election.id
        by_state = dict(
            session.execute(
                select(SmsMessage.state, func.count()).where(where).group_by(SmsMessage.state)
            ).all()
        )
        by_kind = dict(
            session.execute(
                select(SmsMessage.kind, func.count()).where(where).group_by(SmsMessage.kind)
            ).all()
        )
        segments = session.execute(
            select(func.coalesce(func.sum(SmsMessage.segments), 0)).where(
                where, SmsMessage.sent_at.is_not(None)
            )
        ).scalar_one()
    return Counts(
        {s: int(by_state.get(s, 0)) for s in STATES},
        {k: int(v) for k, v in by_kind.items()},
        int(segments),
    )


def failure_reasons(store: Store, slug: str, top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` commonest reasons failed messages give, with how many gave each, commonest first."""
    with store.session() as session:
        election = _election(session, slug)
        reason = func.coalesce(SmsMessage.error, "")
        rows = session.execute(
            select(reason, func.count())
            .where(SmsMessage.election_id == election.id, SmsMessage.state == "failed")
            .group_by(reason)
            .order_by(func.count().desc(), reason)
            .limit(top)
        ).all()
    return [(str(text), int(n)) for text, n in rows]


STEPS = (60, 5 * 60, 15 * 60, 3600, 6 * 3600, 86400, 7 * 86400)
"""The timeline's steps, in seconds: the shortest that keeps it within its number of buckets."""


@dataclass(frozen=True)
class Bucket:
    start: datetime
    """The bucket's first instant (UTC); it lasts the timeline's ``step``."""
    sent: int
    delivered: int
    failed: int


@dataclass(frozen=True)
class Timeline:
    step: int
    """Seconds per bucket."""
    buckets: tuple[Bucket, ...]
    """From the first message sent or finished to the last, empty buckets included."""


def timeline(store: Store, slug: str, most: int = 60) -> Timeline:
    """Messages sent (by ``sent_at``), delivered and failed (by ``done_at``) per
    bucket of ``step`` seconds, the shortest of :data:`STEPS` giving at most
    ``most`` buckets (the last step when even that gives more: the oldest are dropped)."""
    with store.session() as session:
        election = _election(session, slug)
        where = SmsMessage.election_id == election.id
        first, last = session.execute(
            select(
                func.min(func.coalesce(SmsMessage.sent_at, SmsMessage.done_at)),
                func.max(func.coalesce(SmsMessage.done_at, SmsMessage.sent_at)),
            ).where(where)
        ).one()
        if first is None or last is None:
            return Timeline(STEPS[0], ())
        span = (_utc(last) - _utc(first)).total_seconds()
        step = next((s for s in STEPS if span // s < most), STEPS[-1])
        figures: dict[int, list[int]] = {}
        for column, wanted, slot in (
            (SmsMessage.sent_at, SmsMessage.sent_at.is_not(None), 0),
            (SmsMessage.done_at, SmsMessage.state == "delivered", 1),
            (SmsMessage.done_at, SmsMessage.state == "failed", 2),
        ):
            key = _bucket(store, column, step)
            for number, n in session.execute(
                select(key, func.count()).where(where, wanted, column.is_not(None)).group_by(key)
            ):
                figures.setdefault(int(number), [0, 0, 0])[slot] = int(n)
    if not figures:
        return Timeline(step, ())
    end = max(figures)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    buckets = []
    for k in range(max(min(figures), end - most + 1), end + 1):
        sent, delivered, failed = figures.get(k, (0, 0, 0))
        buckets.append(Bucket(epoch + timedelta(seconds=k * step), sent, delivered, failed))
    return Timeline(step, tuple(buckets))


def _bucket(store: Store, column: Any, step: int) -> ColumnElement[int]:
    """The number of the ``step``-second bucket (since 1970, UTC) ``column`` falls in."""
    if store.is_sqlite:  # times are stored as UTC text; integer division
        return sql_cast(func.strftime("%s", column), Integer) // step
    return sql_cast(func.floor(func.extract("epoch", column) / step), BigInteger)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
