"""Signed tree heads (PROTOCOL.md §6): the board's Ed25519 key signs
``jcs({"size", "root", "timestamp"})``; the head on the wire is that object
plus ``signature`` in hex. Pure: keys and times come in as arguments.

:class:`TreeHead` is the one type for a head, wherever it comes from (the
board's writer, the store, a receipt, a record): :meth:`TreeHead.parse`
checks a JSON head's shape, :meth:`TreeHead.verifies` its signature, and
:meth:`TreeHead.to_json` gives the wire form back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from istifta.crypto.hashing import jcs_plain
from istifta.errors import DecodeError
from istifta.protocol.codec import expect_int, expect_object, hash_from_json
from istifta.protocol.manifest import parse_time

__all__ = ["TreeHead", "verify_tree_head"]

_SIGNATURE = re.compile(r"[0-9a-f]{128}")
_FIELDS = ("size", "root", "timestamp", "signature")


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed tree head: the board's ``size``, its Merkle ``root`` (32 bytes)
    at RFC 3339 UTC ``timestamp``, and the board key's ``signature`` (64 bytes)."""

    size: int
    root: bytes
    timestamp: str
    signature: bytes

    @classmethod
    def sign(cls, size: int, root: bytes, timestamp: str, key: SigningKey) -> TreeHead:
        message = _message(size, root.hex(), timestamp)
        return cls(size, root, timestamp, key.sign(message).signature)

    @classmethod
    def parse(cls, raw: Any, path: str = "tree_head") -> TreeHead:
        """Check a JSON head's shape (not its signature); :class:`DecodeError` names the field."""
        obj = expect_object(raw, path, _FIELDS)
        size = expect_int(obj["size"], f"{path}.size", 0, 2**62)
        root = hash_from_json(obj["root"], f"{path}.root")
        if not isinstance(obj["timestamp"], str):
            raise DecodeError(f"{path}.timestamp: expected an RFC 3339 time")
        parse_time(obj["timestamp"], f"{path}.timestamp")
        signature = obj["signature"]
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            raise DecodeError(f"{path}.signature: expected 128 lowercase hex characters")
        return cls(size, bytes.fromhex(root), obj["timestamp"], bytes.fromhex(signature))

    def message(self) -> bytes:
        """The signed bytes: ``jcs({"size", "root", "timestamp"})``."""
        return _message(self.size, self.root.hex(), self.timestamp)

    def verifies(self, board_key: bytes) -> bool:
        """Does ``board_key`` (32 bytes, Ed25519) sign this head?"""
        if len(board_key) != 32:
            return False
        try:
            VerifyKey(board_key).verify(self.message(), self.signature)
        except (BadSignatureError, ValueError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "timestamp": self.timestamp,
            "signature": self.signature.hex(),
        }


def verify_tree_head(raw: Any, board_key: bytes) -> bool:
    """Is ``raw`` (a head as JSON, say from a receipt) well formed and signed by ``board_key``?"""
    try:
        return TreeHead.parse(raw).verifies(board_key)
    except DecodeError:
        return False


def _message(size: int, root: str, timestamp: str) -> bytes:
    return jcs_plain({"size": size, "root": root, "timestamp": timestamp})
