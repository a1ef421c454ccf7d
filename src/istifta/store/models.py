"""The tables (SQLAlchemy 2). Alembic migrations in ``migrations/`` create them;
``tests/store/test_migrations.py`` checks that the two agree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from istifta.protocol.treehead import TreeHead

__all__ = [
    "Account",
    "AccountInvitation",
    "AuditEntry",
    "Base",
    "BoardEntry",
    "BoardNode",
    "ConsoleSession",
    "Election",
    "Registration",
    "SignInFailure",
    "SmsMessage",
    "TreeHeadRow",
    "TrusteeConfirmation",
    "TrusteeRow",
    "TurnoutCount",
    "Voter",
]


class Base(DeclarativeBase):
    pass


class Election(Base):
    """A referendum, from its manifest to its published result."""

    __tablename__ = "elections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    manifest: Mapped[str] = mapped_column(Text)
    """The manifest as JSON text, exactly as checked."""
    manifest_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    """draft → open → closed → tallied → published."""
    parameters: Mapped[str | None] = mapped_column(Text)
    """The frozen parameters (JSON), set by ``open``."""
    election_hash: Mapped[str | None] = mapped_column(String(64))
    board_size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrusteeRow(Base):
    """A trustee's public file, as the organiser received it."""

    __tablename__ = "trustees"

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    index: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    public: Mapped[str] = mapped_column(Text)


class Voter(Base):
    """One voter of the electorate: a public credential and an optional region."""

    __tablename__ = "electorate"

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    credential: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    region: Mapped[str | None] = mapped_column(String(64))
    leaf_index: Mapped[int | None] = mapped_column(BigInteger)
    """The voter's leaf's place in the electorate's sorted leaves (PROTOCOL.md §4),
    set when the referendum opens and the electorate is frozen."""


class TurnoutCount(Base):
    """An open referendum's live turnout in one region (``""``: voters without one):
    its eligible voters, counted when it opened, and those with a ballot on the
    board, counted by the board's writer as each credential's first ballot lands."""

    __tablename__ = "turnout_counts"

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    eligible: Mapped[int] = mapped_column(BigInteger)
    voted: Mapped[int] = mapped_column(BigInteger)


class BoardEntry(Base):
    """One entry of an election's board: its bytes, leaf hash, and what finds it."""

    __tablename__ = "board_entries"
    __table_args__ = (
        UniqueConstraint("election_id", "tracker", name="uq_board_tracker"),
        Index("ix_board_credential", "election_id", "credential"),
    )

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    tracker: Mapped[str | None] = mapped_column(String(64))
    credential: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class BoardNode(Base):
    """A complete subtree's hash: level 0 are leaf hashes (RFC 9162)."""

    __tablename__ = "board_nodes"

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHeadRow(Base):
    """A signed tree head, one for each size the board has published."""

    __tablename__ = "tree_heads"

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))

    def head(self) -> TreeHead:
        return TreeHead(self.size, bytes.fromhex(self.root), self.timestamp, bytes.fromhex(self.signature))


class Registration(Base):
    """A voter as the registrar imported them: private, never in the record.

    ``number`` is the voter's place in the import (1, 2, …); ``credential`` is
    their public ``P`` (also in ``electorate``); ``code_sealed`` is their
    credential code encrypted with the data directory's SMS key (SecretBox),
    kept only to send and resend the link, and erased at close."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("election_id", "phone", name="uq_registration_phone"),
        Index("ix_registration_credential", "election_id", "credential"),
    )

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    """E.164, e.g. +9647701234567."""
    region: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    credential: Mapped[bytes] = mapped_column(LargeBinary(32))
    code_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    line: Mapped[int] = mapped_column(BigInteger)
    """The line of the import file it came from (for reports)."""


class SmsMessage(Base):
    """One SMS to one voter: the durable dispatch queue.

    The text is never stored (it holds the voter's code): it is rendered at
    sending time from the template and the sealed code. ``(election_id,
    number, kind, round)`` is unique, so an invitation or a given reminder
    round is queued at most once.

    States: ``queued`` → ``sending`` (claimed, committed before the gateway
    is called) → ``sent`` (the gateway took it: ``gateway_id``) →
    ``delivered`` | ``failed``; ``in_doubt`` when a dispatcher stopped between
    handing it to a gateway and recording the answer; ``cancelled``."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        UniqueConstraint("election_id", "number", "kind", "round", name="uq_sms_once"),
        Index("ix_sms_due", "election_id", "state", "next_attempt_at"),
        Index("ix_sms_gateway_id", "gateway", "gateway_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"))
    number: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    """``invitation``, ``reminder`` or ``resend``."""
    round: Mapped[int] = mapped_column(Integer, default=0)
    gateway: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    segments: Mapped[int] = mapped_column(SmallInteger)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    gateway_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Account(Base):
    """A console user: an organiser, a registrar or an observer."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    """argon2id, in its PHC string form."""
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When an organiser disabled the account: it may not sign in, its sessions are gone."""


class SignInFailure(Base):
    """One failed console sign-in, counted against a ``key``: ``account:NAME`` or
    ``address:PREFIX``. Failures older than the lockout window are deleted."""

    __tablename__ = "signin_failures"
    __table_args__ = (Index("ix_signin_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsoleSession(Base):
    """A signed-in console session. Only the SHA-256 of its cookie is kept."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One console action: who did what, to what, when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))


class AccountInvitation(Base):
    """An organiser's invitation to open a console account with a given role.

    Only the SHA-256 of its one-time code is kept; it is used once, before it expires."""

    __tablename__ = "account_invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_by: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrusteeConfirmation(Base):
    """A trustee's word that their shares opened and checked: the verification
    key ``V_j`` that ``istifta trustee receive`` printed, as the organiser
    recorded it. Kept only when it equals ``V_j`` computed from the published
    commitments; never part of the record."""

    __tablename__ = "trustee_confirmations"

    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"), primary_key=True)
    index: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    verification_key: Mapped[str] = mapped_column(String(64))
    confirmed_by: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
