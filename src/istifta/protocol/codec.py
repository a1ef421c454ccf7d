"""JSON ⇄ values: the one place where protocol JSON from outside is parsed.

Every reader takes the JSON value and a path (``ballot.answers[0].choices[1]``)
and either returns a checked value or raises :class:`DecodeError` naming the
path. Objects must have exactly the expected keys: an extra key would give the
same ballot a second encoding, and with it a second tracker.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from istifta.crypto.elgamal import Ciphertext
from istifta.crypto.group import Point, Scalar
from istifta.crypto.proofs import Proof
from istifta.errors import DecodeError

__all__ = [
    "ciphertext_from_json",
    "ciphertext_to_json",
    "expect_int",
    "expect_list",
    "expect_object",
    "hash_from_json",
    "point_from_json",
    "proof_from_json",
    "proof_to_json",
    "scalar_from_json",
]

_HASH = re.compile(r"[0-9a-f]{64}")


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def expect_object(
    value: Any, path: str, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError(f"{path}: expected an object, got {_kind(value)}")
    if not optional and len(value) == len(required) and all(k in value for k in required):
        return value  # the common case, exactly the keys expected
    wanted, allowed_keys = set(required), set(required) | set(optional)
    missing = sorted(wanted - value.keys())
    if missing:
        raise DecodeError(f"{path}.{missing[0]}: missing")
    extra = sorted(value.keys() - allowed_keys)
    if extra:
        allowed = ", ".join(sorted(allowed_keys))
        raise DecodeError(f"{path}.{extra[0]}: unexpected key (expected only: {allowed})")
    return value


def expect_list(value: Any, path: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise DecodeError(f"{path}: expected a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise DecodeError(f"{path}: expected {length} items, got {len(value)}")
    return value


def expect_int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"{path}: expected a whole number, got {_kind(value)}")
    if not low <= value <= high:
        raise DecodeError(f"{path}: expected a number from {low} to {high}, got {value}")
    return value


def hash_from_json(value: Any, path: str) -> str:
    if not isinstance(value, str) or not _HASH.fullmatch(value):
        raise DecodeError(f"{path}: expected a SHA-256 hash as 64 lowercase hex characters")
    return value


def point_from_json(value: Any, path: str, *, allow_identity: bool = False) -> Point:
    return Point.from_hex(value, path, allow_identity=allow_identity)


def scalar_from_json(value: Any, path: str) -> Scalar:
    return Scalar.from_hex(value, path)


def proof_from_json(value: Any, path: str) -> Proof:
    obj = expect_object(value, path, ("c", "z"))
    return Proof(scalar_from_json(obj["c"], f"{path}.c"), scalar_from_json(obj["z"], f"{path}.z"))


def proof_to_json(proof: Proof) -> dict[str, str]:
    return {"c": proof.c.hex(), "z": proof.z.hex()}


def ciphertext_from_json(value: Any, path: str, *, allow_identity_alpha: bool = False) -> Ciphertext:
    obj = expect_object(value, path, ("alpha", "beta"))
    return Ciphertext(
        point_from_json(obj["alpha"], f"{path}.alpha", allow_identity=allow_identity_alpha),
        point_from_json(obj["beta"], f"{path}.beta", allow_identity=True),
    )


def ciphertext_to_json(ct: Ciphertext) -> dict[str, str]:
    return {"alpha": ct.alpha.hex(), "beta": ct.beta.hex()}
