"""Issuing credentials: fresh codes, their public ``P``, and the codes sealed (PROTOCOL.md §4).

Each voter gets ``code = new_code(os.urandom)``, ``P = x·G`` with ``x =
Hs("istifta/1/credential", manifest_hash, code)``, and the code sealed with
the data directory's key. The curve makes this the costly part of an import
(about 75 µs a voter, two thirds of the time), so past the first chunk
:class:`Issuer` has worker processes (``python -m istifta.electorate.issuing``, fed
through pipes) make credentials ahead while the import reads and writes. A
code leaves the process that drew it only sealed; the credentials made ahead
and not needed at the end are dropped unused.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import IO, NoReturn

from istifta.crypto.credentials import CODE_LENGTH, credential_secret, new_code, public_credential
from istifta.crypto.group import RandomSource
from istifta.electorate.sealing import CodeBox
from istifta.errors import InternalError

__all__ = ["CHUNK", "Issued", "Issuer", "default_workers", "issue"]

Issued = tuple[bytes, bytes]
"""A voter's public credential ``P`` (32 bytes) and their code, sealed."""
CHUNK = 5_000
"""Credentials a worker makes per request."""
_RECORD = 32 + 40 + CODE_LENGTH  # P, then the sealed code: nonce and MAC (40 bytes) and the code
_SRC = str(Path(__file__).resolve().parents[2])
_HELLO = b"istifta credentials 1\n"


def issue(manifest_hash: bytes, box: CodeBox, rng: RandomSource, count: int) -> list[Issued]:
    """``count`` fresh credentials, their codes drawn from ``rng``."""
    made = []
    for _ in range(count):
        code = new_code(rng)
        made.append((public_credential(credential_secret(manifest_hash, code)).to_bytes(), box.seal(code)))
    return made


class _Worker:
    """One ``python -m istifta.electorate.issuing``, always with one chunk asked of it."""

    def __init__(self, manifest_hash: bytes, box: CodeBox) -> None:
        self.manifest_hash, self.box = manifest_hash, box
        self.greeted = False
        path = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "istifta.electorate.issuing"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout
        try:
            pickle.dump((manifest_hash, box), self.stdin)
        except OSError:
            self._stopped()
        self.ask()

    def ask(self) -> None:
        try:
            self.stdin.write(CHUNK.to_bytes(4, "big"))
            self.stdin.flush()
        except OSError:
            self._stopped()

    def read(self) -> list[Issued]:
        """The chunk asked, its first credential checked: opened with the box, the code gives
        that ``P`` (so a worker out of step, or another referendum's, stops the import)."""
        if not self.greeted and self.stdout.read(len(_HELLO)) != _HELLO:
            self._stopped()
        self.greeted = True
        data = self.stdout.read(CHUNK * _RECORD)
        if len(data) != CHUNK * _RECORD:
            self._stopped()
        made = [(data[i : i + 32], data[i + 32 : i + _RECORD]) for i in range(0, len(data), _RECORD)]
        P, sealed = made[0]
        if public_credential(credential_secret(self.manifest_hash, self.box.open(sealed))).to_bytes() != P:
            raise InternalError(
                "a credential worker sent a P that its code does not give; nothing was imported"
            )
        return made

    def _stopped(self) -> NoReturn:
        raise InternalError(
            f"a credential worker stopped (exit status {self.process.wait()}); nothing was imported"
        )

    def stop(self) -> None:
        self.process.kill()  # it may be blocked writing a chunk nobody will read
        self.process.wait()
        self.stdin.close()
        self.stdout.close()


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
        self._started: list[_Worker] = []
        self._turn = 0

    def take(self, count: int) -> list[Issued]:
        if not self.workers or self.issued + count <= CHUNK:  # small imports start no process
            self.issued += count
            return issue(self.manifest_hash, self.box, self.rng, count)
        if not self._started:
            self._started = [_Worker(self.manifest_hash, self.box) for _ in range(self.workers)]
        while len(self._ready) < count:
            worker = self._started[self._turn % len(self._started)]
            self._turn += 1
            self._ready.extend(worker.read())
            worker.ask()
        self.issued += count
        return [self._ready.popleft() for _ in range(count)]

    def close(self) -> None:
        """Stop the workers; credentials made ahead are dropped."""
        for worker in self._started:
            worker.stop()
        self._started = []
        self._ready.clear()


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker: read the manifest hash and the box, then answer each count asked with that
    many credentials, each ``P`` then the sealed code; stop when the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the importing process to handle
    out = os.fdopen(os.dup(stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), stdout.fileno())  # whatever else prints goes to stderr, not the pipe
    out.write(_HELLO)
    manifest_hash, box = pickle.load(stdin)
    while asked := stdin.read(4):
        made = issue(manifest_hash, box, os.urandom, int.from_bytes(asked, "big"))
        out.write(b"".join(P + sealed for P, sealed in made))
        out.flush()


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
