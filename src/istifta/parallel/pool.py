"""The one worker pool: :func:`ordered_map` runs a function over tasks in
spawned processes, each set up once by an initializer, and yields the results
in the tasks' order. It keeps at most ``ahead`` tasks in flight, so a stream
of tasks (a board's ballots, an electorate's credentials) is read only as fast
as its results are taken, and memory stays flat. The verifier
(:mod:`istifta.record.pool`) and the credential issuing
(:mod:`istifta.electorate.issuing`) both run on it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from istifta.errors import UsageError

__all__ = ["default_workers", "ordered_map"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ordered_map(
    function: Callable[[T], R],
    tasks: Iterable[T],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    ahead: int | None = None,
) -> Generator[R, None, None]:
    """``function(task)`` for each task, computed by ``workers`` processes, in order.

    ``function`` and ``initializer`` must be module-level functions (they are
    pickled by name). At most ``ahead`` tasks (default: two per worker) are
    submitted and not yet yielded. Closing the iterator early (``break``, or
    the consumer's error) cancels what is queued and waits for what is running;
    an error in a worker is raised here, at its task's turn."""
    if workers < 1:
        raise UsageError(f"a pool needs at least one worker, not {workers}")
    limit = ahead or 2 * workers
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(initializer, initargs),
    )
    pending: deque[Future[R]] = deque()
    source = iter(tasks)
    try:
        for task in source:
            pending.append(pool.submit(function, task))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _start(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle: it stops the pool
    if initializer is not None:
        initializer(*initargs)
