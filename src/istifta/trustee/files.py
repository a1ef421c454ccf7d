"""The trustees' ceremony files (PROTOCOL.md §3): what travels, and how a trustee keeps secrets.

Public files, relayed by the organiser (JSON, UTF-8):

- ``trustee-<i>.json``, :class:`TrusteeFile`: ``{"version", "manifest_hash",
  "index", "commitments", "pok": {"c", "z"}, "transport_key"}``: trustee
  ``i``'s commitments ``C_i,0 … C_i,t−1``, its proof of knowledge of
  ``a_i,0`` and its X25519 transport public key (64 hex characters);
- ``share-<i>-to-<j>.json``, :class:`ShareFile`: ``{"version",
  "manifest_hash", "from", "to", "sealed"}``: ``sealed`` is libsodium's
  sealed box (``crypto_box_seal``: X25519, XSalsa20-Poly1305, 48 bytes of
  overhead) of the 32 bytes of ``f_i(j)`` to trustee ``j``'s transport key.
  The organiser relays it and cannot open it; trustee ``j`` checks it against
  trustee ``i``'s commitments, so it needs no signature.

Private files are written once, atomically, with mode 0600 inside a folder of
mode 0700, and never overwritten (:func:`write_private`). Nothing here puts a
secret into a message or a ``repr``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.public import PublicKey

from istifta import files
from istifta.crypto.hashing import jhash
from istifta.crypto.threshold import TrusteePublic
from istifta.errors import CeremonyError, DecodeError
from istifta.protocol.codec import (
    expect_int,
    expect_list,
    expect_object,
    hash_from_json,
    point_from_json,
    proof_from_json,
    proof_to_json,
)
from istifta.protocol.manifest import MAX_TRUSTEES

__all__ = [
    "SEALED_SIZE",
    "VERSION",
    "ShareFile",
    "TrusteeFile",
    "check_outside",
    "expand",
    "fingerprint",
    "hex_bytes",
    "make_private_dir",
    "parse_share_file",
    "parse_trustee_file",
    "read_json",
    "write_private",
    "write_public",
]

VERSION = "istifta/1"
SEALED_SIZE = 32 + 48
"""A sealed share: the 32 bytes of ``f_i(j)`` and the sealed box's overhead."""

_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def hex_bytes(value: Any, path: str, length: int) -> bytes:
    """``length`` bytes written as lowercase hex; the message never repeats the value."""
    if not isinstance(value, str) or len(value) != 2 * length or not _HEX.fullmatch(value):
        raise DecodeError(f"{path}: expected {2 * length} lowercase hex characters")
    return bytes.fromhex(value)


def _version(obj: dict[str, Any], path: str) -> None:
    if obj["version"] != VERSION:
        raise DecodeError(f"{path}.version: expected {VERSION!r}")


@dataclass(frozen=True)
class TrusteeFile:
    """``trustee-<i>.json``: what trustee ``i`` publishes for the ceremony."""

    manifest_hash: str
    public: TrusteePublic
    transport_key: PublicKey

    @property
    def index(self) -> int:
        return self.public.index

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "manifest_hash": self.manifest_hash,
            "index": self.public.index,
            "commitments": [c.hex() for c in self.public.commitments],
            "pok": proof_to_json(self.public.pok),
            "transport_key": bytes(self.transport_key).hex(),
        }


def parse_trustee_file(raw: Any, path: str) -> TrusteeFile:
    keys = ("version", "manifest_hash", "index", "commitments", "pok", "transport_key")
    obj = expect_object(raw, path, keys)
    _version(obj, path)
    commitments = expect_list(obj["commitments"], f"{path}.commitments")
    public = TrusteePublic(
        expect_int(obj["index"], f"{path}.index", 1, MAX_TRUSTEES),
        tuple(point_from_json(c, f"{path}.commitments[{k}]") for k, c in enumerate(commitments)),
        proof_from_json(obj["pok"], f"{path}.pok"),
    )
    return TrusteeFile(
        hash_from_json(obj["manifest_hash"], f"{path}.manifest_hash"),
        public,
        PublicKey(hex_bytes(obj["transport_key"], f"{path}.transport_key", 32)),
    )


@dataclass(frozen=True)
class ShareFile:
    """``share-<i>-to-<j>.json``: ``f_i(j)`` sealed to trustee ``j``."""

    manifest_hash: str
    sender: int
    recipient: int
    sealed: bytes

    @property
    def name(self) -> str:
        return f"share-{self.sender}-to-{self.recipient}.json"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "manifest_hash": self.manifest_hash,
            "from": self.sender,
            "to": self.recipient,
            "sealed": self.sealed.hex(),
        }


def parse_share_file(raw: Any, path: str) -> ShareFile:
    obj = expect_object(raw, path, ("version", "manifest_hash", "from", "to", "sealed"))
    _version(obj, path)
    return ShareFile(
        hash_from_json(obj["manifest_hash"], f"{path}.manifest_hash"),
        expect_int(obj["from"], f"{path}.from", 1, MAX_TRUSTEES),
        expect_int(obj["to"], f"{path}.to", 1, MAX_TRUSTEES),
        hex_bytes(obj["sealed"], f"{path}.sealed", SEALED_SIZE),
    )


def fingerprint(files: Iterable[TrusteeFile]) -> str:
    """``jhash`` of every public file in index order: trustees compare it among themselves."""
    return jhash([f.to_json() for f in sorted(files, key=lambda f: f.index)])


def read_json(path: Path) -> Any:
    """A JSON file, or :class:`CeremonyError` saying why it cannot be read."""
    return files.read_json(path, CeremonyError)


def expand(paths: Iterable[Path], pattern: str) -> list[Path]:
    """Files as given, and in each folder the files matching ``pattern`` (the
    caller says which of the files it needs are missing)."""
    found: dict[Path, Path] = {}  # by resolved path: a file given twice counts once
    for path in paths:
        if path.is_dir():
            found.update((p.resolve(), p) for p in sorted(path.glob(pattern)))
        elif path.exists():
            found.setdefault(path.resolve(), path)
        else:
            raise CeremonyError(f"{path}: no such file or folder")
    return list(found.values())


def check_outside(path: Path, state_dir: Path) -> None:
    """Refuse to write a file meant to travel into the state folder."""
    if path.resolve().is_relative_to(state_dir.resolve()):
        raise CeremonyError(
            f"{path} is inside the state folder {state_dir}: files for the organiser go "
            "elsewhere, so that the state folder never has to be copied"
        )


def _dumps(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def make_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700 (or take it over when it exists and is empty)."""
    if path.exists():
        if not path.is_dir():
            raise CeremonyError(f"{path} is a file, not a folder: choose a new folder")
        if any(path.iterdir()):
            raise CeremonyError(
                f"{path} is not empty: a trustee's state goes into a new, empty folder "
                "(istifta never overwrites a secret)"
            )
    else:
        path.mkdir(mode=0o700, parents=True)
    os.chmod(path, 0o700)


def write_private(path: Path, value: Any) -> None:
    """Write ``value`` as JSON with mode 0600, atomically, refusing to replace a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_dumps(value))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails when path exists: a secret is never replaced
        except FileExistsError:
            raise CeremonyError(f"{path} already exists; istifta never overwrites it") from None
        except OSError:  # a file system without hard links (a FAT-formatted stick)
            if path.exists():
                raise CeremonyError(f"{path} already exists; istifta never overwrites it") from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _sync_dir(path.parent)


def _sync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows); the file itself was synced
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_public(path: Path, value: Any) -> None:
    """Write a file meant to travel (a public file, a sealed share, a partial decryption)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(_dumps(value))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
