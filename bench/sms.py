#!/usr/bin/env python3
"""Invitations by SMS, measured end to end; prints JSON.

    .venv/bin/python bench/sms.py            # 20,000 voters
    .venv/bin/python bench/sms.py --quick    # 2,000 voters (what the test runs)

- ``credentials``: credentials issued per second (a fresh code from the OS
  RNG, ``x`` and ``P``, the code sealed), one core;
- ``import``: ``istifta electorate import`` of a CSV of N voters (phones
  parsed and checked, credentials issued, rows written) on SQLite, rows/s;
- ``queue``: invitations queued per second (one ``INSERT … SELECT``);
- ``dispatch_smpp``: the dispatcher sending those N invitations through the
  SMPP gateway (several binds) to a real SMPP server on loopback
  (``tests/smpp_peer``), every answer and delivery receipt written to the
  queue: messages/s until all are ``sent``, and until all are ``delivered``;
- ``gateway_smpp``: the SMPP gateway alone, without the queue (bench/smpp.py).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from tests.sms.smpp_peer import SmppPeer  # noqa: E402

import smpp as smpp_bench  # noqa: E402
from common import load_average, machine, say, sig  # noqa: E402
from istifta.crypto.credentials import credential_secret, new_code, public_credential  # noqa: E402
from istifta.electorate.importer import import_registrations  # noqa: E402
from istifta.electorate.sealing import load_code_box  # noqa: E402
from istifta.sms import queue  # noqa: E402
from istifta.sms.dispatch import Dispatcher, Texts  # noqa: E402
from istifta.sms.gateways.smpp import SmppGateway  # noqa: E402
from istifta.sms.settings import SmsSettings  # noqa: E402
from istifta.sms.templates import DEFAULTS  # noqa: E402
from istifta.store.referendums import Referendums  # noqa: E402
from istifta.testing import live_manifest  # noqa: E402

BINDS = 4
WINDOW = 100


def credentials_per_s(count: int, data: Path) -> dict[str, Any]:
    import os

    box = load_code_box(data)
    manifest_hash = bytes.fromhex("00" * 32)
    start = time.perf_counter()
    for _ in range(count):
        code = new_code(os.urandom)
        public_credential(credential_secret(manifest_hash, code))
        box.seal(code)
    seconds = time.perf_counter() - start
    return {"count": count, "seconds": sig(seconds), "per_s": sig(count / seconds)}


def voters_csv(count: int) -> bytes:
    lines = ["phone,region,language"]
    regions = ("Baghdad", "Basra", "Erbil", "Nineveh")
    languages = ("ar", "ckb", "en", "ar")
    lines += [f"077{n:08d},{regions[n % 4]},{languages[n % 4]}" for n in range(count)]
    return ("\n".join(lines) + "\n").encode()


def prepare(data: Path, count: int) -> tuple[Referendums, str, dict[str, Any]]:
    refs = Referendums.open(data)
    refs_slug = refs.create(live_manifest(slug="c24")).slug
    _trustees(refs, refs_slug)
    start = time.perf_counter()
    report = import_registrations(
        refs, refs_slug, io.BytesIO(voters_csv(count)), load_code_box(data), dry_run=False
    )
    seconds = time.perf_counter() - start
    refs.open_election(refs_slug)
    return (
        refs,
        refs_slug,
        {"rows": report.imported, "seconds": sig(seconds), "rows_per_s": sig(count / seconds)},
    )


def _trustees(refs: Referendums, slug: str) -> None:
    from nacl.public import PrivateKey

    from istifta.crypto.rng import SeededRandom
    from istifta.crypto.threshold import generate_trustee
    from istifta.trustee.files import TrusteeFile

    m = refs.manifest(slug)
    rng = SeededRandom("bench sms")
    generated = [
        generate_trustee(i, m.threshold, bytes.fromhex(m.manifest_hash), rng) for i in range(1, m.n + 1)
    ]
    refs.add_trustees(
        slug,
        [
            (TrusteeFile(m.manifest_hash, public, PrivateKey.generate().public_key).to_json(), f"trustee {i}")
            for i, (_, public) in enumerate(generated, 1)
        ],
    )


def queue_per_s(refs: Referendums, slug: str, count: int) -> dict[str, Any]:
    start = time.perf_counter()
    queued = queue.enqueue(
        refs.store, slug, "invitation", "smpp", {"ar": 1, "ckb": 1, "en": 1}, datetime.now(UTC)
    )
    seconds = time.perf_counter() - start
    assert queued == count, (queued, count)
    return {"queued": queued, "seconds": sig(seconds), "per_s": sig(queued / seconds)}


def dispatch_smpp(refs: Referendums, slug: str, data: Path, count: int) -> dict[str, Any]:
    with SmppPeer(log=False) as peer:
        settings = SmsSettings(
            gateway="smpp", smpp_port=peer.port, smpp_binds=BINDS, window=WINDOW, rate=1e9, data_dir=data
        )
        templates = {(kind, lang): t for kind, by in DEFAULTS.items() for lang, t in by.items()}
        texts = Texts(slug, "https://ist.iq", templates, {"ar": "استفتاء"}, {"ar": ""})
        dispatcher = Dispatcher(refs.store, slug, SmppGateway(settings), settings, load_code_box(data), texts)
        start = time.perf_counter()
        result = asyncio.run(dispatcher.run())
        sent = time.perf_counter() - start
        while (
            queue.counts(refs.store, slug).by_state["delivered"] < count and time.perf_counter() - start < 120
        ):
            time.sleep(0.05)
        delivered = queue.counts(refs.store, slug).by_state["delivered"]
        done = time.perf_counter() - start
    return {
        "messages": count,
        "binds": BINDS,
        "window": WINDOW,
        "sent": result.sent,
        "delivered_recorded": delivered,
        "send_seconds": sig(sent),
        "messages_per_s": sig(result.sent / sent),
        "delivered_per_s": sig(delivered / done),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voters", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 voters")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.voters
    started, before = time.perf_counter(), load_average()
    with tempfile.TemporaryDirectory(prefix="istifta-bench-sms-") as folder:
        data = Path(folder) / "data"
        say(f"issuing {count:,} credentials…")
        credentials = credentials_per_s(count, data)
        say(f"importing {count:,} voters…")
        refs, slug, imported = prepare(data, count)
        try:
            say("queuing invitations…")
            queued = queue_per_s(refs, slug, count)
            say(f"sending {count:,} through SMPP ({BINDS} binds)…")
            dispatched = dispatch_smpp(refs, slug, data, count)
        finally:
            refs.close_store()
    say("the SMPP gateway alone…")
    gateway = smpp_bench.measure(messages=count * 2, binds=BINDS)
    gateway.pop("machine", None)
    result = {
        "machine": {**machine(), "load_before": before, "load_after": load_average()},
        "credentials": credentials,
        "import": imported,
        "queue": queued,
        "dispatch_smpp": dispatched,
        "gateway_smpp": gateway,
        "elapsed_s": sig(time.perf_counter() - started),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
