"""The SMPP 3.4 gateway: transceiver binds to the operator's SMSC.

``SmppGateway(settings)`` opens ``smpp_binds`` transceiver binds and spreads
messages over them, each bind keeping at most ``window`` submit_sm waiting
for their submit_sm_resp. :meth:`SmppGateway.send` returns the SMSC's
message_id (the first part's, for a concatenated message, whose parts go
one after another on one bind with the reference ``message_id mod 256``, so
a retry's parts join the first attempt's). Delivery receipts (deliver_sm)
go to the ``on_report`` handler and the deliver_sm is answered once it has
returned (a handler that raises gets ESME_RX_T_APPN: the SMSC delivers the
receipt again). A concatenated message is reported once: delivered when
every part was, failed as soon as one part failed, under the first part's
id. Other deliver_sm (replies from phones) are acknowledged and ignored.

A lost connection fails what was in flight with a temporary error and is
bound again with backoff; an enquire_link goes out every
``smpp_enquire_link`` seconds and one left unanswered drops the connection.
A receipt can reach ``on_report`` before ``send`` has returned its id to
the caller when the SMSC is quick: the handler must cope with an id it does
not know yet.

Why no library: a transceiver needs seven PDUs, and the two candidates
failed what this gateway must do. smpplib 2.2.4 is synchronous and not
thread-safe, picks a random concatenation reference (a retry's parts would
not join the first attempt's) and parses no receipts; aiosmpplib 0.7.4
tracks messages in a structure that grows quadratically, drops receipts
with 12-digit dates and has no window. This one is written from the SMPP
3.4 specification (the codec is :mod:`.smpp_pdu`): an ``asyncio.Protocol``
per connection, PDUs framed with ``struct``, the PDUs of one event-loop
turn written in one system call, one future and one timer per submit.

Nothing logs a text or a phone number; errors name the SMPP status
(``ESME_RINVDSTADR (0x0000000B)``), never the text.
"""

from __future__ import annotations

import asyncio
import logging

from istifta.errors import DecodeError, GatewayError
from istifta.sms.gateways import smpp_pdu as wire
from istifta.sms.gateways.base import DeliveryReport, Outgoing, ReportHandler
from istifta.sms.gateways.smpp_link import Group, Link
from istifta.sms.settings import SmsSettings

__all__ = ["SmppGateway"]

log = logging.getLogger(__name__)
_MAX_GROUPS = 100_000  # concatenated messages awaiting their parts' receipts, at most


class SmppGateway:
    """SMPP 3.4 over ``settings.smpp_binds`` transceiver binds (see the module docstring)."""

    name = "smpp"
    idempotent = False

    def __init__(
        self,
        settings: SmsSettings,
        *,
        backoff: tuple[float, float] = (0.5, 30.0),
        wait_for_bind: float = 5.0,
        response_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        """``backoff``: the first and the longest wait before binding again after a
        failure; ``wait_for_bind``: how long a send waits for a bind while none is up."""
        self.settings = settings
        self.window = max(1, settings.window)
        self._where = f"{settings.smpp_host}:{settings.smpp_port}"
        self._bind_body = wire.bind_transceiver_body(
            settings.smpp_system_id, settings.smpp_password.value, settings.smpp_system_type
        )
        self._head = wire.submit_sm_head(settings.sender)
        self._backoff, self._wait_for_bind = backoff, wait_for_bind
        self._response_timeout, self._stop_timeout = response_timeout, stop_timeout
        self._on_report: ReportHandler | None = None
        self._links: list[Link] = []
        self.open_links: set[Link] = set()
        self._bound = asyncio.Event()
        self._keepers: list[asyncio.Task[None]] = []
        self._reports: set[asyncio.Task[None]] = set()
        self._groups: dict[str, Group] = {}
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._stopping = False

    # -- the Gateway interface ------------------------------------------------

    async def start(self, on_report: ReportHandler) -> None:
        """Bind every connection; raises :class:`GatewayError` when none could bind
        (permanent when the SMSC refused the credentials). Binds that failed keep trying."""
        self._on_report = on_report
        self._stopping = False
        count = max(1, self.settings.smpp_binds)
        first = await asyncio.gather(*(self._bind(i) for i in range(count)), return_exceptions=True)
        if all(isinstance(r, BaseException) for r in first):
            error = next(r for r in first if isinstance(r, BaseException))
            raise error if isinstance(error, GatewayError) else GatewayError(str(error), True)
        for i, link in enumerate(first):
            ready = link if isinstance(link, Link) else None
            if ready is not None:
                self._up(ready)
            self._keepers.append(asyncio.create_task(self._keep_bound(i, ready)))

    async def send(self, message: Outgoing) -> str:
        if self._stopping:
            raise GatewayError("the SMPP gateway is stopping", temporary=True)
        destination = message.phone.removeprefix("+")
        if not (destination.isascii() and destination.isdigit() and 7 <= len(destination) <= 15):
            raise GatewayError(f"{message.phone[:6]}… is not an E.164 number", temporary=False)
        parts = wire.text_parts(message.text, message.message_id & 0xFF)
        link = await self._pick()
        self._in_flight += 1
        self._idle.clear()
        head = self._head + destination.encode("ascii") + b"\0"
        group = Group(len(parts)) if len(parts) > 1 else None
        try:
            ids = [await self._submit(link, head, part, group, k, len(parts)) for k, part in enumerate(parts)]
            return ids[0]
        except BaseException:
            if group is not None:
                group.done = True  # the message will be sent again whole: ignore these parts' receipts
            raise
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def stop(self) -> None:
        """Wait (at most ``stop_timeout``) for the submits in flight, unbind, close."""
        self._stopping = True
        if self._in_flight:
            try:
                await asyncio.wait_for(self._idle.wait(), self._stop_timeout)
            except TimeoutError:
                log.warning("SMPP: stopping with %d messages still in flight", self._in_flight)
        if self._reports:
            await asyncio.wait(self._reports, timeout=2.0)
        await asyncio.gather(*(self._unbind(link) for link in list(self._links)), return_exceptions=True)
        for keeper in self._keepers:
            keeper.cancel()  # those waiting to bind again
        await asyncio.gather(*self._keepers, return_exceptions=True)
        self._keepers.clear()
        for link in list(self.open_links):  # bound again while stopping
            link.close(abort=True)
            await asyncio.shield(link.closed)
        self._links.clear()
        self._bound.clear()

    # -- sending --------------------------------------------------------------

    async def _pick(self) -> Link:
        if not self._links:
            try:
                await asyncio.wait_for(self._bound.wait(), self._wait_for_bind)
            except TimeoutError:
                raise GatewayError(f"no SMPP bind to {self._where} is up", temporary=True) from None
        return min(self._links, key=lambda link: link.in_window)

    async def _submit(
        self, link: Link, head: bytes, part: wire.Part, group: Group | None, k: int, n: int
    ) -> str:
        body = head + bytes((part.esm_class, 0, 0, 0, 0, 1, 0, part.data_coding, 0, len(part.short_message)))
        link.in_window += 1
        try:
            async with link.window:
                body += part.short_message
                status, answer = await link.request(wire.SUBMIT_SM, body, group, self._response_timeout)
        finally:
            link.in_window -= 1
        if status:
            where = f" (part {k + 1} of {n})" if n > 1 else ""
            reason = f"the SMSC refused the message{where}: {wire.status_name(status)}"
            raise GatewayError(reason, temporary=status in wire.TEMPORARY)
        try:
            return wire.c_string(answer, 0)[0].decode("ascii")
        except (DecodeError, UnicodeDecodeError):
            raise GatewayError("the SMSC answered submit_sm with an unreadable message_id", True) from None

    # -- receiving ------------------------------------------------------------

    def on_part_accepted(self, group: Group, body: bytes) -> None:
        """Called as the submit_sm_resp is read, before any receipt for that part can be."""
        try:
            message_id = wire.c_string(body, 0)[0].decode("ascii")
        except (DecodeError, UnicodeDecodeError):
            return
        group.ids.append(message_id)
        self._groups[message_id] = group
        if len(self._groups) > _MAX_GROUPS:
            del self._groups[next(iter(self._groups))]

    def on_request(self, link: Link, command_id: int, sequence: int, body: bytes) -> None:
        if command_id == wire.DELIVER_SM:
            self._deliver_sm(link, sequence, body)
        elif command_id == wire.ENQUIRE_LINK:
            link.answer(wire.ENQUIRE_LINK | wire.RESP, sequence)
        elif command_id == wire.UNBIND:
            link.answer(wire.UNBIND | wire.RESP, sequence)
            log.info("SMPP %s: the SMSC unbound", link.name)
            link.close()
        else:
            link.answer(wire.GENERIC_NACK, sequence, status=0x03)  # ESME_RINVCMDID

    def _deliver_sm(self, link: Link, sequence: int, body: bytes) -> None:
        resp = wire.DELIVER_SM | wire.RESP
        try:
            receipt = wire.deliver_sm_receipt(body)
        except DecodeError as e:
            log.warning("SMPP %s: an unreadable deliver_sm (%s): acknowledged and dropped", link.name, e)
            receipt = None
        report = self._report_for(receipt) if receipt is not None and receipt.final else None
        if report is None or self._on_report is None:
            link.answer(resp, sequence, body=b"\0")
            return
        task = asyncio.create_task(self._deliver_report(link, sequence, report))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    def _report_for(self, receipt: wire.Receipt) -> DeliveryReport | None:
        error = None if receipt.delivered else f"{receipt.stat} err:{receipt.err or '-'}"
        group = self._groups.pop(receipt.message_id, None)
        if group is None:
            return DeliveryReport(receipt.message_id, receipt.delivered, error)
        group.receipts += 1
        if group.done:
            return None
        if not receipt.delivered or group.receipts == group.parts:
            group.done = True
            return DeliveryReport(group.ids[0], receipt.delivered, error)
        return None

    async def _deliver_report(self, link: Link, sequence: int, report: DeliveryReport) -> None:
        assert self._on_report is not None
        status = 0
        try:
            await self._on_report(report)
        except Exception:
            log.exception("SMPP: the delivery report handler failed; the SMSC will deliver it again")
            status = 0x64  # ESME_RX_T_APPN
        link.answer(wire.DELIVER_SM | wire.RESP, sequence, status, b"\0" if not status else b"")

    # -- binds ----------------------------------------------------------------

    async def _bind(self, index: int) -> Link:
        name = f"#{index + 1} to {self._where}"
        loop = asyncio.get_running_loop()
        try:
            _, link = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Link(self, name), self.settings.smpp_host, self.settings.smpp_port
                ),
                10.0,
            )
        except (OSError, TimeoutError) as e:
            raise GatewayError(f"cannot connect to the SMSC at {self._where}: {e}", temporary=True) from None
        try:
            status, _ = await link.request(wire.BIND_TRANSCEIVER, self._bind_body, timeout=10.0)
        except BaseException:
            link.close(abort=True)
            raise
        if status:
            link.close()
            await asyncio.shield(link.closed)
            reason = f"the SMSC at {self._where} refused the bind: {wire.status_name(status)}"
            raise GatewayError(reason, temporary=status in wire.TEMPORARY)
        log.info("SMPP %s: bound (transceiver)", name)
        return link

    async def _keep_bound(self, index: int, link: Link | None) -> None:
        delay = self._backoff[0]
        while not self._stopping:
            if link is None:
                try:
                    link = await self._bind(index)
                except GatewayError as e:
                    log.warning("SMPP bind #%d: %s; again in %.1f s", index + 1, e.reason, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff[1])
                    continue
                self._up(link)
            delay = self._backoff[0]
            alive = asyncio.create_task(self._enquire(link))
            try:
                await asyncio.shield(link.closed)
            finally:
                alive.cancel()
                if link in self._links:
                    self._links.remove(link)
                if not self._links:
                    self._bound.clear()
            if not self._stopping:
                log.warning("SMPP %s: connection lost; binding again", link.name)
            link = None

    def _up(self, link: Link) -> None:
        self._links.append(link)
        self._bound.set()

    async def _enquire(self, link: Link) -> None:
        every = self.settings.smpp_enquire_link
        while every > 0:
            await asyncio.sleep(every)
            try:
                await link.request(wire.ENQUIRE_LINK, timeout=max(every, 1.0))
            except GatewayError:
                log.warning("SMPP %s: enquire_link unanswered; dropping the connection", link.name)
                link.close(abort=True)
                return

    async def _unbind(self, link: Link) -> None:
        try:
            await link.request(wire.UNBIND, timeout=2.0)
        except GatewayError:
            pass
        finally:
            link.close()
            await asyncio.wait_for(asyncio.shield(link.closed), 2.0)
