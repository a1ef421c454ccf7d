"""The outbox: messages kept in a private file on this machine, each once."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from istifta.sms.gateways.base import DeliveryReport, Outgoing
from istifta.sms.gateways.outbox import OutboxEntry, OutboxGateway, read_outbox
from istifta.sms.settings import SmsSettings

NOW = datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)
LINK = "http://127.0.0.1:8000/test-referendum#0123456789ABCDEFGHJKMNPQRS"
TEXT = f'صوّت "نعم" أو "لا":\n{LINK}'


def run(data_dir: Path, *messages: Outgoing) -> tuple[list[str], list[DeliveryReport]]:
    """Start a gateway, send the messages one after another, stop it."""
    reports: list[DeliveryReport] = []

    async def on_report(report: DeliveryReport) -> None:
        reports.append(report)

    async def go() -> list[str]:
        gateway = OutboxGateway(SmsSettings(data_dir=data_dir), clock=lambda: NOW)
        await gateway.start(on_report)
        sent = [await gateway.send(m) for m in messages]
        await gateway.stop()
        return sent

    return asyncio.run(go()), reports


def lines(data_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (data_dir / "outbox.jsonl").read_text("utf-8").splitlines()]


def test_each_message_is_one_line_in_a_private_file(tmp_path: Path) -> None:
    data = tmp_path / "data"

    ids, _ = run(data, Outgoing(1, "+9647701234567", TEXT), Outgoing(2, "+9647801234568", "second"))

    assert ids == ["outbox-1", "outbox-2"]
    assert stat.S_IMODE((data / "outbox.jsonl").stat().st_mode) == 0o600
    assert lines(data) == [
        {"id": 1, "phone": "+9647701234567", "text": TEXT, "at": "2024-05-01T09:30:15Z"},
        {"id": 2, "phone": "+9647801234568", "text": "second", "at": "2024-05-01T09:30:15Z"},
    ]


def test_an_existing_outbox_readable_by_others_is_made_private(tmp_path: Path) -> None:
    (tmp_path / "outbox.jsonl").touch(mode=0o644)

    run(tmp_path, Outgoing(1, "+9647701234567", TEXT))

    assert stat.S_IMODE((tmp_path / "outbox.jsonl").stat().st_mode) == 0o600


def test_the_same_message_sent_twice_is_kept_once(tmp_path: Path) -> None:
    message = Outgoing(7, "+9647701234567", TEXT)

    ids, _ = run(tmp_path, message, message)

    assert ids == ["outbox-7", "outbox-7"]
    assert len(lines(tmp_path)) == 1


def test_a_message_sent_again_after_a_restart_is_kept_once(tmp_path: Path) -> None:
    message = Outgoing(7, "+9647701234567", TEXT)
    run(tmp_path, message)

    ids, reports = run(tmp_path, message, Outgoing(8, "+9647701234568", "next"))

    assert ids == ["outbox-7", "outbox-8"]
    assert [line["id"] for line in lines(tmp_path)] == [7, 8]
    assert [r.gateway_id for r in reports] == ["outbox-7", "outbox-8"]  # reported again: the row may await it


def test_every_message_is_reported_delivered_after_send_returns(tmp_path: Path) -> None:
    reported_when_sent: list[int] = []
    reports: list[DeliveryReport] = []

    async def on_report(report: DeliveryReport) -> None:
        reports.append(report)

    async def go() -> None:
        gateway = OutboxGateway(SmsSettings(data_dir=tmp_path))
        await gateway.start(on_report)
        for i in range(3):
            await gateway.send(Outgoing(i, "+9647701234567", "hi"))
            reported_when_sent.append(len(reports))
        await gateway.stop()

    asyncio.run(go())

    # message i's report comes only after send(i) returned its id (for the dispatcher to record)
    assert all(count <= i for i, count in enumerate(reported_when_sent))
    assert reports == [DeliveryReport(f"outbox-{i}", delivered=True) for i in range(3)]


def test_a_failing_report_handler_does_not_stop_the_others(tmp_path: Path) -> None:
    reports: list[str] = []

    async def on_report(report: DeliveryReport) -> None:
        if report.gateway_id == "outbox-1":
            raise RuntimeError("store down")
        reports.append(report.gateway_id)

    async def go() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
        gateway = OutboxGateway(SmsSettings(data_dir=tmp_path))
        await gateway.start(on_report)
        for i in range(3):
            await gateway.send(Outgoing(i, "+9647701234567", "hi"))
        await gateway.stop()

    asyncio.run(go())

    assert reports == ["outbox-0", "outbox-2"]


def test_the_outbox_reads_back_for_the_organiser(tmp_path: Path) -> None:
    run(tmp_path, Outgoing(1, "+9647701234567", TEXT), Outgoing(2, "+9647801234568", "second"))

    entries = read_outbox(tmp_path)

    assert entries == [
        OutboxEntry(1, "+9647701234567", TEXT, "2024-05-01T09:30:15Z"),
        OutboxEntry(2, "+9647801234568", "second", "2024-05-01T09:30:15Z"),
    ]
    assert LINK not in repr(entries)


def test_no_outbox_reads_as_empty(tmp_path: Path) -> None:
    assert read_outbox(tmp_path / "nothing-sent") == []


def test_a_line_torn_by_a_crash_is_skipped_and_later_lines_stay_whole(tmp_path: Path) -> None:
    run(tmp_path, Outgoing(1, "+9647701234567", "first"))
    with (tmp_path / "outbox.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": 2, "phone": "+96477')  # the power went out mid-write

    run(tmp_path, Outgoing(2, "+9647701234568", "second"))

    assert [(e.id, e.text) for e in read_outbox(tmp_path)] == [(1, "first"), (2, "second")]
