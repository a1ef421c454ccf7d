"""Kill -9 the dispatcher (``istifta sms send``) mid-run, start it again, and
check that no invitation is lost and none is sent twice: through the outbox
(idempotent: what was in flight is sent again and the gateway keeps one
copy), and through an HTTP gateway that does not deduplicate (what was in
flight is marked in doubt, never resent blindly)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from istifta.crypto.rng import SeededRandom
from istifta.electorate.sealing import load_code_box
from istifta.sms import queue
from istifta.store.referendums import Referendums
from istifta.testing import live_manifest, open_referendum

VOTERS = 300


def prepare(data: Path) -> str:
    refs = Referendums.open(data)
    try:
        manifest = live_manifest(slug="c24")  # a short slug: the link fits one segment
        o = open_referendum(refs, manifest, VOTERS, (), SeededRandom("crash"), load_code_box(data))
        return o.slug
    finally:
        refs.close_store()


def istifta(data: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from istifta.cli import main; main()", *args, "--data-dir", str(data)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ISTIFTA_")}
    clean["ISTIFTA_SMS_LINK_BASE"] = "https://ist.iq"
    return subprocess.Popen(command, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[bytes]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


def kill_when(process: subprocess.Popen[bytes], ready: object) -> None:
    deadline = time.monotonic() + 60
    while not ready():  # type: ignore[operator]
        assert process.poll() is None, process.communicate()[1].decode()
        assert time.monotonic() < deadline, "the dispatcher never got going"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()


def states(data: Path, slug: str) -> dict[str, int]:
    refs = Referendums.open(data)
    try:
        return {k: v for k, v in queue.counts(refs.store, slug).by_state.items() if v}
    finally:
        refs.close_store()


def test_the_outbox_after_a_kill_has_every_invitation_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    slug = prepare(data)
    env = {"ISTIFTA_SMS_GATEWAY": "outbox", "ISTIFTA_SMS_RATE": "300", "ISTIFTA_SMS_WINDOW": "8"}
    finish(istifta(data, env, "sms", "invite", slug))
    outbox = data / "outbox.jsonl"

    def lines() -> int:
        return len(outbox.read_bytes().splitlines()) if outbox.exists() else 0

    kill_when(istifta(data, env, "sms", "send", slug), lambda: lines() >= 60)
    assert lines() < VOTERS, "the dispatcher finished before it was killed: nothing was tested"
    report = finish(istifta(data, env, "sms", "send", slug))
    ids = [json.loads(line)["id"] for line in outbox.read_bytes().splitlines()]
    assert len(ids) == VOTERS and len(set(ids)) == VOTERS
    after = states(data, slug)
    # Delivery reports handed over when the kill came are lost with the process: those
    # messages stay "sent" (they were), and none is queued, in flight or in doubt.
    assert set(after) <= {"sent", "delivered"} and sum(after.values()) == VOTERS
    assert "recovered after a stop" in report


class Recorder(BaseHTTPRequestHandler):
    received: Counter[str] = Counter()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Recorder.received[body["reference"]] += 1
        answer = json.dumps({"id": f"gw-{body['reference']}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.received = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send"
    server.shutdown()
    server.server_close()


def test_a_gateway_without_deduplication_never_gets_a_message_twice(tmp_path: Path, recorder: str) -> None:
    data = tmp_path / "data"
    slug = prepare(data)
    env = {
        "ISTIFTA_SMS_GATEWAY": "http",
        "ISTIFTA_SMS_HTTP_URL": recorder,
        "ISTIFTA_SMS_RATE": "300",
        "ISTIFTA_SMS_WINDOW": "8",
    }
    finish(istifta(data, env, "sms", "invite", slug))
    kill_when(istifta(data, env, "sms", "send", slug), lambda: sum(Recorder.received.values()) >= 60)
    finish(istifta(data, env, "sms", "send", slug))
    received = Recorder.received
    assert max(received.values()) == 1  # nobody got the message twice
    by_state = message_states(data)
    sent = {i for i, state in by_state.items() if state == "sent"}
    doubt = {i for i, state in by_state.items() if state == "in_doubt"}
    assert sent | doubt == set(by_state) and len(by_state) == VOTERS  # none lost: sent, or flagged
    assert sent <= {int(r) for r in received}  # what istifta calls sent, the gateway got
    assert 0 < len(doubt) <= 8 + 50  # the window in flight and the answers not yet written at the kill


def message_states(data: Path) -> dict[int, str]:
    from sqlalchemy import select

    from istifta.store.models import SmsMessage

    refs = Referendums.open(data)
    try:
        with refs.store.session() as session:
            return dict(session.execute(select(SmsMessage.id, SmsMessage.state)).all())  # type: ignore[arg-type]
    finally:
        refs.close_store()
