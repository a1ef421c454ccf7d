"""Serving the web application with uvicorn: :func:`serve` for ``istifta serve``
(in this process, or in worker processes that share one listening socket),
and :func:`serving` in a thread of this process, for ``istifta demo`` (its
simulated voters talk to a real server) and the browser tests.

The settings reach the workers as the arguments of their factory (a pickled
:func:`functools.partial`), never through the environment."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from istifta.web.settings import WebSettings
from istifta.errors import InternalError

__all__ = ["free_port", "serve", "serving"]

log = logging.getLogger(__name__)
RESTART_PAUSE = 1.0
"""Seconds between restarts of a worker that keeps dying, at least."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, port: int | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` served on ``host:port`` (a free port if none) until the block ends: its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", server_header=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise InternalError(f"the web server did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _app(settings: WebSettings) -> Any:
    from istifta.web.app import create_app

    return create_app(settings)


def serve(settings: WebSettings, workers: int = 1, **options: Any) -> None:
    """Serve until interrupted, with ``options`` for :class:`uvicorn.Config` (host, port, …).

    With more than one worker, this process binds the socket, starts ``workers``
    spawned processes that accept on it, starts again any that dies, and on
    SIGINT or SIGTERM asks each to finish what it has in flight and waits."""
    factory = functools.partial(_app, settings)
    config = uvicorn.Config(factory, factory=True, **options)
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    sock = config.bind_socket()
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start(n: int) -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=_worker, args=(factory, options, sock), name=f"istifta-worker-{n}", daemon=False
        )
        process.start()
        return process

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(n) for n in range(workers)]
    started = [time.monotonic()] * workers
    try:
        while not stopping.wait(0.5):
            for n, process in enumerate(processes):
                if not process.is_alive() and time.monotonic() - started[n] >= RESTART_PAUSE:
                    log.warning("worker %d ended (exit code %s): starting it again", n, process.exitcode)
                    processes[n], started[n] = start(n), time.monotonic()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        sock.close()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _worker(factory: Any, options: dict[str, Any], sock: socket.socket) -> None:
    config = uvicorn.Config(factory, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])
