"""What every route reaches through ``request.app.state``: the referendums,
their public views, the settings, the casting rate limiter and the SMS
senders running in the background."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from istifta.sms.dispatch import Dispatcher
from istifta.sms.settings import SmsSettings
from istifta.store.public import PublicViews
from istifta.store.referendums import Referendums
from istifta.web.ratelimit import RateLimiter
from istifta.web.record_files import RecordFiles
from istifta.web.settings import WebSettings

__all__ = ["Senders", "Services", "client_address", "services"]

STOP_SECONDS = 30.0
"""How long stopping a sender waits for it to finish what it has in flight."""


@dataclass
class _Sender:
    dispatcher: Dispatcher
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread = field(init=False)
    error: str | None = None


class Senders:
    """The SMS senders of this server process, at most one per referendum: a
    :class:`Dispatcher` following the queue (``follow=True``) in a thread of
    its own, with its own event loop (the dispatcher makes blocking database
    calls). Stopping one lets it finish and record what it has in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._senders: dict[str, _Sender] = {}

    def start(self, slug: str, make: Callable[[], Dispatcher]) -> bool:
        """Start sending for ``slug`` with the dispatcher ``make`` gives; False
        (and ``make`` is not called) when a sender is already running."""
        with self._lock:
            if self.running(slug):
                return False
            sender = _Sender(make(), asyncio.new_event_loop())
            sender.thread = threading.Thread(target=_run, args=(sender,), daemon=True, name=f"sms {slug}")
            self._senders[slug] = sender
            sender.thread.start()
            return True

    def running(self, slug: str) -> bool:
        sender = self._senders.get(slug)
        return sender is not None and sender.thread.is_alive()

    def error(self, slug: str) -> str | None:
        """Why the last sender of ``slug`` stopped on its own, if it did."""
        sender = self._senders.get(slug)
        return sender.error if sender is not None and not sender.thread.is_alive() else None

    def stop(self, slug: str) -> bool:
        """Stop the sender of ``slug`` and wait for it; False when none was running.
        Until it has stopped, :meth:`start` does not start another."""
        sender = self._senders.get(slug)
        if sender is None or not sender.thread.is_alive():
            return False
        try:
            sender.loop.call_soon_threadsafe(sender.dispatcher.stop)
        except RuntimeError:  # its loop has just closed: it stopped on its own
            pass
        sender.thread.join(STOP_SECONDS)
        with self._lock:
            if self._senders.get(slug) is sender and not sender.thread.is_alive():
                del self._senders[slug]
        return True

    def stop_all(self) -> None:
        for slug in list(self._senders):
            self.stop(slug)


def _run(sender: _Sender) -> None:
    loop = sender.loop
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(sender.dispatcher.run(follow=True))
    except Exception as exc:  # a gateway that cannot connect, a store that went away
        sender.error = str(exc) or type(exc).__name__
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@dataclass
class Services:
    refs: Referendums
    views: PublicViews
    settings: WebSettings
    limiter: RateLimiter
    sms: SmsSettings
    read_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(600.0, 120))
    records: RecordFiles = field(init=False)

    def __post_init__(self) -> None:
        self.records = RecordFiles(self.refs, self.settings.data_dir / "records")

    senders: Senders = field(default_factory=Senders)

    def close(self) -> None:
        self.refs.close_store()


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def client_address(request: Request, trust_forwarded: bool) -> str:
    """The client, for rate limiting: its address, or its /64 network for IPv6,
    where one phone may hold a whole /64 and change addresses within it at will.
    An IPv4 client on a dual-stack socket (``::ffff:a.b.c.d``) is its IPv4
    address. With ``trust_forwarded``, the address is the right-most hop of
    ``X-Forwarded-For``: the one the trusted proxy added, whether it appends to
    what the client sent or overwrites it (the hops to its left are the
    client's to write)."""
    host = request.client.host if request.client else "unknown"
    if trust_forwarded:
        hops = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
        host = hops[-1].strip() or host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
