"""The electorate's inclusion proofs are served only once it is frozen: a proof
asked for while the referendum is a draft must not leave the server serving a
stale tree after a later import (issue 13, finding 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from istifta.board.merkle import leaf_hash, verify_inclusion
from istifta.crypto.credentials import credential_secret, public_credential
from istifta.crypto.rng import SeededRandom
from istifta.store.referendums import Referendums
from istifta.testing import CHROMIUM_FLAGS, draft_referendum, live_manifest
from istifta.web.app import create_app
from istifta.web.serving import serving
from istifta.web.settings import WebSettings

from .conftest import CHROMIUM, QUESTION


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS))
        yield chromium
        chromium.close()


def test_a_proof_asked_for_during_the_draft_does_not_stop_voters_after_opening(
    tmp_path: Path, browser: Browser
) -> None:
    refs = Referendums.open(tmp_path / "data")
    rng = SeededRandom("draft electorate")
    slug = "coalition-2024"
    draft_referendum(refs, live_manifest([QUESTION], slug=slug), rng)
    first = refs.generate_electorate(slug, 5, ("Baghdad",), rng)
    mh = bytes.fromhex(refs.manifest(slug).manifest_hash)

    def credential(code: str) -> str:
        return public_credential(credential_secret(mh, code)).hex()

    app = create_app(WebSettings(data_dir=tmp_path / "data"), refs)
    with serving(app) as url, httpx.Client(base_url=url) as http:
        early = http.get(f"/api/referendums/{slug}/electorate/{credential(first[0][0])}")
        assert early.status_code == 404 and early.json()["code"] == "unknown_referendum"

        later = refs.generate_electorate(slug, 4, ("Erbil",), rng)
        params = refs.open_election(slug)
        assert params.electorate_size == 9
        for code, _ in first + later:  # every voter's proof holds against the frozen root
            proof = http.get(f"/api/referendums/{slug}/electorate/{credential(code)}").json()
            assert (proof["size"], proof["root"]) == (9, params.electorate_root)
            path = [bytes.fromhex(p) for p in proof["proof"]]
            hashed = leaf_hash(proof["leaf"].encode())
            assert verify_inclusion(hashed, proof["index"], 9, path, bytes.fromhex(params.electorate_root))

        for code, _ in (first[0], later[-1]):  # one from before the proof request, one from after
            context = browser.new_context(viewport={"width": 360, "height": 740})
            page: Page = context.new_page()
            page.goto(f"{url}/v/{slug}?lang=en#{code}")
            page.get_by_label("Yes", exact=True).check()
            page.locator("#cast").click()
            expect(page.locator("#receipt")).to_be_visible(timeout=20_000)
            expect(page.locator("#receipt-check")).to_have_class("good")
            context.close()
    assert refs.tree_head(slug).size == 3  # the election and the two ballots
    refs.close_store()
