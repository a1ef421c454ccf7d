"""Hashing and canonical JSON (PROTOCOL.md §1): ``enc``, ``Hs``, ``jcs``, ``jhash``."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from istifta.crypto.group import Point, Scalar
from istifta.errors import UsageError

__all__ = ["Hs", "HsItem", "enc", "jcs", "jcs_plain", "jhash", "sha256"]

HsItem = Point | Scalar | str | int | bytes
"""What may enter ``Hs``: points and scalars as their 32 bytes, strings as
UTF-8, integers as 8-byte big-endian, and ``bytes`` as they are (hex hashes
enter as their raw bytes: pass ``bytes.fromhex(h)``)."""


def enc(data: bytes) -> bytes:
    """4-byte big-endian length of ``data``, then ``data``."""
    return len(data).to_bytes(4, "big") + data


_LEN32 = (32).to_bytes(4, "big")
_LEN8 = (8).to_bytes(4, "big")


def _item_bytes(item: HsItem) -> bytes:
    """``enc`` of one item (the hot path: points first)."""
    if isinstance(item, Point):
        return _LEN32 + item.to_bytes()
    if isinstance(item, Scalar):
        return _LEN32 + item.to_bytes()
    if isinstance(item, bytes):
        return enc(item)
    if isinstance(item, str):
        return enc(item.encode("utf-8"))
    if isinstance(item, bool) or not 0 <= item < 2**64:
        raise UsageError("Hs: integers enter as 8-byte unsigned values")
    return _LEN8 + item.to_bytes(8, "big")


def Hs(tag: str, *items: HsItem) -> Scalar:  # noqa: N802 - the name PROTOCOL.md gives it
    """SHA-512(enc(tag) ‖ enc(x1) ‖ … ‖ enc(xn)) read little-endian, reduced mod ℓ."""
    data = enc(tag.encode("ascii")) + b"".join([_item_bytes(item) for item in items])
    return Scalar.from_wide(hashlib.sha512(data).digest())


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``."""
    return rfc8785.dumps(value)


def jcs_plain(value: Any) -> bytes:
    """RFC 8785 bytes of a value built only from dicts with ASCII keys, lists,
    strings and integers of magnitude below 2**53, as istifta's own codecs build
    them (ballots, board entries). For such values sorted compact ``json.dumps``
    is byte-identical to RFC 8785 (a property test holds it to that) and five
    times faster; anything else must go through :func:`jcs`."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def jhash(value: Any) -> str:
    """Lowercase hex of SHA-256(jcs(value))."""
    return hashlib.sha256(jcs(value)).hexdigest()
