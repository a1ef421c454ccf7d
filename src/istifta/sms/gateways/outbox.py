"""The embedded default gateway: nothing leaves the machine.

Each message is appended to ``data_dir/outbox.jsonl``, one JSON object a line
(``{"id", "phone", "text", "at"}``, ``at`` in RFC 3339 UTC), flushed and
fsync'd before :meth:`OutboxGateway.send` returns. The file holds voting
links, which are secrets: it is created with mode 0600. Sending a message id
that is already in the file appends nothing (the ids are read at ``start``),
so a message in doubt after a crash may safely be sent again. Every message
is reported delivered at once, after ``send`` has returned its id.

``istifta sms outbox`` shows the file through :func:`read_outbox`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from istifta.errors import DecodeError, UsageError
from istifta.sms.gateways.base import DeliveryReport, Outgoing, ReportHandler
from istifta.sms.settings import SmsSettings

__all__ = ["OUTBOX_FILE", "OutboxEntry", "OutboxGateway", "read_outbox"]

OUTBOX_FILE = "outbox.jsonl"
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class OutboxEntry:
    """One message of the outbox. ``text`` holds the voter's link: ``repr`` hides it."""

    id: int
    phone: str
    text: str = field(repr=False)
    at: str
    """When it was written, RFC 3339 UTC: ``2024-05-01T09:30:00Z``."""


class OutboxGateway:
    """Appends each message to the outbox file and reports it delivered."""

    name: str = "outbox"
    idempotent: bool = True

    def __init__(self, settings: SmsSettings, clock: Callable[[], datetime] | None = None) -> None:
        self.path = settings.data_dir / OUTBOX_FILE
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fd: int | None = None
        self._ids: set[int] = set()
        self._lock = asyncio.Lock()
        self._reports: asyncio.Queue[DeliveryReport] = asyncio.Queue()
        self._reporter: asyncio.Task[None] | None = None

    async def start(self, on_report: ReportHandler) -> None:
        self._fd, self._ids = await asyncio.to_thread(_open, self.path)
        self._reporter = asyncio.create_task(self._report(on_report))

    async def send(self, message: Outgoing) -> str:
        if self._fd is None:
            raise UsageError("OutboxGateway.send before start()")
        gateway_id = f"outbox-{message.message_id}"
        async with self._lock:
            if message.message_id not in self._ids:
                at = self._clock().astimezone(UTC).strftime(RFC3339)
                line = {"id": message.message_id, "phone": message.phone, "text": message.text, "at": at}
                await asyncio.to_thread(_append, self._fd, json.dumps(line, ensure_ascii=False))
                self._ids.add(message.message_id)
        self._reports.put_nowait(DeliveryReport(gateway_id, delivered=True))
        return gateway_id

    async def stop(self) -> None:
        """Finish the append in flight and close the file, then hand over the reports still queued."""
        async with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        if self._reporter is not None:
            await self._reports.join()
            self._reporter.cancel()
            self._reporter = None

    async def _report(self, on_report: ReportHandler) -> None:
        loop = asyncio.get_running_loop()
        while True:
            report = await self._reports.get()
            try:
                await on_report(report)
            except Exception as e:  # one failing report must not silence the others
                loop.call_exception_handler({"message": "outbox delivery report failed", "exception": e})
            finally:
                self._reports.task_done()


def _open(path: Path) -> tuple[int, set[int]]:
    """The outbox opened for appending (created private) and the ids it holds."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        _write_all(fd, b"\n")  # a line torn by a crash stays apart from the next one
    return fd, {entry.id for entry in read_outbox(path.parent)}


def _append(fd: int, line: str) -> None:
    _write_all(fd, (line + "\n").encode("utf-8"))
    os.fsync(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_outbox(data_dir: Path) -> list[OutboxEntry]:
    """Every message in ``data_dir``'s outbox, oldest first (none if there is no outbox).

    A line torn by a crash (not JSON) is skipped: its message was never
    acknowledged, so it was sent again. A JSON line without the right fields
    raises :class:`DecodeError`."""
    path = data_dir / OUTBOX_FILE
    if not path.exists():
        return []
    entries = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            entries.append(_entry(data, number))
    return entries


def _entry(data: object, number: int) -> OutboxEntry:
    problem = DecodeError(f"{OUTBOX_FILE} line {number:,}: not an outbox entry (id, phone, text, at)")
    if not isinstance(data, dict):
        raise problem
    message_id, phone, text, at = (data.get(key) for key in ("id", "phone", "text", "at"))
    if type(message_id) is not int or not isinstance(phone, str) or not isinstance(text, str):
        raise problem
    try:
        datetime.strptime(str(at), RFC3339)
    except ValueError:
        raise problem from None
    return OutboxEntry(message_id, phone, text, str(at))
