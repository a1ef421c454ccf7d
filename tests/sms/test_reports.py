"""Delivery reports: recorded on the message they name, once, by the dispatcher
or by the HTTP gateway's webhook."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from istifta.sms.gateways.base import DeliveryReport
from istifta.sms.reports import record_report
from istifta.sms.settings import Secret, SmsSettings, load_sms_settings
from istifta.store.db import Store, open_store
from istifta.store.models import Election, SmsMessage
from istifta.store.referendums import Referendums
from istifta.web.app import create_app
from istifta.web.settings import WebSettings

SENT_AT = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
NOW = SENT_AT + timedelta(minutes=3)
TOKEN = "s3cret-report-token-of-32-characters"
WEBHOOK = "/api/sms/reports/http"


def queue(store: Store, *rows: tuple[str, str | None, str]) -> None:
    """An election and one message per ``(gateway, gateway_id, state)``."""
    with store.session() as session, session.begin():
        election = Election(
            slug="r", manifest="{}", manifest_hash="0" * 64, state="open", created_at=SENT_AT, board_size=0
        )
        session.add(election)
        session.flush()
        for number, (gateway, gateway_id, state) in enumerate(rows, 1):
            session.add(
                SmsMessage(
                    election_id=election.id,
                    number=number,
                    kind="invitation",
                    round=0,
                    gateway=gateway,
                    state=state,
                    segments=1,
                    attempts=1,
                    next_attempt_at=SENT_AT,
                    gateway_id=gateway_id,
                    created_at=SENT_AT,
                    sent_at=SENT_AT,
                )
            )


def message(store: Store, gateway_id: str) -> tuple[str, str | None, bool]:
    """The message's state, error, and whether it is marked done."""
    with store.session() as session:
        row = session.query(SmsMessage).filter_by(gateway_id=gateway_id).one()
        return row.state, row.error, row.done_at is not None


@pytest.fixture
def store(tmp_path: Path, store_url: str | None) -> Iterator[Store]:
    store = open_store(tmp_path / "data", store_url)
    queue(
        store,
        ("http", "g-sent", "sent"),
        ("http", "g-doubt", "in_doubt"),
        ("http", "g-done", "delivered"),
        ("smpp", "g-other", "sent"),
    )
    yield store
    store.close()


def test_a_delivered_report_finishes_a_sent_message(store: Store) -> None:
    assert record_report(store, "http", DeliveryReport("g-sent", delivered=True), NOW) is True

    assert message(store, "g-sent") == ("delivered", None, True)
    with store.session() as session:
        done_at = session.query(SmsMessage.done_at).filter_by(gateway_id="g-sent").scalar()
    assert done_at is not None and done_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)


def test_a_failed_report_finishes_a_message_in_doubt_with_the_networks_error(store: Store) -> None:
    assert record_report(store, "http", DeliveryReport("g-doubt", False, "absent subscriber"), NOW) is True

    assert message(store, "g-doubt") == ("failed", "absent subscriber", True)


def test_a_report_for_a_finished_message_changes_nothing(store: Store) -> None:
    assert record_report(store, "http", DeliveryReport("g-done", False, "expired"), NOW) is True

    assert message(store, "g-done") == ("delivered", None, False)


def test_a_report_matches_only_its_own_gateways_ids(store: Store) -> None:
    assert record_report(store, "http", DeliveryReport("g-other", delivered=True), NOW) is False
    assert record_report(store, "http", DeliveryReport("g-unknown", delivered=True), NOW) is False

    assert message(store, "g-other") == ("sent", None, False)


@dataclass
class Webhook:
    client: TestClient
    store: Store


def webhook(tmp_path: Path, token: str) -> Iterator[Webhook]:
    refs = Referendums.open(tmp_path / "data", clock=lambda: NOW)
    queue(refs.store, ("http", "g-1", "sent"), ("http", "g-2", "sent"), ("smpp", "g-3", "sent"))
    app = create_app(
        WebSettings(data_dir=tmp_path / "data"), refs, SmsSettings(http_report_token=Secret(token))
    )
    with TestClient(app) as client:
        yield Webhook(client, refs.store)
    refs.close_store()


@pytest.fixture
def hook(tmp_path: Path) -> Iterator[Webhook]:
    yield from webhook(tmp_path, TOKEN)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_webhook_records_a_report_given_the_token(hook: Webhook) -> None:
    answer = hook.client.post(WEBHOOK, json={"id": "g-1", "status": "DELIVERED"}, headers=bearer(TOKEN))

    assert answer.status_code == 200
    assert answer.json() == {"matched": True, "final": True}
    assert message(hook.store, "g-1") == ("delivered", None, True)


def test_the_webhook_takes_form_fields(hook: Webhook) -> None:
    fields = {"id": "g-2", "status": "undelivered", "error": "absent subscriber"}

    answer = hook.client.post(WEBHOOK, data=fields, headers=bearer(TOKEN))

    assert answer.json() == {"matched": True, "final": True}
    assert message(hook.store, "g-2") == ("failed", "absent subscriber", True)


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("", {}),
        ("", bearer("wrong")),
        ("", bearer(TOKEN + "x")),
        ("", bearer("")),
        ("", {"Authorization": TOKEN}),
        ("?token=wrong", {}),
        ("?token=تصويت", {}),
        (f"?token={TOKEN}", {}),  # the query string is never read
        (f"?token={TOKEN}", bearer("wrong")),
        (f"?token={TOKEN}", bearer(TOKEN)),  # a token in the address is refused, even beside the header
    ],
)
def test_the_webhook_refuses_a_wrong_or_missing_token(
    hook: Webhook, query: str, headers: dict[str, str]
) -> None:
    answer = hook.client.post(WEBHOOK + query, json={"id": "g-1", "status": "delivered"}, headers=headers)

    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert message(hook.store, "g-1") == ("sent", None, False)


def test_a_token_in_the_query_string_is_refused_saying_to_send_it_in_the_header(hook: Webhook) -> None:
    answer = hook.client.post(f"{WEBHOOK}?token={TOKEN}", json={"id": "g-1", "status": "delivered"})

    assert answer.status_code == 401
    assert "Authorization: Bearer" in answer.json()["message"]
    assert "not in the address" in answer.json()["message"]
    assert TOKEN not in answer.text
    assert message(hook.store, "g-1") == ("sent", None, False)


@pytest.mark.parametrize("length", [4, 20, 31])
def test_a_report_token_shorter_than_32_characters_is_refused_at_load(length: int) -> None:
    short = TOKEN[:length]
    with pytest.raises(ValueError) as refused:
        load_sms_settings({"ISTIFTA_SMS_HTTP_REPORT_TOKEN": short})

    said = str(refused.value)
    assert f"ISTIFTA_SMS_HTTP_REPORT_TOKEN has {length} characters" in said and "32 or more" in said
    assert short not in said


def test_a_report_token_of_32_characters_or_none_is_accepted() -> None:
    assert load_sms_settings({"ISTIFTA_SMS_HTTP_REPORT_TOKEN": "t" * 32}).http_report_token.value == "t" * 32
    assert not load_sms_settings({}).http_report_token


def test_the_webhook_is_off_without_a_configured_token(tmp_path: Path) -> None:
    for off in webhook(tmp_path, ""):
        answer = off.client.post(WEBHOOK, json={"id": "g-1", "status": "delivered"}, headers=bearer(""))

        assert answer.status_code == 403
        assert answer.json()["code"] == "reports_disabled"
        assert message(off.store, "g-1") == ("sent", None, False)


def test_an_unknown_id_is_answered_unmatched(hook: Webhook) -> None:
    for gateway_id in ("g-nope", "g-3"):  # g-3 belongs to another gateway
        answer = hook.client.post(
            WEBHOOK, json={"id": gateway_id, "status": "delivered"}, headers=bearer(TOKEN)
        )

        assert answer.json() == {"matched": False, "final": True}
    assert message(hook.store, "g-3") == ("sent", None, False)


def test_a_second_report_changes_nothing(hook: Webhook) -> None:
    hook.client.post(WEBHOOK, json={"id": "g-1", "status": "delivered"}, headers=bearer(TOKEN))

    again = hook.client.post(
        WEBHOOK, json={"id": "g-1", "status": "failed", "error": "x"}, headers=bearer(TOKEN)
    )

    assert again.json() == {"matched": True, "final": True}
    assert message(hook.store, "g-1") == ("delivered", None, True)


def test_a_status_that_is_not_final_is_acknowledged_without_effect(hook: Webhook) -> None:
    answer = hook.client.post(WEBHOOK, json={"id": "g-1", "status": "accepted"}, headers=bearer(TOKEN))

    assert answer.json() == {"matched": False, "final": False}
    assert message(hook.store, "g-1") == ("sent", None, False)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"status": "delivered"}, "id:"),
        ({"id": "g-1"}, "status:"),
        ({"id": "g-1", "status": "failed", "error": 5}, "error:"),
        (["g-1", "delivered"], "JSON object"),
    ],
)
def test_a_malformed_report_is_refused_saying_what_is_wrong(hook: Webhook, body: object, says: str) -> None:
    answer = hook.client.post(WEBHOOK, json=body, headers=bearer(TOKEN))

    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_request"
    assert says in answer.json()["message"]


def test_an_oversized_report_is_refused(hook: Webhook) -> None:
    body = {"id": "g-1", "status": "delivered", "error": "x" * 20_000}

    answer = hook.client.post(WEBHOOK, json=body, headers=bearer(TOKEN))

    assert answer.status_code == 413
    assert message(hook.store, "g-1") == ("sent", None, False)
