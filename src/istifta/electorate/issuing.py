"""Issuing credentials: fresh codes, their public ``P``, and the codes sealed (PROTOCOL.md §4).

Each voter gets ``code = new_code(os.urandom)``, ``P = x·G`` with ``x =
Hs("istifta/1/credential", manifest_hash, code)``, and the code sealed with
the data directory's key. The curve makes this the costly part of an import
(about 75 µs a voter, two thirds of the time), so past the first chunk
:class:`Issuer` has worker processes (:func:`~istifta.parallel.pool.ordered_map`)
make credentials ahead while the import reads and writes. A code leaves the
process that drew it only sealed; the credentials made ahead and not needed
at the end are dropped unused.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Generator

from istifta.crypto.credentials import CODE_LENGTH, credential_secret, new_code, public_credential
from istifta.crypto.group import RandomSource
from istifta.electorate.sealing import CodeBox
from istifta.errors import InternalError
from istifta.parallel.pool import default_workers, ordered_map

__all__ = ["CHUNK", "Issued", "Issuer", "issue"]

Issued = tuple[bytes, bytes]
"""A voter's public credential ``P`` (32 bytes) and their code, sealed."""
CHUNK = 5_000
"""Credentials a worker makes per request."""
_RECORD = 32 + 40 + CODE_LENGTH  # P, then the sealed code: nonce and MAC (40 bytes) and the code


def issue(manifest_hash: bytes, box: CodeBox, rng: RandomSource, count: int) -> list[Issued]:
    """``count`` fresh credentials, their codes drawn from ``rng``."""
    made = []
    for _ in range(count):
        code = new_code(rng)
        made.append((public_credential(credential_secret(manifest_hash, code)).to_bytes(), box.seal(code)))
    return made


class Issuer:
    """Hands out credentials. With ``workers`` (the OS's CSPRNG only), the first
    :data:`CHUNK` are made here and the rest ahead, in that many processes;
    with ``workers=0`` or another ``rng`` (tests), all here."""

    def __init__(
        self, manifest_hash: bytes, box: CodeBox, rng: RandomSource = os.urandom, workers: int | None = None
    ) -> None:
        self.manifest_hash, self.box, self.rng = manifest_hash, box, rng
        self.workers = 0 if rng is not os.urandom else default_workers() if workers is None else workers
        self.issued = 0
        self._ready: deque[Issued] = deque()
        self._chunks: Generator[bytes, None, None] | None = None

    def take(self, count: int) -> list[Issued]:
        if not self.workers or self.issued + count <= CHUNK:  # small imports start no process
            self.issued += count
            return issue(self.manifest_hash, self.box, self.rng, count)
        if self._chunks is None:
            tasks = itertools.repeat(CHUNK)
            self._chunks = ordered_map(_make, tasks, self.workers, _start, (self.manifest_hash, self.box))
        while len(self._ready) < count:
            self._ready.extend(self._check(next(self._chunks)))
        self.issued += count
        return [self._ready.popleft() for _ in range(count)]

    def close(self) -> None:
        """Stop the workers; credentials made ahead are dropped."""
        if self._chunks is not None:
            self._chunks.close()
            self._chunks = None
        self._ready.clear()

    def _check(self, data: bytes) -> list[Issued]:
        """A worker's chunk, its first credential checked: opened with the box, the code gives
        that ``P`` (so a worker out of step, or another referendum's, stops the import)."""
        if len(data) != CHUNK * _RECORD:
            raise InternalError("a credential worker sent a short chunk; nothing was imported")
        made = [(data[i : i + 32], data[i + 32 : i + _RECORD]) for i in range(0, len(data), _RECORD)]
        P, sealed = made[0]
        if public_credential(credential_secret(self.manifest_hash, self.box.open(sealed))).to_bytes() != P:
            raise InternalError(
                "a credential worker sent a P that its code does not give; nothing was imported"
            )
        return made


_worker: tuple[bytes, CodeBox] | None = None
"""In a worker process: the manifest hash and the box, set once by :func:`_start`."""


def _start(manifest_hash: bytes, box: CodeBox) -> None:
    global _worker
    _worker = (manifest_hash, box)


def _make(count: int) -> bytes:
    """In a worker: ``count`` credentials, each ``P`` then the sealed code."""
    assert _worker is not None, "the pool's initializer sets the worker up"
    manifest_hash, box = _worker
    return b"".join(P + sealed for P, sealed in issue(manifest_hash, box, os.urandom, count))
