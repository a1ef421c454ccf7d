"""An in-memory gateway for unit tests: records what it was given, fails on
demand, and reports deliveries when told to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from istifta.sms.gateways.base import DeliveryReport, GatewayError, Outgoing, ReportHandler

__all__ = ["FakeGateway"]


@dataclass
class FakeGateway:
    name: str = "fake"
    idempotent: bool = False
    sent: list[Outgoing] = field(default_factory=list)
    failures: dict[int, list[GatewayError]] = field(default_factory=dict)
    """Per message id, the errors its next attempts raise, in order."""
    delay: float = 0.0
    reports: dict[int, tuple[bool, str | None]] = field(default_factory=dict)
    """Per message id, a delivery report to send as soon as the message is taken
    (before the dispatcher has written it down: the race real networks run)."""
    send_times: list[float] = field(default_factory=list)
    _on_report: ReportHandler | None = None

    async def start(self, on_report: ReportHandler) -> None:
        self._on_report = on_report

    async def send(self, message: Outgoing) -> str:
        pending = self.failures.get(message.message_id)
        if pending:
            raise pending.pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.send_times.append(asyncio.get_running_loop().time())
        self.sent.append(message)
        gateway_id = f"fake-{message.message_id}-{len(self.sent)}"
        if message.message_id in self.reports:
            delivered, error = self.reports[message.message_id]
            asyncio.get_running_loop().create_task(self.report(gateway_id, delivered, error))
        return gateway_id

    async def report(self, gateway_id: str, delivered: bool = True, error: str | None = None) -> None:
        """Deliver a report as the network would."""
        assert self._on_report is not None, "start() first"
        await self._on_report(DeliveryReport(gateway_id, delivered, error))

    async def stop(self) -> None:
        pass

    def fail_next(self, message_id: int, *errors: GatewayError) -> None:
        self.failures.setdefault(message_id, []).extend(errors)

    def texts(self) -> list[str]:
        return [m.text for m in self.sent]
