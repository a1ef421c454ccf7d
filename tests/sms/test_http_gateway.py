"""The HTTP gateway against a real local HTTP server that records what it gets
and answers as each test scripts it."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from istifta.sms.gateways.base import DeliveryReport, GatewayError, Outgoing
from istifta.sms.gateways.http import HttpGateway
from istifta.sms.settings import Secret, SmsSettings, load_sms_settings

CODE = "0123456789ABCDEFGHJKMNPQRS"
PHONE = "+9647701234567"
TEXT = f'صوّت "نعم" أو "لا"\nالرابط: http://127.0.0.1:8000/test-referendum#{CODE} \\ {{id}}'
MESSAGE = Outgoing(42, PHONE, TEXT)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: str
    delay: float = 0.0


@dataclass
class Provider:
    """A provider's API: answers the scripted answers in turn (then 200 with an id)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def answer(self, status: int, body: object, delay: float = 0.0) -> None:
        self.answers.append(Answer(status, body if isinstance(body, str) else json.dumps(body), delay))

    def settings(self, **overrides: object) -> SmsSettings:
        url = Secret(f"{self.url}/send?key=k1")
        return SmsSettings(**{"http_url": url, "http_timeout": 2.0, **overrides})  # type: ignore[arg-type]


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            provider.received.append(Received(self.command, parts.path, parse_qs(parts.query), headers, body))
            answer = provider.answers.pop(0) if provider.answers else Answer(200, '{"id": "ok"}')
            if answer.delay and provider.stopping.wait(answer.delay):
                return
            data = answer.body.encode()
            try:
                self.send_response(answer.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the gateway gave up waiting

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # the concurrency test's connections all wait to be accepted


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    provider = Provider(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(provider)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield provider
    provider.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join()


async def _ignore(report: DeliveryReport) -> None:
    pass


def send(settings: SmsSettings, message: Outgoing = MESSAGE) -> str:
    async def go() -> str:
        gateway = HttpGateway(settings)
        await gateway.start(_ignore)
        try:
            return await gateway.send(message)
        finally:
            await gateway.stop()

    return asyncio.run(go())


def refused(settings: SmsSettings, message: Outgoing = MESSAGE) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        send(settings, message)
    error = caught.value
    for secret in (TEXT, CODE, PHONE, PHONE[1:], "صوّت"):
        assert secret not in str(error)
    return error


def test_a_json_body_arrives_exactly_with_its_headers(provider: Provider) -> None:
    provider.answer(200, {"id": "msg-7781"})
    settings = provider.settings(
        sender="istifta",
        http_headers=Secret('{"Authorization": "Bearer p4ss", "X-Account": "iq-1"}'),
        http_body='{"to": "{phone}", "from": "{sender}", "text": "{text}", "ref": "istifta {id}", "n": 1}',
    )

    assert send(settings) == "msg-7781"

    (got,) = provider.received
    assert (got.method, got.path, got.query) == ("POST", "/send", {"key": ["k1"]})
    assert json.loads(got.body) == {"to": PHONE, "from": "istifta", "text": TEXT, "ref": "istifta 42", "n": 1}
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["authorization"] == "Bearer p4ss"
    assert got.headers["x-account"] == "iq-1"
    assert got.headers["idempotency-key"] == "istifta-42"


def test_form_fields_arrive_exactly(provider: Provider) -> None:
    provider.answer(200, {"sid": "SM1"})
    settings = provider.settings(
        http_form=True, http_id_field="sid", http_body='{"To": "{phone}", "Body": "{text}", "Ref": "{id}"}'
    )

    assert send(settings) == "SM1"

    (got,) = provider.received
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(got.body.decode()) == {"To": [PHONE], "Body": [TEXT], "Ref": ["42"]}
    assert got.headers["idempotency-key"] == "istifta-42"


def test_a_get_gateway_takes_the_fields_in_its_query(provider: Provider) -> None:
    provider.answer(200, {"id": 5})
    settings = provider.settings(http_method="GET", http_body='{"to": "{phone}", "msg": "{text}"}')

    assert send(settings) == "5"
    (got,) = provider.received
    assert got.method == "GET"
    assert got.query == {"key": ["k1"], "to": [PHONE], "msg": [TEXT]}


def test_the_id_is_found_by_a_dotted_path(provider: Provider) -> None:
    provider.answer(201, {"data": {"id": 99102, "status": "queued"}})
    provider.answer(200, {"message-count": "1", "messages": [{"message-id": "0A0000001234", "status": "0"}]})

    assert send(provider.settings(http_id_field="data.id")) == "99102"
    assert send(provider.settings(http_id_field="messages.0.message-id")) == "0A0000001234"


def test_an_answer_without_the_id_is_refused_for_good_naming_the_field(provider: Provider) -> None:
    provider.answer(200, {"data": {"status": "queued"}})
    provider.answer(200, "<html>OK</html>")

    missing = refused(provider.settings(http_id_field="data.id"))
    not_json = refused(provider.settings(http_id_field="data.id"))

    for error in (missing, not_json):
        assert not error.temporary
        assert "data.id" in str(error) and "ISTIFTA_SMS_HTTP_ID_FIELD" in str(error)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_throttling_and_server_errors_are_temporary(provider: Provider, status: int) -> None:
    provider.answer(status, {"error": "try later"})

    error = refused(provider.settings())

    assert error.temporary
    assert f"HTTP {status}" in str(error)
    assert len(provider.received) == 1  # no retry of its own: the dispatcher decides


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_refusals_are_permanent_and_keep_the_text_and_phone_out(
    provider: Provider, status: int
) -> None:
    echo = {"error": "invalid destination", "to": PHONE, "text": TEXT, "padding": "x" * 500}
    provider.answer(status, echo)

    error = refused(provider.settings())

    assert not error.temporary
    assert f"HTTP {status}" in str(error)
    assert "invalid destination" in str(error)
    assert len(error.reason) < 300  # the status line and at most 200 characters of the answer


def test_a_gateway_too_slow_to_answer_is_a_temporary_error(provider: Provider) -> None:
    provider.answer(200, {"id": "late"}, delay=5.0)

    error = refused(provider.settings(http_timeout=0.3))

    assert error.temporary
    assert "0.3 s" in str(error)


def test_a_gateway_that_is_down_is_a_temporary_error(provider: Provider) -> None:
    down = SmsSettings(http_url=Secret("http://127.0.0.1:9/send"))  # the discard port: nothing listens

    error = refused(down)

    assert error.temporary
    assert "127.0.0.1" in str(error)


def test_messages_can_be_sent_concurrently_over_one_gateway(provider: Provider) -> None:
    async def go() -> list[str]:
        gateway = HttpGateway(provider.settings(http_body='{"text": "{text}", "ref": "{id}"}'))
        await gateway.start(_ignore)
        sent = await asyncio.gather(*(gateway.send(Outgoing(i, PHONE, f"text {i}")) for i in range(20)))
        await gateway.stop()
        return sent

    assert asyncio.run(go()) == ["ok"] * 20
    refs = sorted(int(json.loads(r.body)["ref"]) for r in provider.received)
    assert refs == list(range(20))


def test_idempotence_comes_from_the_settings() -> None:
    url = Secret("https://sms.example/send")
    assert HttpGateway(SmsSettings(http_url=url)).idempotent is False
    assert HttpGateway(SmsSettings(http_url=url, http_idempotent=True)).idempotent is True


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"http_url": Secret("")}, "ISTIFTA_SMS_HTTP_URL is empty"),
        ({"http_url": Secret("ftp://sms.example/")}, "http:// or https://"),
        ({"http_headers": Secret("Authorization: x")}, "ISTIFTA_SMS_HTTP_HEADERS is not JSON"),
        ({"http_headers": Secret('{"X-N": 1}')}, "object of strings"),
        ({"http_body": '{"to": "{phone}", "text": "{txt}"}'}, "unknown placeholder {txt}"),
        ({"http_body": '{"to": "{phone}",}'}, "ISTIFTA_SMS_HTTP_BODY is not JSON"),
        ({"http_body": '["{phone}"]'}, "must be a JSON object"),
        ({"http_form": True, "http_body": '{"to": {"n": "{phone}"}}'}, "strings or numbers"),
    ],
)
def test_bad_settings_are_refused_when_the_gateway_is_made(overrides: dict[str, object], says: str) -> None:
    settings = SmsSettings(**{"http_url": Secret("https://sms.example/send"), **overrides})  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=re.escape(says)):
        HttpGateway(settings)


def test_the_url_and_the_headers_are_secrets_no_repr_shows(provider: Provider) -> None:
    settings = load_sms_settings(
        {
            "ISTIFTA_SMS_HTTP_URL": f"{provider.url}/send?api_key=k3y-in-the-url",
            "ISTIFTA_SMS_HTTP_HEADERS": '{"Authorization": "Bearer h3ader-secret"}',
        }
    )

    for shown in (repr(settings), str(settings), f"{settings}"):
        assert "k3y-in-the-url" not in shown and "h3ader-secret" not in shown
        assert provider.url not in shown
    assert send(settings) == "ok"
    (got,) = provider.received
    assert got.query == {"api_key": ["k3y-in-the-url"]}
    assert got.headers["authorization"] == "Bearer h3ader-secret"
