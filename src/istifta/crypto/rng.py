"""Randomness sources. The core never reaches for randomness itself: every
function that needs it takes a :data:`~istifta.crypto.group.RandomSource`.

``os.urandom`` is the production source. :class:`SeededRandom` is a
deterministic source for tests and published vectors only: never for a real
election, since anyone who knows the seed knows every secret drawn from it.
"""

from __future__ import annotations

import hashlib

from istifta.crypto.hashing import enc

__all__ = ["SeededRandom"]


class SeededRandom:
    """Deterministic bytes: the concatenation, for k = 0, 1, 2 …, of
    SHA-512(enc("istifta/1/test-rng") ‖ enc(seed) ‖ k as 8-byte big-endian),
    read in order. Documented in docs/vectors.md so that another implementation
    can replay the vectors' draws."""

    def __init__(self, seed: str) -> None:
        self._prefix = enc(b"istifta/1/test-rng") + enc(seed.encode("utf-8"))
        self._counter = 0
        self._buffer = b""

    def __call__(self, n: int) -> bytes:
        while len(self._buffer) < n:
            block = hashlib.sha512(self._prefix + self._counter.to_bytes(8, "big")).digest()
            self._buffer += block
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out
