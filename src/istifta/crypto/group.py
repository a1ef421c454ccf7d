"""The group: ristretto255 (RFC 9496) points and scalars mod ℓ (PROTOCOL.md §1).

Points go through libsodium (loaded by ``pysodium``, called directly on the
hot paths to skip the wrapper's per-call checks). Scalars are Python
integers mod ℓ: measured here several times faster than a round trip to C.

Decoding is the only way in from outside: :meth:`Point.decode` and
:meth:`Scalar.decode` either return a valid value or raise
:class:`~istifta.errors.DecodeError`. Past that, values are known good.

Three libsodium pitfalls are handled here once: it refuses to *return* the
identity from a scalar multiplication (``0·G``, a zero tally); its
``is_valid_point`` accepts the identity, which the protocol forbids for keys,
credentials and ``α``; and (1.0.18) it ignores the encoding's top bit, so
``P`` with bit 255 set would pass as a second encoding of ``P``.
"""

from __future__ import annotations

import ctypes
import hmac
from collections.abc import Callable

import pysodium

from istifta.errors import DecodeError, InternalError

__all__ = [
    "G",
    "IDENTITY",
    "L",
    "Point",
    "RandomSource",
    "Scalar",
    "random_scalar",
    "small_multiple",
]

L = 2**252 + 27742317777372353535851937790883648493
"""The prime order ℓ of ristretto255."""

RandomSource = Callable[[int], bytes]
"""Where randomness comes from: called with a byte count, returns that many
bytes. ``os.urandom`` in production (the edges pass it in); a seeded
deterministic source in tests and vectors."""

_lib = pysodium.sodium
_ZERO32 = bytes(32)
_Buffer32 = ctypes.c_char * 32


def _hex32(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise DecodeError(f"{what}: expected a string of 64 hex characters, got {_kind(text)}")
    if len(text) != 64:
        raise DecodeError(f"{what}: expected 64 hex characters, got {len(text)}")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        data = b""
    # fromhex skips white space, so a short result means the text had some.
    if len(data) != 32 or not text.islower() and not text.isdigit():
        raise DecodeError(f"{what}: expected lowercase hex characters only (0-9, a-f)")
    return data


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


class Scalar:
    """An integer mod ℓ. Arithmetic is Python's (not constant-time: see docs/protocol.md)."""

    __slots__ = ("value",)
    value: int

    def __init__(self, value: int) -> None:
        object.__setattr__(self, "value", value % L)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Scalar is immutable")

    def __reduce__(self) -> tuple[type[Scalar], tuple[int]]:
        return (Scalar, (self.value,))  # pickling (worker processes) without __setattr__

    @classmethod
    def decode(cls, data: bytes, what: str = "scalar") -> Scalar:
        """32 little-endian bytes; values ≥ ℓ are refused (PROTOCOL.md §1)."""
        if len(data) != 32:
            raise DecodeError(f"{what}: expected 32 bytes, got {len(data)}")
        value = int.from_bytes(data, "little")
        if value >= L:
            raise DecodeError(f"{what}: not reduced modulo the group order")
        return cls(value)

    @classmethod
    def from_hex(cls, text: object, what: str = "scalar") -> Scalar:
        return cls.decode(_hex32(text, what), what)

    @classmethod
    def from_wide(cls, data: bytes) -> Scalar:
        """Reduce any byte string read little-endian mod ℓ (64 bytes: uniform)."""
        return cls(int.from_bytes(data, "little"))

    def to_bytes(self) -> bytes:
        return self.value.to_bytes(32, "little")

    def hex(self) -> str:
        return self.to_bytes().hex()

    def inverse(self) -> Scalar:
        if self.value == 0:
            raise ZeroDivisionError("zero has no inverse mod ℓ")
        return Scalar(pow(self.value, -1, L))

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar(self.value + other.value)

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar(self.value - other.value)

    def __mul__(self, other: Scalar) -> Scalar:
        if not isinstance(other, Scalar):
            return NotImplemented  # lets ``s * P`` reach Point.__rmul__
        return Scalar(self.value * other.value)

    def __neg__(self) -> Scalar:
        return Scalar(-self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scalar):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return "Scalar(…)"  # scalars may be secrets: never print them


def random_scalar(rng: RandomSource) -> Scalar:
    """64 bytes from ``rng`` reduced mod ℓ (PROTOCOL.md §1)."""
    return Scalar.from_wide(rng(64))


class Point:
    """A ristretto255 group element, held as its canonical 32-byte encoding."""

    __slots__ = ("_enc",)
    _enc: bytes

    def __init__(self, encoding: bytes) -> None:
        # Private: callers outside this module use decode(), from_hex() or arithmetic.
        object.__setattr__(self, "_enc", encoding)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable")

    def __reduce__(self) -> tuple[type[Point], tuple[bytes]]:
        return (Point, (self._enc,))

    @classmethod
    def decode(cls, data: bytes, what: str = "point", *, allow_identity: bool = False) -> Point:
        """Canonical encodings only; the identity only where ``allow_identity``."""
        if len(data) != 32:
            raise DecodeError(f"{what}: expected 32 bytes, got {len(data)}")
        if data[31] & 0x80:
            # RFC 9496 refuses s ≥ 2^255; libsodium 1.0.18 ignores that bit, so a
            # point (the identity included) would have a second encoding.
            raise DecodeError(f"{what}: not a canonical ristretto255 encoding")
        if data == _ZERO32:
            if allow_identity:
                return IDENTITY
            raise DecodeError(f"{what}: the identity element is not allowed here")
        if _lib.crypto_core_ristretto255_is_valid_point(data) != 1:
            raise DecodeError(f"{what}: not a canonical ristretto255 encoding")
        return cls(data if type(data) is bytes else bytes(data))

    @classmethod
    def from_hex(cls, text: object, what: str = "point", *, allow_identity: bool = False) -> Point:
        return cls.decode(_hex32(text, what), what, allow_identity=allow_identity)

    @classmethod
    def from_hash(cls, digest: bytes) -> Point:
        """RFC 9496's one-way map from 64 uniform bytes (libsodium ``from_hash``)."""
        if len(digest) != 64:
            raise DecodeError(f"hash to group: expected 64 bytes, got {len(digest)}")
        out = _Buffer32()
        _lib.crypto_core_ristretto255_from_hash(out, digest)
        return cls(out.raw)

    @staticmethod
    def base_mul(s: Scalar) -> Point:
        """``s·G``."""
        if s.value == 0:
            return IDENTITY
        out = _Buffer32()
        if _lib.crypto_scalarmult_ristretto255_base(out, s.value.to_bytes(32, "little")) != 0:
            raise InternalError("libsodium refused a base-point multiplication")
        return Point(out.raw)

    @property
    def is_identity(self) -> bool:
        return self._enc == _ZERO32

    def to_bytes(self) -> bytes:
        return self._enc

    def hex(self) -> str:
        return self._enc.hex()

    def __mul__(self, s: Scalar) -> Point:
        """``s·P``; the identity when ``s = 0`` or ``P`` is the identity."""
        if s.value == 0 or self._enc == _ZERO32:
            return IDENTITY
        out = _Buffer32()
        if _lib.crypto_scalarmult_ristretto255(out, s.value.to_bytes(32, "little"), self._enc):
            raise InternalError("libsodium refused a scalar multiplication")
        return Point(out.raw)

    __rmul__ = __mul__

    def __add__(self, other: Point) -> Point:
        out = _Buffer32()
        if _lib.crypto_core_ristretto255_add(out, self._enc, other._enc) != 0:
            raise InternalError("libsodium refused a point addition")
        return Point(out.raw)

    def __sub__(self, other: Point) -> Point:
        out = _Buffer32()
        if _lib.crypto_core_ristretto255_sub(out, self._enc, other._enc) != 0:
            raise InternalError("libsodium refused a point subtraction")
        return Point(out.raw)

    def __neg__(self) -> Point:
        return IDENTITY - self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return hmac.compare_digest(self._enc, other._enc)

    def __hash__(self) -> int:
        return hash(self._enc)

    def __repr__(self) -> str:
        return f"Point({self._enc.hex()})"


IDENTITY = Point(_ZERO32)
"""The neutral element, encoded as 32 zero bytes."""

G = Point(bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"))
"""The standard generator of ristretto255."""


_SMALL = [IDENTITY, G]


def small_multiple(v: int) -> Point:
    """``v·G`` for the small values range proofs use (0 … 64), computed once each."""
    if not 0 <= v <= 64:
        return Point.base_mul(Scalar(v))
    while len(_SMALL) <= v:
        _SMALL.append(_SMALL[-1] + G)
    return _SMALL[v]
