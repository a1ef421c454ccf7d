"""The SMPP gateway against a real SMPP 3.4 server (the npm ``smpp`` package under
Node.js, ``tests/smpp_peer/``), which records every PDU it gets with its raw bytes:
what a phone would receive, the receipts that come back, refusals, binds and their
window, keep-alives, a lost SMSC. The codec's edge cases (part boundaries, receipt
texts) are checked on the codec itself at the end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import pytest

from istifta.errors import GatewayError
from istifta.sms.gateways import smpp_pdu as wire
from istifta.sms.gateways.base import DeliveryReport, Outgoing
from istifta.sms.gateways.smpp import SmppGateway
from istifta.sms.settings import Secret, SmsSettings

from .smpp_peer import SmppPeer

T = TypeVar("T")
ARABIC = "رمز التصويت الخاص بك: افتح الرابط وصوّت قبل الخميس"
SORANI = "کۆدی دەنگدانەکەت: بەستەرەکە بکەرەوە و دەنگ بدە پێش پێنجشەممە"
ENGLISH = "Your code [AB-12] costs 0€ {really} ~ ^_^ | \\ @home"
LONG_ARABIC = "هذه رسالة طويلة عن الاستفتاء الوطني، اقرأها حتى النهاية رجاءً. " * 4


@pytest.fixture(scope="module")
def peer() -> Iterator[SmppPeer]:
    with SmppPeer() as running:
        yield running


class Reports(list[DeliveryReport]):
    async def handler(self, report: DeliveryReport) -> None:
        self.append(report)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self) < count:
            assert time.monotonic() < deadline, f"{len(self)} delivery reports, expected {count}"
            await asyncio.sleep(0.01)


def run(
    port: int, body: Callable[[SmppGateway, Reports], Awaitable[T]], **settings: Any
) -> tuple[T, Reports]:
    """Start a gateway on the peer, run ``body``, stop it; ``body``'s result and the reports."""
    options = {k: settings.pop(k) for k in ("backoff", "wait_for_bind", "response_timeout") if k in settings}
    reports = Reports()

    async def main() -> T:
        gateway = SmppGateway(SmsSettings(gateway="smpp", smpp_port=port, **settings), **options)
        await gateway.start(reports.handler)
        try:
            return await body(gateway, reports)
        finally:
            await gateway.stop()

    return asyncio.run(main()), reports


def sent_to(peer: SmppPeer, phone: str) -> list[dict[str, Any]]:
    return [r for r in peer.records("submit_sm") if r["destination_addr"] == phone.removeprefix("+")]


def decode(record: dict[str, Any]) -> str:
    raw = bytes.fromhex(record["text_hex"])
    return raw.decode("utf-16-be") if record["data_coding"] == 8 else raw.decode("gsm03.38")


def send_one(peer: SmppPeer, message: Outgoing, **settings: Any) -> str:
    async def body(gateway: SmppGateway, _: Reports) -> str:
        return await gateway.send(message)

    return run(peer.port, body, **settings)[0]


# -- what arrives ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "coding", "phone"),
    [(ARABIC, 8, "+9647700000001"), (SORANI, 8, "+9647500000002"), (ENGLISH, 0, "+9647800000003")],
    ids=["arabic-ucs2", "sorani-ucs2", "english-gsm7"],
)
def test_a_text_arrives_intact_in_the_right_alphabet(
    peer: SmppPeer, text: str, coding: int, phone: str
) -> None:
    gateway_id = send_one(peer, Outgoing(1, phone, text))

    [got] = sent_to(peer, phone)
    assert got["message_id"] == gateway_id
    assert got["data_coding"] == coding and got["esm_class"] == 0 and got["udh_hex"] == ""
    assert decode(got) == text
    assert (got["dest_addr_ton"], got["dest_addr_npi"]) == (1, 1)
    assert (got["source_addr"], got["source_addr_ton"], got["registered_delivery"]) == ("istifta", 5, 1)
    if coding == 0:  # one septet a byte; € and [ from the extension table, each ESC + one septet
        raw = bytes.fromhex(got["text_hex"])
        assert b"\x1be" in raw and b"\x1b<" in raw
        assert len(raw) == len(text) + sum(c in "[]{}€~^|\\" for c in text)


def test_a_numeric_sender_goes_out_as_an_international_number(peer: SmppPeer) -> None:
    send_one(peer, Outgoing(2, "+9647700000004", "code"), sender="+9647001234567")

    [got] = sent_to(peer, "+9647700000004")
    assert (got["source_addr"], got["source_addr_ton"], got["source_addr_npi"]) == ("9647001234567", 1, 1)


def test_a_long_arabic_text_arrives_as_numbered_parts_and_a_retry_reuses_the_reference(
    peer: SmppPeer,
) -> None:
    phone = "+9647700000005"
    message = Outgoing(4242, phone, LONG_ARABIC)
    first = send_one(peer, message)
    again = send_one(peer, message)  # as the dispatcher would retry it

    parts = sent_to(peer, phone)
    n = len(parts) // 2
    assert n == -(-len(LONG_ARABIC) // 67) and n > 2
    for attempt, gateway_id in ((parts[:n], first), (parts[n:], again)):
        assert attempt[0]["message_id"] == gateway_id  # send returns the first part's id
        udhs = [bytes.fromhex(p["udh_hex"]) for p in attempt]
        assert udhs == [bytes((5, 0, 3, 4242 % 256, n, k)) for k in range(1, n + 1)]
        assert all(p["esm_class"] & 0x40 and p["data_coding"] == 8 for p in attempt)
        assert all(len(decode(p)) <= 67 for p in attempt)
        assert "".join(decode(p) for p in attempt) == LONG_ARABIC


# -- delivery receipts --------------------------------------------------------------


def test_receipts_are_matched_to_the_ids_send_returned_and_a_long_message_reported_once(
    peer: SmppPeer,
) -> None:
    async def body(gateway: SmppGateway, reports: Reports) -> tuple[list[str], str]:
        short = await asyncio.gather(
            *(gateway.send(Outgoing(i, f"+96477100000{i:02d}", ARABIC)) for i in range(5))
        )
        long = await gateway.send(Outgoing(99, "+9647710000099", LONG_ARABIC))
        await reports.wait_for(6)
        await asyncio.sleep(0.2)  # the other parts' receipts have come too by now
        return short, long

    (short, long), reports = run(peer.port, body, smpp_binds=2)

    part_ids = [p["message_id"] for p in sent_to(peer, "+9647710000099")]
    assert len(part_ids) > 2 and part_ids[0] == long
    assert sorted(reports, key=lambda r: r.gateway_id) == sorted(
        (DeliveryReport(i, True) for i in [*short, long]), key=lambda r: r.gateway_id
    )


def test_undelivered_messages_are_reported_failed_once() -> None:
    with SmppPeer("--undeliverable-prefix", "+9641") as failing:

        async def body(gateway: SmppGateway, reports: Reports) -> list[str]:
            ids = [await gateway.send(Outgoing(1, "+9641000000001", t)) for t in (ARABIC, LONG_ARABIC)]
            await reports.wait_for(2)
            await asyncio.sleep(0.2)
            return ids

        ids, reports = run(failing.port, body)

    assert reports == [DeliveryReport(i, False, "UNDELIV err:001") for i in ids]


def test_receipts_carrying_tlvs_are_matched_too() -> None:
    with SmppPeer("--receipt-tlvs") as tlv:

        async def body(gateway: SmppGateway, reports: Reports) -> str:
            gateway_id = await gateway.send(Outgoing(1, "+9647700000006", ARABIC))
            await reports.wait_for(1)
            return gateway_id

        gateway_id, reports = run(tlv.port, body)

    assert reports == [DeliveryReport(gateway_id, True)]


def test_a_failing_report_handler_asks_the_smsc_to_deliver_the_receipt_again() -> None:
    with SmppPeer() as fresh:

        async def main() -> None:
            async def broken(report: DeliveryReport) -> None:
                raise RuntimeError("database is down")

            gateway = SmppGateway(SmsSettings(smpp_port=fresh.port))
            await gateway.start(broken)
            await gateway.send(Outgoing(1, "+9647700000007", ARABIC))
            await asyncio.sleep(0.2)
            await gateway.stop()

        asyncio.run(main())
        assert [r["status"] for r in fresh.records("deliver_sm_resp")] == [0x64]  # ESME_RX_T_APPN


# -- refusals -------------------------------------------------------------------------


def test_throttling_is_a_temporary_error_naming_the_status_and_not_the_text() -> None:
    secret_text = "code ZX81-SECRET-4455"
    with SmppPeer("--throttle-every", "2") as throttling:

        async def body(gateway: SmppGateway, _: Reports) -> GatewayError:
            await gateway.send(Outgoing(1, "+9647700000008", secret_text))
            with pytest.raises(GatewayError) as caught:
                await gateway.send(Outgoing(2, "+9647700000008", secret_text))
            return caught.value

        error, _ = run(throttling.port, body)

    assert error.temporary and "ESME_RTHROTTLED (0x00000058)" in str(error)
    assert "ZX81" not in str(error) and "ZX81" not in repr(error)


def test_an_invalid_destination_is_permanent_and_keeps_text_and_number_out() -> None:
    secret_text = "رمز سري 9988-ZQ"
    with SmppPeer("--reject-prefix", "+9640") as rejecting:
        with pytest.raises(GatewayError) as caught:
            send_one(rejecting, Outgoing(1, "+9640123456789", secret_text))

    error = caught.value
    assert not error.temporary and "ESME_RINVDSTADR (0x0000000B)" in str(error)
    assert "9988" not in str(error) and "0123456789" not in str(error)


def test_a_number_that_is_not_e164_is_refused_before_it_is_sent(peer: SmppPeer) -> None:
    with pytest.raises(GatewayError) as caught:
        send_one(peer, Outgoing(1, "07701234567x", "code"))
    assert not caught.value.temporary and "not an E.164 number" in str(caught.value)


def test_wrong_credentials_fail_start_permanently_without_showing_the_password() -> None:
    with SmppPeer("--system-id", "istifta", "--password", "s3cret") as strict:

        async def start(password: str) -> None:
            settings = SmsSettings(
                smpp_port=strict.port, smpp_password=Secret(password), smpp_system_type="VMA"
            )
            gateway = SmppGateway(settings)
            await gateway.start(Reports().handler)
            await gateway.stop()

        with pytest.raises(GatewayError) as caught:
            asyncio.run(start("wrong!"))
        asyncio.run(start("s3cret"))
        binds = strict.records("bind_transceiver")

    assert not caught.value.temporary and "ESME_RINVPASWD (0x0000000E)" in str(caught.value)
    assert "wrong!" not in str(caught.value)
    assert [b["accepted"] for b in binds] == [False, False, True, True]
    assert {b["system_type"] for b in binds} == {"VMA"}


# -- binds, window, keep-alive ------------------------------------------------------


def test_messages_are_spread_over_the_binds_each_keeping_its_window() -> None:
    with SmppPeer("--delay-ms", "100") as slow:

        async def body(gateway: SmppGateway, _: Reports) -> list[str]:
            return await asyncio.gather(
                *(gateway.send(Outgoing(i, "+9647700000009", "hi")) for i in range(36))
            )

        ids, _ = run(slow.port, body, smpp_binds=3, window=4)
        binds = slow.records("bind_transceiver")
        submits = slow.records("submit_sm")

    assert len(binds) == 3 and len(set(ids)) == 36
    by_session: dict[int, int] = {}
    for s in submits:
        by_session[s["session"]] = max(by_session.get(s["session"], 0), s["outstanding"])
    assert by_session == {b["session"]: 4 for b in binds}  # every bind used, its window full, never more


def test_enquire_link_both_ways_unknown_pdus_nacked_and_unbind_on_stop() -> None:
    with SmppPeer("--enquire-every", "0.1", "--send-unknown") as chatty:

        async def body(gateway: SmppGateway, _: Reports) -> None:
            await asyncio.sleep(0.55)

        run(chatty.port, body, smpp_enquire_link=0.1)
        records = chatty.records()

    kinds = [r["pdu"] for r in records]
    assert kinds.count("enquire_link") >= 3 and kinds.count("enquire_link_resp") >= 3
    nacks = [r["status"] for r in records if r["pdu"] == "generic_nack"]
    assert nacks == [0x03, 0x03]  # ESME_RINVCMDID, on each bind
    assert kinds.count("unbind") == 2  # one a bind


def test_stop_waits_for_the_messages_in_flight() -> None:
    with SmppPeer("--delay-ms", "300", "--no-receipts") as slow:

        async def main() -> str:
            gateway = SmppGateway(SmsSettings(smpp_port=slow.port, smpp_binds=1))
            await gateway.start(Reports().handler)
            sending = asyncio.create_task(gateway.send(Outgoing(1, "+9647700000010", "hi")))
            await asyncio.sleep(0.05)
            await gateway.stop()
            return await sending

        gateway_id = asyncio.run(main())
        kinds = [r["pdu"] for r in slow.records()]

    assert gateway_id and kinds == ["bind_transceiver", "submit_sm", "unbind"]


def test_a_submit_left_unanswered_fails_temporarily() -> None:
    with SmppPeer("--delay-ms", "3000", "--no-receipts") as silent:
        started = time.monotonic()
        with pytest.raises(GatewayError) as caught:
            send_one(silent, Outgoing(1, "+9647700000012", "hi"), response_timeout=0.3)

    assert caught.value.temporary and "no answer" in str(caught.value)
    assert time.monotonic() - started < 2


# -- a lost SMSC --------------------------------------------------------------------


def test_a_lost_connection_fails_in_flight_sends_temporarily_and_binds_again() -> None:
    with SmppPeer("--delay-ms", "2000") as flaky:

        async def main() -> tuple[GatewayError, GatewayError, str]:
            settings = SmsSettings(smpp_port=flaky.port, smpp_binds=2)
            gateway = SmppGateway(settings, backoff=(0.05, 0.2), wait_for_bind=0.5)
            await gateway.start(Reports().handler)
            in_flight = asyncio.create_task(gateway.send(Outgoing(1, "+9647700000011", ARABIC)))
            while not flaky.records("submit_sm"):
                await asyncio.sleep(0.01)
            flaky.kill()
            lost = await asyncio.gather(in_flight, return_exceptions=True)
            await asyncio.sleep(0.1)
            down = await asyncio.gather(
                gateway.send(Outgoing(2, "+9647700000011", "x")), return_exceptions=True
            )
            flaky.options = ()  # back without the delay, on the same port
            flaky.start()
            after = await gateway.send(Outgoing(3, "+9647700000011", ARABIC))
            await gateway.stop()
            assert isinstance(lost[0], GatewayError) and isinstance(down[0], GatewayError)
            return lost[0], down[0], after

        lost, down, after = asyncio.run(main())
        binds = flaky.records("bind_transceiver")

    assert lost.temporary and "was lost" in str(lost)
    assert down.temporary and "no SMPP bind" in str(down)
    assert after and len(binds) == 4  # two binds, then both again once the SMSC was back


# -- the codec's edges ----------------------------------------------------------------


def test_parts_never_split_an_escape_sequence_or_a_surrogate_pair() -> None:
    gsm = "a" * 152 + "€" + "b" * 10  # € takes two septets, at 153-154
    first, second = wire.text_parts(gsm, 7)
    assert first.data_coding == 0 and first.short_message[6:] == b"a" * 152
    assert second.short_message[6:] == b"\x1be" + b"b" * 10

    emoji = "ب" * 66 + "🗳" + "ب" * 10  # the ballot box takes units 67-68
    parts = wire.text_parts(emoji, 7)
    assert [len(p.short_message[6:]) // 2 for p in parts] == [66, 12]
    assert "".join(p.short_message[6:].decode("utf-16-be") for p in parts) == emoji


@pytest.mark.parametrize(
    ("text", "parts", "coding"),
    [("a" * 160, 1, 0), ("a" * 161, 2, 0), ("€" * 80, 1, 0), ("ب" * 70, 1, 8), ("ب" * 71, 2, 8), ("", 1, 0)],
)
def test_one_sms_holds_160_septets_or_70_ucs2_characters(text: str, parts: int, coding: int) -> None:
    got = wire.text_parts(text, 0)
    assert len(got) == parts and {p.data_coding for p in got} == {coding}


def test_receipt_texts_are_read_with_10_or_12_digit_dates_in_any_case() -> None:
    twelve = wire.parse_receipt(
        b"id:0A1B2C sub:001 dlvrd:001 submit date:250301120000 done date:250301120105 stat:DELIVRD "
        b"err:000 text:\x00\x06"
    )
    assert twelve == wire.Receipt(
        "0A1B2C", "DELIVRD", "000", datetime(2025, 3, 1, 12, 0), datetime(2025, 3, 1, 12, 1, 5)
    )
    ten = wire.parse_receipt(
        b"ID:77 SUB:001 DLVRD:000 SUBMIT DATE:2503011200 DONE DATE:2503011201 STAT:undeliv ERR:034"
    )
    assert (ten.message_id, ten.stat, ten.err, ten.done_date) == (
        "77",
        "UNDELIV",
        "034",
        datetime(2025, 3, 1, 12, 1),
    )
    assert not ten.delivered and ten.final


def test_receipt_tlvs_win_over_the_text_and_enroute_is_not_final() -> None:
    tlvs = {wire.TLV_RECEIPTED_MESSAGE_ID: b"abc\0", wire.TLV_MESSAGE_STATE: bytes([2])}
    receipt = wire.parse_receipt(b"id:999 stat:ENROUTE text:stat:UNDELIV", tlvs)
    assert (receipt.message_id, receipt.stat, receipt.delivered) == ("abc", "DELIVRD", True)
    assert not wire.parse_receipt(b"id:1 stat:ENROUTE text:stat:DELIVRD").final


def test_status_names_come_from_the_specification() -> None:
    assert wire.status_name(0x58) == "ESME_RTHROTTLED (0x00000058)"
    assert wire.status_name(0x14) == "ESME_RMSGQFUL (0x00000014)"
    assert wire.status_name(0x400) == "unknown status (0x00000400)"
    assert {0x58, 0x14} <= wire.TEMPORARY and 0x0B not in wire.TEMPORARY
