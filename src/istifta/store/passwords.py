"""Console passwords: argon2id (argon2-cffi's defaults, RFC 9106's second
recommended setting), a few computations at once in a process so that a
flood of sign-ins cannot take all its memory (64 MiB each)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from istifta.errors import LifecycleError

__all__ = ["HASHING_AT_ONCE", "HASHING_WAIT", "Busy", "check_password_hash", "hash_password"]

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("a password nobody has")  # so an unknown name costs as much as a wrong password
HASHING_AT_ONCE = 3
"""argon2id computations at once in a process (64 MiB each); more wait, at most :data:`HASHING_WAIT` s."""
HASHING_WAIT = 10.0
_hashing_slots = threading.BoundedSemaphore(HASHING_AT_ONCE)


class Busy(LifecycleError):
    """Every password-hashing slot stayed taken: the server is under a flood of sign-ins."""


@contextmanager
def _hashing() -> Iterator[None]:
    if not _hashing_slots.acquire(timeout=HASHING_WAIT):
        raise Busy("the server is busy with other sign-ins: try again in a minute")
    try:
        yield
    finally:
        _hashing_slots.release()


def hash_password(password: str) -> str:
    with _hashing():
        return _hasher.hash(password)


def check_password_hash(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Is ``password`` the one ``stored`` hashes (``None``: no such account, which costs
    as much to find out), and its new hash if the stored one has outdated parameters."""
    try:
        with _hashing():
            _hasher.verify(stored or _DUMMY, password)
            rehashed = _hasher.hash(password) if stored and _hasher.check_needs_rehash(stored) else None
    except (VerificationError, InvalidHashError):
        return False, None
    return stored is not None, rehashed
