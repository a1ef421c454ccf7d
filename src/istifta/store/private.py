"""The data directory's secrets at rest: its keys and its SQLite database.

The directory is made 0700 and the files 0600. A key is written whole to a
temporary file of the same folder, then linked to its name: no process ever
reads half a key, and of two processes making one at once, the second reads
the first's. :func:`check_private` is the one check of their modes: the
server refuses to start when group or others may read or write one
(:func:`refuse_exposed`); the other commands warn on standard error.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import tempfile
from pathlib import Path

from istifta.errors import DecodeError, ExposedSecret

__all__ = [
    "BOARD_KEY",
    "DATABASE",
    "SMS_KEY",
    "check_private",
    "create_private",
    "load_key",
    "private_dir",
    "refuse_exposed",
]

BOARD_KEY = "board.key"
SMS_KEY = "sms.key"
DATABASE = "istifta.db"
"""The SQLite store; SQLite gives its ``-wal`` and ``-shm`` files the same mode."""
KEY_BYTES = 32


def private_dir(path: Path) -> None:
    """Make the folder ``path`` (mode 0700) and its parents, unless it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def create_private(path: Path) -> None:
    """Make ``path`` an empty file with mode 0600, unless it exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def load_key(path: Path) -> bytes:
    """The 32-byte key kept as hex in ``path``, made (mode 0600) on first use."""
    if not path.exists():
        _make_key(path)
    check_private(path)
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise DecodeError(f"{path}: not a key ({2 * KEY_BYTES} hex characters); restore it from the backup")
    return key


def _make_key(path: Path) -> None:
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600, O_EXCL
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(os.urandom(KEY_BYTES).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another process made it first: theirs is the key
        _sync_folder(path.parent)
    finally:
        os.unlink(tmp)


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_private(*paths: Path, refuse: bool = False) -> None:
    """Warn on standard error, or raise :class:`ExposedSecret` with ``refuse``,
    when group or others may read or write any of ``paths`` (missing ones pass)."""
    exposed = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            exposed.append((path, mode))
    if not exposed:
        return
    which = ", ".join(f"{path} (mode {mode:04o})" for path, mode in exposed)
    fix = "chmod 600 " + " ".join(shlex.quote(str(path)) for path, _ in exposed)
    them = "it" if len(exposed) == 1 else "them"
    message = f"secrets open to group or others: {which}; make {them} private with: {fix}"
    if refuse:
        raise ExposedSecret(message)
    sys.stderr.write(f"warning: {message}\n")


def refuse_exposed(data_dir: Path, database_url: str | None) -> None:
    """Raise :class:`ExposedSecret` when a key of ``data_dir``, or its SQLite
    store (without ``database_url``), is open to group or others."""
    names = [BOARD_KEY, SMS_KEY]
    if not database_url:
        names += [DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm"]
    check_private(*(data_dir / name for name in names), refuse=True)
