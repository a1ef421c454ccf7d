"""Console accounts, their sessions, invitations to open one, and the audit log.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's
second recommended setting). A session is a random 256-bit token in an
HttpOnly cookie; the store keeps only its SHA-256, with the session's CSRF
token and its expiry. An organiser invites someone with a random one-time
code (in a link's fragment, so no server log sees it); the store keeps only
its SHA-256 and the role it gives, and it lapses after
:data:`INVITATION_HOURS`. Roles: an ``organiser`` may do everything, a
``registrar`` the electorate and the invitations, an ``observer`` only reads.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from istifta.errors import DecodeError, LifecycleError
from istifta.store.db import Store
from istifta.store.failures import Failures, Throttled
from istifta.store.models import Account, AccountInvitation, AuditEntry, ConsoleSession
from istifta.store.passwords import Busy, check_password_hash, hash_password

__all__ = [
    "ACCOUNT_FAILURES",
    "ADDRESS_FAILURES",
    "INVITATION_HOURS",
    "LOCKOUT",
    "ROLES",
    "SESSION_HOURS",
    "Accounts",
    "Busy",
    "Invitation",
    "Member",
    "SignedIn",
    "Throttled",
    "check_password",
    "check_role",
    "check_username",
]

ROLES = ("organiser", "registrar", "observer")
SESSION_HOURS = 8
INVITATION_HOURS = 72
_CODE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
LOCKOUT = timedelta(minutes=15)
ACCOUNT_FAILURES = 20
"""Failed sign-ins to one account, from anywhere, in :data:`LOCKOUT`, before it is locked."""
ADDRESS_FAILURES = 10
"""Failed sign-ins or invitation codes from one address (an IPv6 /64), any names."""


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    csrf: str

    def may(self, *roles: str) -> bool:
        return self.role in roles


@dataclass(frozen=True)
class Member:
    username: str
    role: str
    disabled: bool


@dataclass(frozen=True)
class Invitation:
    """An invitation not used yet. ``ref`` (its code's SHA-256) names it in the
    console: the code cannot be had from it."""

    ref: str
    role: str
    created_by: str
    created_at: datetime
    expires_at: datetime


def _aware(moment: datetime) -> datetime:
    """``moment`` in UTC (SQLite hands back times without their zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise DecodeError(f"{username!r}: a username is 2-63 lowercase letters, digits, '.', '_' or '-'")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise DecodeError(f"{role!r} is not a role: use {', '.join(ROLES)}")


def check_password(password: str) -> None:
    if len(password) < 12:
        raise DecodeError("a password needs at least 12 characters")


def _add_account(session: Session, username: str, password: str, role: str) -> None:
    if session.execute(select(Account.id).where(Account.username == username)).first():
        raise LifecycleError(f"there is already an account called {username!r}")
    now = datetime.now(UTC)
    hashed = hash_password(password)
    session.add(Account(username=username, password_hash=hashed, role=role, created_at=now))


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.failures = Failures(store, LOCKOUT)

    def create(self, username: str, password: str, role: str, by: str = "istifta admin") -> None:
        check_username(username)
        check_role(role)
        check_password(password)
        with self.store.session() as session, session.begin():
            _add_account(session, username, password, role)
            session.add(
                AuditEntry(
                    at=datetime.now(UTC), username=by, action="create account", target=f"{username} ({role})"
                )
            )

    def members(self) -> list[Member]:
        """Every account, by name, with its role and whether it is disabled."""
        with self.store.session() as session:
            return [
                Member(a.username, a.role, a.disabled_at is not None)
                for a in session.execute(select(Account).order_by(Account.username)).scalars()
            ]

    def roster(self) -> list[tuple[str, str]]:
        with self.store.session() as session:
            return [
                (a.username, a.role)
                for a in session.execute(select(Account).order_by(Account.username)).scalars()
            ]

    def sign_in(self, username: str, password: str, address: str = "") -> str | None:
        """A new session's token, or ``None`` when the name or the password is wrong.

        A failure counts against the name (known or not) and the client's
        ``address``; either over its limit (:data:`ACCOUNT_FAILURES`,
        :data:`ADDRESS_FAILURES` in :data:`LOCKOUT`) and :class:`Throttled` is
        raised before the password is looked at. A disabled account's right
        password is a wrong one."""
        limits = {f"account:{username}": ACCOUNT_FAILURES}
        if address:
            limits[f"address:{address}"] = ADDRESS_FAILURES
        wait = self.failures.wait(limits)
        if wait:
            raise Throttled(wait)
        with self.store.session() as session:
            account = session.execute(select(Account).where(Account.username == username)).scalar()
        right, rehashed = check_password_hash(account.password_hash if account else None, password)
        if not right:
            account = None
        if account is None or account.disabled_at is not None:
            self.failures.add(*limits)
            return None
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.store.session() as session, session.begin():
            if rehashed:
                session.execute(
                    update(Account).where(Account.id == account.id).values(password_hash=rehashed)
                )
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            session.add(
                ConsoleSession(
                    token_hash=_digest(token),
                    account_id=account.id,
                    csrf=secrets.token_hex(32),
                    expires_at=now + timedelta(hours=SESSION_HOURS),
                )
            )
            session.add(AuditEntry(at=now, username=username, action="sign in", target=None))
        self.failures.clear(f"account:{username}")
        return token

    def address_wait(self, address: str) -> float:
        """The seconds before ``address`` may try again (0: now): for :meth:`join`."""
        return self.failures.wait({f"address:{address}": ADDRESS_FAILURES})

    def address_failed(self, address: str) -> None:
        self.failures.add(f"address:{address}")

    def signed_in(self, token: str | None) -> SignedIn | None:
        if not token:
            return None
        with self.store.session() as session:
            row = session.execute(
                select(ConsoleSession, Account)
                .join(Account, Account.id == ConsoleSession.account_id)
                .where(ConsoleSession.token_hash == _digest(token), Account.disabled_at.is_(None))
            ).first()
        if row is None:
            return None
        found, account = row
        if _aware(found.expires_at) < datetime.now(UTC):
            return None
        return SignedIn(account.username, account.role, found.csrf)

    def sign_out(self, token: str, username: str) -> None:
        with self.store.session() as session, session.begin():
            session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))
            session.add(AuditEntry(at=datetime.now(UTC), username=username, action="sign out", target=None))

    def audit(self, username: str, action: str, target: str | None = None) -> None:
        with self.store.session() as session, session.begin():
            session.add(AuditEntry(at=datetime.now(UTC), username=username, action=action, target=target))

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        with self.store.session() as session:
            return list(
                session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).scalars()
            )

    # --- revoking: each change ends the account's sessions at once ---

    def disable(self, username: str, by: str) -> None:
        """The account may no longer sign in; its sessions end."""
        self._change(username, by, "disable account", username, disabled=True)

    def enable(self, username: str, by: str) -> None:
        self._change(username, by, "enable account", username, disabled=False)

    def set_role(self, username: str, role: str, by: str) -> None:
        check_role(role)
        self._change(username, by, "change role", f"{username}: {role}", role=role)

    def set_password(self, username: str, password: str, by: str) -> None:
        check_password(password)
        hashed = hash_password(password)
        self._change(username, by, "set password", username, password_hash=hashed)

    def end_sessions(self, username: str, by: str) -> None:
        self._change(username, by, "end sessions", username)

    def delete(self, username: str, by: str) -> None:
        """Remove the account (the audit log keeps its name); its sessions end."""
        self._change(username, by, "delete account", username, remove=True)

    def _change(
        self,
        username: str,
        by: str,
        action: str,
        target: str,
        *,
        disabled: bool | None = None,
        role: str | None = None,
        password_hash: str | None = None,
        remove: bool = False,
    ) -> None:
        """One change to an account, its sessions ended and the change audited, in
        one transaction; refused if it would leave no enabled organiser."""
        with self.store.write_session() as session, session.begin():
            organisers = (
                session.execute(
                    select(Account)
                    .where(Account.role == "organiser", Account.disabled_at.is_(None))
                    .with_for_update()
                )
                .scalars()
                .all()
            )
            account = session.execute(select(Account).where(Account.username == username)).scalar()
            if account is None:
                raise LifecycleError(f"there is no account called {username!r}")
            leaves = remove or disabled is True or (role is not None and role != "organiser")
            if leaves and [a.id for a in organisers] == [account.id]:
                raise LifecycleError(f"{username} is the last organiser: make another organiser first")
            session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))
            now = datetime.now(UTC)
            if remove:
                session.delete(account)
            if disabled is not None:
                account.disabled_at = now if disabled else None
            if role is not None:
                account.role = role
            if password_hash is not None:
                account.password_hash = password_hash
            session.add(AuditEntry(at=now, username=by, action=action, target=target[:128]))
        if password_hash is not None or disabled is False:
            self.failures.clear(f"account:{username}")

    # --- invitations ---

    def invite(self, role: str, by: str) -> str:
        """A new invitation's one-time code, to open an account with ``role``."""
        check_role(role)
        code = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + timedelta(hours=INVITATION_HOURS)
        with self.store.session() as session, session.begin():
            session.add(
                AccountInvitation(
                    token_hash=_digest(code), role=role, created_by=by, created_at=now, expires_at=expires
                )
            )
            session.add(AuditEntry(at=now, username=by, action="invite account", target=role))
        return code

    def pending_invitations(self) -> list[Invitation]:
        """The invitations neither used nor expired, the oldest first."""
        with self.store.session() as session:
            rows = session.execute(
                select(AccountInvitation)
                .where(AccountInvitation.used_at.is_(None), AccountInvitation.expires_at > datetime.now(UTC))
                .order_by(AccountInvitation.created_at)
            ).scalars()
            return [
                Invitation(i.token_hash, i.role, i.created_by, _aware(i.created_at), _aware(i.expires_at))
                for i in rows
            ]

    def revoke(self, ref: str, by: str) -> str:
        """Withdraw the unused invitation ``ref``; its role."""
        with self.store.session() as session, session.begin():
            found = session.get(AccountInvitation, ref)
            if found is None or found.used_at is not None:
                raise LifecycleError("this invitation has been used or withdrawn already")
            role = found.role
            session.delete(found)
            session.add(
                AuditEntry(at=datetime.now(UTC), username=by, action="revoke invitation", target=role)
            )
        return role

    def username_taken(self, username: str) -> bool:
        with self.store.session() as session:
            return session.execute(select(Account.id).where(Account.username == username)).first() is not None

    def check_invitation(self, code: str) -> None:
        """Refuse (:class:`LifecycleError`) a code unknown, used or expired."""
        with self.store.session() as session:
            _usable_invitation(session, code.strip())

    def join(self, code: str, username: str, password: str) -> str:
        """Open the account an invitation offers, by the rules of :meth:`create`, and use
        the invitation up, in one transaction; the account's role. A code unknown, used
        or expired is refused (:class:`LifecycleError`) and nothing is created."""
        check_username(username)
        check_password(password)
        code = code.strip()
        with self.store.session() as session, session.begin():
            found = _usable_invitation(session, code)
            now = datetime.now(UTC)
            role, by = found.role, found.created_by
            _add_account(session, username, password, role)
            taken = session.execute(
                update(AccountInvitation)
                .where(AccountInvitation.token_hash == found.token_hash, AccountInvitation.used_at.is_(None))
                .values(used_by=username, used_at=now)
            )
            if cast(CursorResult[Any], taken).rowcount != 1:  # another join took it meanwhile
                raise _USED_UP
            target = f"{username} ({role}), invited by {by}"[:128]
            session.add(AuditEntry(at=now, username=username, action="join", target=target))
        return role


_USED_UP = LifecycleError("this invitation has been used already: ask an organiser for a new one")


def _usable_invitation(session: Session, code: str) -> AccountInvitation:
    found = session.get(AccountInvitation, _digest(code)) if _CODE.fullmatch(code) else None
    if found is None:
        raise LifecycleError("no invitation has this code: check it, or ask an organiser for a new one")
    if found.used_at is not None:
        raise _USED_UP
    if _aware(found.expires_at) <= datetime.now(UTC):
        raise LifecycleError("this invitation has expired: ask an organiser for a new one")
    return found
