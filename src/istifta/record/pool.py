"""Ballot verification spread over worker processes (an edge: ``istifta verify
--jobs N`` and the benchmark use it).

:func:`process_pool_verifier` makes a
:data:`~istifta.protocol.verify.BallotVerifier` that sends chunks of ballot
entries, as bytes, to ``jobs`` spawned processes. Each worker rebuilds the
parameters from the election entry's bytes once, in its initializer, and
returns a :class:`~istifta.protocol.entries.BallotBatch` per chunk; the
batches come back in board order, so the report is the same for any ``jobs``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import closing

from istifta.errors import UsageError
from istifta.parallel.pool import ordered_map
from istifta.protocol.entries import BallotBatch, check_ballot_chunk
from istifta.protocol.parameters import ElectionParameters, parse_parameters
from istifta.protocol.record import election_entry, entry_bytes
from istifta.protocol.verify import BallotVerifier

__all__ = ["process_pool_verifier"]

_worker: tuple[ElectionParameters, frozenset[bytes]] | None = None
"""The worker process's parameters and eligible credentials, set once by :func:`_start`."""


def _start(election: bytes, eligible: frozenset[bytes]) -> None:
    global _worker
    _worker = (parse_parameters(json.loads(election)["parameters"]), eligible)


def _check(chunk: list[tuple[int, bytes]]) -> BallotBatch:
    assert _worker is not None, "the pool's initializer sets the worker up"
    params, eligible = _worker
    return check_ballot_chunk(params, chunk, eligible)


def process_pool_verifier(jobs: int, chunk_size: int = 128) -> BallotVerifier:
    """A ballot verifier over ``jobs`` processes (:func:`~istifta.parallel.pool.ordered_map`)."""
    if jobs < 1 or chunk_size < 1:
        raise UsageError("at least one process and one ballot a chunk")

    def verify(
        params: ElectionParameters, entries: Sequence[tuple[int, bytes]], eligible: frozenset[bytes]
    ) -> Iterator[BallotBatch]:
        if not entries:
            return
        election = entry_bytes(election_entry(params))
        chunks = (list(entries[i : i + chunk_size]) for i in range(0, len(entries), chunk_size))
        workers = min(jobs, -(-len(entries) // chunk_size))
        with closing(ordered_map(_check, chunks, workers, _start, (election, eligible))) as batches:
            for batch in batches:
                yield batch
                if batch.failure is not None:
                    return

    return verify
