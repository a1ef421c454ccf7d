"""The interface every SMS gateway implements (one file per provider).

A gateway takes one message at a time (the dispatcher keeps up to its
``window`` in flight at once and paces them at its rate), answers the
gateway's own id for it, and reports deliveries later through the callback
given to :meth:`Gateway.start`. It raises :class:`GatewayError` with
``temporary=True`` for what a retry may cure (throttled, link down) and
``temporary=False`` for what it will not (an invalid number).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from istifta.errors import GatewayError

__all__ = ["DeliveryReport", "Gateway", "GatewayError", "Outgoing", "ReportHandler"]


@dataclass(frozen=True)
class Outgoing:
    """One SMS to send. ``text`` holds the voter's code: never log it."""

    message_id: int
    """istifta's id for the message (the queue row): the same id on any retry."""
    phone: str
    """E.164, e.g. ``+9647701234567``."""
    text: str

    def __repr__(self) -> str:
        return f"Outgoing({self.message_id}, {self.phone[:6]}…)"


@dataclass(frozen=True)
class DeliveryReport:
    """What the network said of a message it took: ``delivered`` or ``failed``."""

    gateway_id: str
    delivered: bool
    error: str | None = None


ReportHandler = Callable[[DeliveryReport], Awaitable[None]]


class Gateway(Protocol):
    name: str
    """Stored with each message, so that reports are matched to the right gateway."""
    idempotent: bool
    """True when sending the same ``message_id`` twice delivers it once (the
    outbox; an HTTP gateway that forwards an idempotency key). After a crash,
    messages in doubt are sent again only through an idempotent gateway."""

    async def start(self, on_report: ReportHandler) -> None:
        """Connect (bind, open sessions); delivery reports go to ``on_report``."""
        ...

    async def send(self, message: Outgoing) -> str:
        """Hand one message over; return the gateway's id for it. Raises :class:`GatewayError`."""
        ...

    async def stop(self) -> None:
        """Finish what is in flight, then disconnect."""
        ...
