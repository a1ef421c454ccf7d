"""The dispatch queue with the package's fake gateway, on each store:
invitations once each, the rate honoured, retries then success, permanent
failures recorded, delivery reports matched, reminders only to non-voters,
stop and resume, and what a crash leaves settled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from istifta.crypto.rng import SeededRandom
from istifta.electorate.sealing import load_code_box
from istifta.errors import GatewayError, WrongState
from istifta.protocol.ballot import build_ballot
from istifta.sms import queue
from istifta.sms.dispatch import Dispatcher, Texts
from istifta.sms.gateways.fake import FakeGateway
from istifta.sms.settings import SmsSettings
from istifta.sms.templates import DEFAULTS
from istifta.store.models import SmsMessage
from istifta.store.referendums import Referendums
from istifta.testing import Opened, live_manifest, open_referendum

VOTERS = 12
ONE_SEGMENT = {"ar": 1, "ckb": 1, "en": 1}


@pytest.fixture
def opened(tmp_path: Path, store_url: str | None) -> Iterator[tuple[Referendums, Opened]]:
    refs = Referendums.open(tmp_path / "data", store_url)
    box = load_code_box(tmp_path / "data")
    o = open_referendum(refs, live_manifest(), VOTERS, (), SeededRandom("sms"), box, ("ar", "ckb", "en"))
    yield refs, o
    refs.close_store()


def texts(slug: str) -> Texts:
    templates = {(kind, lang): t for kind, by in DEFAULTS.items() for lang, t in by.items()}
    return Texts(slug, "https://ist.iq", templates, {"ar": "استفتاء"}, {"ar": "٢١ كانون الثاني"})


def dispatcher(refs: Referendums, o: Opened, gateway: FakeGateway, **settings: object) -> Dispatcher:
    config = SmsSettings(**{"rate": 1000.0, "window": 4, "retry_seconds": 0.01, **settings})  # type: ignore[arg-type]
    return Dispatcher(refs.store, o.slug, gateway, config, load_code_box(refs.data_dir), texts(o.slug))


def states(refs: Referendums) -> dict[str, int]:
    return {k: v for k, v in queue.counts(refs.store, "test-referendum").by_state.items() if v}


def invite(refs: Referendums, o: Opened) -> int:
    return queue.enqueue(refs.store, o.slug, "invitation", "fake", ONE_SEGMENT, datetime.now(UTC))


def test_every_voter_gets_their_own_link_once(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    assert invite(refs, o) == VOTERS
    assert invite(refs, o) == 0  # queued twice: nothing more
    gateway = FakeGateway()
    result = asyncio.run(dispatcher(refs, o, gateway).run())
    assert result.sent == VOTERS and states(refs) == {"sent": VOTERS}
    links = sorted(m.text.rsplit("#", 1)[1] for m in gateway.sent)
    assert links == sorted(o.codes)  # each voter's own code, in the fragment
    by_phone = {m.phone: m.text for m in gateway.sent}
    assert by_phone["+9647700000000"].startswith("للتصويت")  # voter 1 reads Arabic
    assert by_phone["+9647700000001"].startswith("دەنگ بدە")  # voter 2 Sorani
    assert by_phone["+9647700000002"].startswith("Your personal link")
    assert queue.counts(refs.store, o.slug).segments == VOTERS


def test_the_rate_is_honoured(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    invite(refs, o)
    gateway = FakeGateway()
    asyncio.run(dispatcher(refs, o, gateway, rate=40.0).run())
    times = gateway.send_times
    assert len(times) == VOTERS
    assert times[-1] - times[0] >= (VOTERS - 1) / 40.0 * 0.95  # never faster than 40 a second


def test_a_temporary_error_is_retried_then_succeeds(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    invite(refs, o)
    gateway = FakeGateway()
    first = _ids(refs)[0]
    gateway.fail_next(first, GatewayError("ESME_RTHROTTLED", temporary=True), GatewayError("link down", True))
    result = asyncio.run(dispatcher(refs, o, gateway).run())
    assert result.retried == 2 and states(refs) == {"sent": VOTERS}
    assert _row(refs, first).attempts == 2


def test_errors_that_persist_or_are_permanent_are_recorded(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    invite(refs, o)
    gateway = FakeGateway()
    ids = _ids(refs)
    gateway.fail_next(ids[0], GatewayError("ESME_RINVDSTADR (0x0000000B)", temporary=False))
    gateway.fail_next(ids[1], *(GatewayError("ESME_RTHROTTLED", temporary=True) for _ in range(3)))
    asyncio.run(dispatcher(refs, o, gateway, max_attempts=3).run())
    assert states(refs) == {"sent": VOTERS - 2, "failed": 2}
    assert _row(refs, ids[0]).error == "ESME_RINVDSTADR (0x0000000B)"
    assert "gave up after 3 attempts" in (_row(refs, ids[1]).error or "")


def test_delivery_reports_are_matched_to_their_messages(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    invite(refs, o)
    ids = _ids(refs)
    gateway = FakeGateway(reports={ids[0]: (True, None), ids[1]: (False, "stat:UNDELIV err:001")})
    result = asyncio.run(dispatcher(refs, o, gateway).run())
    assert result.reports == 2
    rows = _rows(refs)
    assert (rows[0].state, rows[1].state, rows[1].error) == ("delivered", "failed", "stat:UNDELIV err:001")
    assert states(refs) == {"delivered": 1, "failed": 1, "sent": VOTERS - 2}


def test_reminders_go_only_to_voters_without_a_ballot(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    for voter in (0, 3):
        refs.cast(o.slug, build_ballot(o.params, o.codes[voter], [[0]], SeededRandom("b")).to_json())
    round_ = queue.next_reminder_round(refs.store, o.slug)
    assert (
        queue.enqueue(refs.store, o.slug, "reminder", "fake", ONE_SEGMENT, datetime.now(UTC), round_)
        == VOTERS - 2
    )
    gateway = FakeGateway()
    asyncio.run(dispatcher(refs, o, gateway).run())
    reminded = {m.text.rsplit("#", 1)[1] for m in gateway.sent}
    assert reminded == set(o.codes) - {o.codes[0], o.codes[3]}
    assert queue.next_reminder_round(refs.store, o.slug) == 2


def test_stop_holds_the_queue_and_resume_releases_it(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    invite(refs, o)
    assert queue.hold(refs.store, o.slug) == VOTERS
    gateway = FakeGateway()
    asyncio.run(dispatcher(refs, o, gateway).run())
    assert gateway.sent == [] and states(refs) == {"held": VOTERS}
    assert queue.release(refs.store, o.slug) == VOTERS
    asyncio.run(dispatcher(refs, o, gateway).run())
    assert len(gateway.sent) == VOTERS


@pytest.mark.parametrize(("idempotent", "after"), [(False, "in_doubt"), (True, "sent")])
def test_messages_a_crash_left_in_flight_are_never_sent_twice_blindly(
    opened: tuple[Referendums, Opened], idempotent: bool, after: str
) -> None:
    refs, o = opened
    invite(refs, o)
    ids = _ids(refs)
    with refs.store.session() as session, session.begin():  # a dispatcher died after claiming two
        session.execute(update(SmsMessage).where(SmsMessage.id.in_(ids[:2])).values(state="sending"))
    gateway = FakeGateway(idempotent=idempotent)
    result = asyncio.run(dispatcher(refs, o, gateway).run())
    assert result.recovered == 2
    assert {_row(refs, i).state for i in ids[:2]} == {after}
    assert len(gateway.sent) == (VOTERS if idempotent else VOTERS - 2)


def test_a_voter_can_be_sent_their_link_again(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    first = queue.resend(refs.store, o.slug, "+9647700000004", "fake", lambda _: 1, datetime.now(UTC))
    second = queue.resend(refs.store, o.slug, "+9647700000004", "fake", lambda _: 1, datetime.now(UTC))
    assert first != second
    gateway = FakeGateway()
    asyncio.run(dispatcher(refs, o, gateway).run())
    assert [m.text.rsplit("#", 1)[1] for m in gateway.sent] == [o.codes[4], o.codes[4]]


def test_nothing_is_queued_after_close(opened: tuple[Referendums, Opened]) -> None:
    refs, o = opened
    refs.close(o.slug)
    with pytest.raises(WrongState, match="invitations go out only while it is open"):
        invite(refs, o)


def _rows(refs: Referendums) -> list[SmsMessage]:
    with refs.store.session() as session:
        return list(session.execute(select(SmsMessage).order_by(SmsMessage.id)).scalars())


def _ids(refs: Referendums) -> list[int]:
    return [row.id for row in _rows(refs)]


def _row(refs: Referendums, message_id: int) -> SmsMessage:
    return next(r for r in _rows(refs) if r.id == message_id)
