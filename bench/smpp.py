#!/usr/bin/env python3
"""The SMPP gateway's throughput against a real SMPP server on loopback; prints JSON.

    .venv/bin/python bench/smpp.py                          # 20,000 messages over 4 binds
    .venv/bin/python bench/smpp.py --messages 50000 --binds 2
    .venv/bin/python bench/smpp.py --quick                  # 2,000 messages, a few seconds

The server is the test peer (``tests/smpp_peer/server.mjs``, the npm ``smpp``
package under Node.js; ``scripts/setup`` installs it), answering every
submit_sm at once and sending a delivery receipt for each, without logging.
``SmppGateway`` binds ``binds`` transceivers with a window of 100 each; the
run sends ``messages`` short Arabic texts (UCS-2, one segment each) to
distinct numbers through ``send``, all at once as the dispatcher would with
no rate limit, and waits for every receipt.

- ``seconds``: from the first send to the last receipt; ``send_seconds``:
  to the last ``send`` returning (the SMSC's submit_sm_resp).
- ``messages_per_s``: messages ÷ ``send_seconds``; ``receipts_per_s``:
  receipts ÷ ``seconds`` (the whole round trip).
- ``cpu_seconds``: this process's CPU time over the run (the gateway);
  ``peer_cpu_seconds``: the peer's (Node.js), on the same machine. Their sum
  near ``seconds`` × nproc means the run was CPU-bound; which is larger says
  whose CPU it was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from tests.sms.smpp_peer import SmppPeer  # noqa: E402

from common import load_average, machine, say, sig  # noqa: E402
from istifta.sms.gateways.base import DeliveryReport, Outgoing  # noqa: E402
from istifta.sms.gateways.smpp import SmppGateway  # noqa: E402
from istifta.sms.settings import SmsSettings  # noqa: E402

WINDOW = 100
TEXT = "رمز التصويت الخاص بك في الاستفتاء: https://istifta.iq/v/ABCD#{n:06d}"


async def _run(peer: SmppPeer, messages: int, binds: int) -> dict[str, Any]:
    settings = SmsSettings(
        gateway="smpp", smpp_port=peer.port, smpp_binds=binds, window=WINDOW, rate=float("inf")
    )
    received: set[str] = set()
    all_in = asyncio.Event()

    async def on_report(report: DeliveryReport) -> None:
        assert report.delivered, report
        received.add(report.gateway_id)
        if len(received) == messages:
            all_in.set()

    gateway = SmppGateway(settings)
    await gateway.start(on_report)
    outgoing = [Outgoing(n, f"+96477{n:08d}", TEXT.format(n=n)) for n in range(messages)]
    cpu, peer_cpu, start = time.process_time(), peer.cpu_seconds(), time.perf_counter()
    ids = await asyncio.gather(*(gateway.send(m) for m in outgoing))
    sent = time.perf_counter()
    await asyncio.wait_for(all_in.wait(), timeout=60 + messages / 100)
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    peer_cpu = (peer.cpu_seconds() or 0.0) - peer_cpu if peer_cpu is not None else None
    await gateway.stop()
    assert len(set(ids)) == messages and received == set(ids), "a receipt was lost or unmatched"
    return {
        "messages": messages,
        "binds": binds,
        "window": WINDOW,
        "seconds": sig(done - start),
        "send_seconds": sig(sent - start),
        "messages_per_s": sig(messages / (sent - start)),
        "receipts_per_s": sig(messages / (done - start)),
        "cpu_seconds": sig(cpu),
        "peer_cpu_seconds": sig(peer_cpu) if peer_cpu is not None else None,
    }


def measure(messages: int = 20_000, binds: int = 4) -> dict[str, Any]:
    """Send ``messages`` through ``binds`` binds to a fresh peer; the figures as a dict."""
    before = load_average()
    with SmppPeer(log=False) as peer:
        say(f"sending {messages:,} messages over {binds} binds (window {WINDOW}) to the peer on {peer.port}")
        figures = asyncio.run(_run(peer, messages, binds))
    return {**figures, "machine": {**machine(), "load_before": before, "load_after": load_average()}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--binds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="2,000 messages: a few seconds")
    args = parser.parse_args()
    messages = 2_000 if args.quick else args.messages
    print(json.dumps(measure(messages, args.binds), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
