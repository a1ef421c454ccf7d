"""The durable SMS queue (table ``sms_messages``): what to send, and its state.

Queuing is one ``INSERT … SELECT`` per batch, so an invitation per voter
for millions of voters costs seconds; the unique key ``(election, voter,
kind, round)`` makes queuing twice queue nothing twice. Reminders go only to
voters whose credential has no ballot on the board. ``hold`` and ``release``
stop and resume sending (durably, for any dispatcher); ``recover`` settles
what a dispatcher that stopped abruptly left in ``sending``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
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
from sqlalchemy.orm import Session

from istifta.errors import LifecycleError, UnknownElection, WrongState
from istifta.store.db import Store
from istifta.store.models import BoardEntry, Election, Registration, SmsMessage

__all__ = [
    "STATES",
    "Counts",
    "counts",
    "enqueue",
    "hold",
    "next_reminder_round",
    "recover",
    "registrations_by_language",
    "release",
    "resend",
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
