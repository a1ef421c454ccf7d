#!/usr/bin/env python3
"""The ballot page on a slow phone, measured in Debian's Chromium; prints JSON.

    .venv/bin/python bench/page.py            # 7 repeats of each measurement
    .venv/bin/python bench/page.py --quick    # 2 repeats (what the test runs)

- ``first_load``: bytes on the wire (compressed, headers excluded) for the
  ballot page's first load, by kind: the HTML (translations are in it), the
  script, the stylesheet, and the JSON the page fetches; budget 50 KB.
- ``cpu_6x``: with the CPU throttled 6× (Chrome's "low-end mobile"):
  ``click_to_ballot_ms``, from the voter's click on "cast" to the yes/no
  ballot encrypted, proven and signed, ready to send (budget 150 ms), both
  right after the page is ready (``cold``: the warm-up may still be running)
  and after the warm-up (``warm``: a voter reading the question for a second);
  ``time_to_ready_ms``, from navigation to the ballot form shown and usable
  (budget 1.5 s); and ``time_to_credential_checked_ms``, until the page has
  derived the credential and checked it in the electorate (a click before
  that waits for it). ``slow_network`` repeats both over an emulated 3G link
  (400 ms round trip, 400 kbit/s each way).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn  # noqa: E402
from playwright.sync_api import Browser, CDPSession, Page, sync_playwright  # noqa: E402

from common import figure, load_average, machine, say, sig  # noqa: E402
from istifta.crypto.rng import SeededRandom  # noqa: E402
from istifta.store.referendums import Referendums  # noqa: E402
from istifta.testing import CHROMIUM_FLAGS, live_manifest, open_referendum  # noqa: E402
from istifta.web.app import create_app  # noqa: E402
from istifta.web.settings import WebSettings  # noqa: E402

BUDGET = {"first_load_bytes": 50 * 1024, "click_to_ballot_ms": 150, "time_to_ready_ms": 1500}


def serve(voters: int) -> tuple[str, list[str], Any]:
    data = Path(tempfile.mkdtemp(prefix="istifta-bench-page-"))
    refs = Referendums.open(data)
    manifest = live_manifest(slug="coalition-2024")
    opened = open_referendum(refs, manifest, voters, ("Baghdad",), SeededRandom("page"))
    app = create_app(WebSettings(data_dir=data, cast_rate=1e6, cast_burst=10**6), refs)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/v/{opened.slug}?lang=ar"
    return url, [f"{url}#{code}" for code in opened.codes], server


def first_load(browser: Browser, link: str) -> dict[str, Any]:
    context = browser.new_context()
    page = context.new_page()
    sizes: dict[str, int] = {}
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(link)
    page.locator("#ballot").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    for response in responses:
        kind = _kind(response.url, response.headers.get("content-type", ""))
        sizes[kind] = sizes.get(kind, 0) + response.request.sizes()["responseBodySize"]
    context.close()
    total = sum(sizes.values())
    return {"bytes_by_kind": sizes, "total_bytes": total, "budget_bytes": BUDGET["first_load_bytes"]}


def _kind(url: str, content_type: str) -> str:
    if "/api/" in url:
        return "api_json"
    if url.endswith(".js"):
        return "script"
    if url.endswith(".css"):
        return "stylesheet"
    return "html" if "html" in content_type else "other"


def _throttled(browser: Browser, rate: float, network: bool) -> tuple[Any, Page, CDPSession]:
    # bypass_csp lets Playwright poll the page's marks; it changes nothing the page does.
    context = browser.new_context(viewport={"width": 360, "height": 740}, bypass_csp=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
    if network:
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 400, "downloadThroughput": 50_000, "uploadThroughput": 50_000},
        )
    return context, page, cdp


def _marks(page: Page) -> dict[str, float]:
    marks = page.evaluate(
        "performance.getEntriesByType('mark').filter(m => m.name.startsWith('istifta:'))"
        ".map(m => [m.name.slice(8), m.startTime])"
    )
    return {name: float(at) for name, at in marks}


def one_vote(browser: Browser, link: str, wait_warm: bool, network: bool = False) -> dict[str, float]:
    context, page, _ = _throttled(browser, 6, network)
    page.goto(link)
    page.locator("#ballot").wait_for(state="visible", timeout=120_000)
    if wait_warm:
        page.wait_for_function("performance.getEntriesByName('istifta:warm').length > 0", timeout=120_000)
    page.locator("input[name=q0]").first.check()
    page.locator("#cast").click()
    page.wait_for_function("performance.getEntriesByName('istifta:ballot-ready').length > 0", timeout=120_000)
    page.locator("#receipt").wait_for(state="visible", timeout=120_000)
    marks = _marks(page)
    context.close()
    return {
        "click_to_ballot_ms": marks["ballot-ready"] - marks["click"],
        "build_ms": marks["ballot-ready"] - marks["build"],
        "time_to_ready_ms": marks["ready"],
        "time_to_checked_ms": marks["checked"],
        "ready_to_warm_ms": marks.get("warm", marks["ready"]) - marks["ready"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats instead of 7")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    repeats = 2 if args.quick else 7
    started, load_before = time.perf_counter(), load_average()
    url, links, server = serve(3 * repeats + 2)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=list(CHROMIUM_FLAGS))
        say("first load…")
        load = first_load(browser, links[0])
        runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "slow_network": []}
        voter = 1
        for i in range(repeats):
            for name in runs:
                say(f"{name} {i + 1}/{repeats}…")
                runs[name].append(one_vote(browser, links[voter], name != "cold", name == "slow_network"))
                voter += 1
        browser.close()
    server.should_exit = True
    slow = runs["slow_network"]
    result = {
        "machine": {**machine(), "load_before": load_before, "load_after": load_average()},
        "first_load": load,
        "cpu_6x": {
            "click_to_ballot_ms": {
                "cold": figure([r["click_to_ballot_ms"] for r in runs["cold"]], "ms"),
                "warm": figure([r["click_to_ballot_ms"] for r in runs["warm"]], "ms"),
                "budget_ms": BUDGET["click_to_ballot_ms"],
            },
            "build_only_ms": {
                "cold": figure([r["build_ms"] for r in runs["cold"]], "ms"),
                "warm": figure([r["build_ms"] for r in runs["warm"]], "ms"),
            },
            "time_to_ready_ms": figure([r["time_to_ready_ms"] for r in runs["cold"]], "ms"),
            "time_to_credential_checked_ms": figure([r["time_to_checked_ms"] for r in runs["cold"]], "ms"),
            "warm_up_ms": figure([r["ready_to_warm_ms"] for r in runs["warm"]], "ms"),
            "time_to_ready_budget_ms": BUDGET["time_to_ready_ms"],
        },
        "slow_network": {
            "time_to_ready_ms": figure([r["time_to_ready_ms"] for r in slow], "ms"),
            "time_to_credential_checked_ms": figure([r["time_to_checked_ms"] for r in slow], "ms"),
        },
        "elapsed_s": sig(time.perf_counter() - started),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
