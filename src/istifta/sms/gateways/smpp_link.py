"""One TCP connection to an SMSC (:mod:`.smpp`): PDUs framed as they arrive,
sequence numbers, the window of submits awaiting their answer, and the PDUs of
one event-loop turn written in one system call."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from istifta.errors import GatewayError
from istifta.sms.gateways import smpp_pdu as wire

__all__ = ["Group", "Link", "LinkOwner"]

log = logging.getLogger("istifta.sms.gateways.smpp")
_MAX_PDU = 65536


class LinkOwner(Protocol):
    """What a :class:`Link` needs of its gateway."""

    window: int
    open_links: set[Link]

    def on_request(self, link: Link, command_id: int, sequence: int, body: bytes) -> None:
        """A request PDU from the SMSC (deliver_sm, enquire_link, unbind)."""

    def on_part_accepted(self, group: Group, body: bytes) -> None:
        """A submit_sm_resp of one part of ``group``, read before any receipt for that part can be."""


@dataclass(slots=True)
class Group:
    """A concatenated message's parts: their ids as the SMSC gives them, and receipts so far."""

    parts: int
    ids: list[str] = field(default_factory=list)
    receipts: int = 0
    done: bool = False


class Link(asyncio.Protocol):
    """One TCP connection to the SMSC: framing, sequence numbers, the window."""

    def __init__(self, gateway: LinkOwner, name: str) -> None:
        self.gateway, self.name = gateway, name
        self.loop = asyncio.get_running_loop()
        self.window = asyncio.Semaphore(gateway.window)
        self.in_window = 0
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.outbox: list[bytes] = []
        self.sequence = 0
        self.pending: dict[int, tuple[asyncio.Future[tuple[int, bytes]], Group | None]] = {}
        self.closed: asyncio.Future[None] = self.loop.create_future()
        gateway.open_links.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        lost = GatewayError(f"the SMPP connection {self.name} was lost", temporary=True)
        for future, _ in self.pending.values():
            if not future.done():
                future.set_exception(lost)
        self.pending.clear()
        self.gateway.open_links.discard(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def request(
        self, command_id: int, body: bytes = b"", group: Group | None = None, timeout: float = 30.0
    ) -> asyncio.Future[tuple[int, bytes]]:
        """Send a request PDU; the future gets its response's (command_status, body)."""
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        sequence = self.sequence
        future: asyncio.Future[tuple[int, bytes]] = self.loop.create_future()
        if self.transport is None or self.transport.is_closing():
            future.set_exception(GatewayError(f"the SMPP connection {self.name} is closed", temporary=True))
            return future
        self.pending[sequence] = (future, group)
        self._write(wire.pdu(command_id, sequence, body))
        self.loop.call_later(timeout, self._expire, sequence, command_id, timeout)
        return future

    def _expire(self, sequence: int, command_id: int, timeout: float) -> None:
        future, _ = self.pending.pop(sequence, (None, None))
        if future is not None and not future.done():
            error = f"no answer to SMPP command 0x{command_id:08X} within {timeout:g} s"
            future.set_exception(GatewayError(error, temporary=True))

    def close(self, abort: bool = False) -> None:
        if self.transport is not None:
            self.transport.abort() if abort else self.transport.close()

    def answer(self, command_id: int, sequence: int, status: int = 0, body: bytes = b"") -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._write(wire.pdu(command_id, sequence, body, status))

    def _write(self, data: bytes) -> None:
        """PDUs written in one turn of the event loop leave in one system call."""
        if not self.outbox:
            self.loop.call_soon(self._flush)
        self.outbox.append(data)

    def _flush(self) -> None:
        data, self.outbox = b"".join(self.outbox), []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        at, size = 0, len(buffer)
        while size - at >= 16:
            length, command_id, status, sequence = wire.HEADER.unpack_from(buffer, at)
            if not 16 <= length <= _MAX_PDU:
                log.warning("SMPP %s: a PDU of %d bytes: dropping the connection", self.name, length)
                self.close(abort=True)
                return
            if size - at < length:
                break
            body = bytes(buffer[at + 16 : at + length])
            at += length
            if command_id & wire.RESP:
                self._response(command_id, status, sequence, body)
            else:
                self.gateway.on_request(self, command_id, sequence, body)
        del buffer[:at]

    def _response(self, command_id: int, status: int, sequence: int, body: bytes) -> None:
        future, group = self.pending.pop(sequence, (None, None))
        if future is None or future.done():
            return  # late (expired) or unsolicited
        if group is not None and status == 0 and command_id == wire.SUBMIT_SM | wire.RESP:
            self.gateway.on_part_accepted(group, body)
        future.set_result((status, body))
