"""Voters' credentials (PROTOCOL.md §4).

A credential code is 128 random bits written as 26 Crockford base32
characters, most significant first, so the first character is 0–7. The code
travels only to the voter; from it, ``x = Hs("istifta/1/credential",
manifest_hash, code)`` and the public credential ``P = x·G``.
"""

from __future__ import annotations

import re

from istifta.crypto.group import Point, RandomSource, Scalar
from istifta.crypto.hashing import Hs
from istifta.errors import CredentialError

__all__ = ["CODE_LENGTH", "credential_secret", "new_code", "normalise_code", "public_credential"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 26
CREDENTIAL_TAG = "istifta/1/credential"
_VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", " ": None, "-": None})
_PAIRS = [high + low for high in ALPHABET for low in ALPHABET]
"""The two base32 digits of each 10-bit number."""
_PAIR_SHIFTS = range(CODE_LENGTH * 5 - 10, -1, -10)
_NORMAL = re.compile(f"[0-7][{re.escape(ALPHABET)}]{{{CODE_LENGTH - 1}}}")


def new_code(rng: RandomSource) -> str:
    """A fresh code from 16 bytes of ``rng`` (read big-endian)."""
    value = int.from_bytes(rng(16), "big")
    return "".join([_PAIRS[value >> shift & 1023] for shift in _PAIR_SHIFTS])  # two digits at a time


def normalise_code(text: str) -> str:
    """The code as Crockford base32 reads it: upper case, spaces and hyphens
    dropped, ``I`` and ``L`` as ``1``, ``O`` as ``0``. Refuses anything that is
    not then 26 valid characters encoding 128 bits. The message never repeats
    the code: it is a secret."""
    if _NORMAL.fullmatch(text):  # as issued, or typed exactly
        return text
    code = text.upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH:
        raise CredentialError(f"a credential code has {CODE_LENGTH} characters; this one has {len(code)}")
    for position, ch in enumerate(code, start=1):
        if ch not in _VALUES:
            raise CredentialError(
                f"character {position} of the credential code is not a Crockford base32 "
                "character (digits and letters other than I, L, O, U)"
            )
    if _VALUES[code[0]] > 7:
        raise CredentialError("the credential code's first character must be 0-7")
    return code


def credential_secret(manifest_hash: bytes, code: str) -> Scalar:
    """``x = Hs("istifta/1/credential", manifest_hash, code)``, code normalised first."""
    return Hs(CREDENTIAL_TAG, manifest_hash, normalise_code(code))


def public_credential(x: Scalar) -> Point:
    """``P = x·G``."""
    if x.value == 0:
        raise CredentialError("this credential code derives the zero scalar; issue another")
    return Point.base_mul(x)
