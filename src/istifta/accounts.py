"""Console accounts, their sessions and the audit log.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's
second recommended setting). A session is a random 256-bit token in an
HttpOnly cookie; the store keeps only its SHA-256, with the session's CSRF
token and its expiry. Roles: an ``organiser`` may do everything, a
``registrar`` the electorate and the invitations, an ``observer`` only reads.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from istifta.errors import DecodeError, LifecycleError
from istifta.store.db import Store
from istifta.store.models import Account, AuditEntry, ConsoleSession

__all__ = ["ROLES", "SESSION_HOURS", "Accounts", "SignedIn"]

ROLES = ("organiser", "registrar", "observer")
SESSION_HOURS = 8
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("a password nobody has")  # so an unknown name costs as much as a wrong password


@dataclass(frozen=True)
class SignedIn:
    username: str
    role: str
    csrf: str

    def may(self, *roles: str) -> bool:
        return self.role in roles


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, username: str, password: str, role: str, by: str = "istifta admin") -> None:
        if not _USERNAME.fullmatch(username):
            raise DecodeError(f"{username!r}: a username is 2-63 lowercase letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise DecodeError(f"{role!r} is not a role: use {', '.join(ROLES)}")
        if len(password) < 12:
            raise DecodeError("a password needs at least 12 characters")
        with self.store.session() as session, session.begin():
            if session.execute(select(Account.id).where(Account.username == username)).first():
                raise LifecycleError(f"there is already an account called {username!r}")
            now = datetime.now(UTC)
            session.add(
                Account(username=username, password_hash=_hasher.hash(password), role=role, created_at=now)
            )
            session.add(
                AuditEntry(at=now, username=by, action="create account", target=f"{username} ({role})")
            )

    def roster(self) -> list[tuple[str, str]]:
        with self.store.session() as session:
            return [
                (a.username, a.role)
                for a in session.execute(select(Account).order_by(Account.username)).scalars()
            ]

    def sign_in(self, username: str, password: str) -> str | None:
        """A new session's token, or ``None`` when the name or the password is wrong."""
        with self.store.session() as session, session.begin():
            account = session.execute(select(Account).where(Account.username == username)).scalar()
            try:
                _hasher.verify(account.password_hash if account else _DUMMY, password)
            except (VerificationError, InvalidHashError):
                return None
            if account is None:
                return None
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = _hasher.hash(password)
            token = secrets.token_urlsafe(32)
            now = datetime.now(UTC)
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
            return token

    def signed_in(self, token: str | None) -> SignedIn | None:
        if not token:
            return None
        with self.store.session() as session:
            row = session.execute(
                select(ConsoleSession, Account)
                .join(Account, Account.id == ConsoleSession.account_id)
                .where(ConsoleSession.token_hash == _digest(token))
            ).first()
        if row is None:
            return None
        found, account = row
        expires = found.expires_at if found.expires_at.tzinfo else found.expires_at.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
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
