"""Signed tree heads (PROTOCOL.md §6): the board's Ed25519 key signs
``jcs({"size", "root", "timestamp"})``; the head is that object plus
``signature`` in hex. Pure: keys and times come in as arguments."""

from __future__ import annotations

from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from istifta.crypto.hashing import jcs_plain
from istifta.errors import DecodeError
from istifta.protocol.codec import expect_int, expect_object, hash_from_json
from istifta.protocol.manifest import parse_time

__all__ = ["TreeHead", "parse_tree_head", "sign_tree_head", "verify_tree_head"]

TreeHead = dict[str, Any]


def _signed_part(size: int, root: str, timestamp: str) -> bytes:
    return jcs_plain({"size": size, "root": root, "timestamp": timestamp})


def sign_tree_head(size: int, root: bytes, timestamp: str, key: SigningKey) -> TreeHead:
    """``{"size", "root", "timestamp", "signature"}`` with ``timestamp`` RFC 3339 UTC."""
    signature = key.sign(_signed_part(size, root.hex(), timestamp)).signature
    return {"size": size, "root": root.hex(), "timestamp": timestamp, "signature": signature.hex()}


def parse_tree_head(raw: Any, path: str = "tree_head") -> TreeHead:
    """Check the head's shape (not its signature)."""
    obj = expect_object(raw, path, ("size", "root", "timestamp", "signature"))
    expect_int(obj["size"], f"{path}.size", 0, 2**62)
    hash_from_json(obj["root"], f"{path}.root")
    if not isinstance(obj["timestamp"], str):
        raise DecodeError(f"{path}.timestamp: expected an RFC 3339 time")
    parse_time(obj["timestamp"], f"{path}.timestamp")
    sig = obj["signature"]
    if not isinstance(sig, str) or len(sig) != 128 or sig != sig.lower():
        raise DecodeError(f"{path}.signature: expected 128 lowercase hex characters")
    try:
        bytes.fromhex(sig)
    except ValueError:
        raise DecodeError(f"{path}.signature: expected 128 lowercase hex characters") from None
    return obj


def verify_tree_head(head: TreeHead, board_key: bytes) -> bool:
    """Does ``board_key`` (32 bytes, Ed25519) sign this head?"""
    try:
        VerifyKey(board_key).verify(
            _signed_part(head["size"], head["root"], head["timestamp"]),
            bytes.fromhex(head["signature"]),
        )
    except (BadSignatureError, ValueError):
        return False
    return True
