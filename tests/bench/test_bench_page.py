"""bench/page.py --quick drives Debian's Chromium through the ballot page and
reports every figure. Speed is never asserted here (bench/ is where it is
read); what holds on any machine is: the figures are there and positive, the
first load fetched HTML, script, stylesheet and the API's JSON, and each
timed run ended with a cast ballot."""

from __future__ import annotations

from .runner import run_bench


def test_the_page_benchmark_reports_every_figure() -> None:
    report = run_bench("page.py", "--quick")
    load = report["first_load"]
    assert set(load["bytes_by_kind"]) >= {"html", "script", "stylesheet", "api_json"}
    assert all(n > 0 for n in load["bytes_by_kind"].values())
    assert load["total_bytes"] == sum(load["bytes_by_kind"].values())
    cpu = report["cpu_6x"]
    figures = [
        cpu["click_to_ballot_ms"]["cold"],
        cpu["click_to_ballot_ms"]["warm"],
        cpu["build_only_ms"]["warm"],
        cpu["time_to_ready_ms"],
        cpu["time_to_credential_checked_ms"],
        report["slow_network"]["time_to_ready_ms"],
    ]
    for f in figures:
        assert f["repeats"] == 2 and 0 < f["min"] <= f["median"] <= f["max"]
    assert cpu["time_to_ready_ms"]["median"] < cpu["time_to_credential_checked_ms"]["median"]
