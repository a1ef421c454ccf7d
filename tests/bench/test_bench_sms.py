"""bench/sms.py --quick: credentials issued, voters imported, invitations queued
and sent through the SMPP gateway to a real SMPP server, every figure there.
Speed is never asserted (bench/ is where it is read); what holds on any
machine is that every invitation was sent and its delivery receipt recorded."""

from __future__ import annotations

from .runner import run_bench


def test_the_sms_benchmark_sends_every_invitation_and_reports_every_figure() -> None:
    report = run_bench("sms.py", "--quick")
    assert report["credentials"]["count"] == 2000 and report["credentials"]["per_s"] > 0
    assert report["import"]["rows"] == 2000 and report["queue"]["queued"] == 2000
    sent = report["dispatch_smpp"]
    assert sent["sent"] == sent["delivered_recorded"] == 2000 and sent["messages_per_s"] > 0
    assert report["gateway_smpp"]["messages"] == 4000 and report["gateway_smpp"]["receipts_per_s"] > 0
