"""A real server (uvicorn on a free port, SQLite) and Debian's Chromium driven
by Playwright: what a voter's phone does, end to end.

Screenshots land in ``build/test-artifacts/`` (or ``$ISTIFTA_ARTIFACTS``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from istifta.crypto.rng import SeededRandom
from istifta.store.referendums import Referendums
from istifta.testing import CHROMIUM_FLAGS, Opened, live_manifest, open_referendum
from istifta.web.app import create_app
from istifta.web.serving import serving
from istifta.web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("ISTIFTA_CHROMIUM", "/usr/bin/chromium")
QUESTION = {
    "text": {
        "ar": "هل تؤيد إنهاء مهمة التحالف الدولي في العراق؟",
        "ckb": "ئایا پشتگیری لە کۆتایی هاتنی ئەرکی هاوپەیمانیی نێودەوڵەتی لە عێراق دەکەیت؟",
        "en": "Do you support ending the international coalition's mission in Iraq?",
    },
    "options": [
        {"label": {"ar": "نعم", "ckb": "بەڵێ", "en": "Yes"}},
        {"label": {"ar": "لا", "ckb": "نەخێر", "en": "No"}},
    ],
    "min": 1,
    "max": 1,
}


def artifacts() -> Path:
    folder = Path(os.environ.get("ISTIFTA_ARTIFACTS", ROOT / "build" / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Site:
    url: str
    refs: Referendums
    opened: Opened
    data_dir: Path

    def link(self, voter: int, lang: str = "") -> str:
        query = f"?lang={lang}" if lang else ""
        return f"{self.url}/v/{self.opened.slug}{query}#{self.opened.codes[voter]}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    refs = Referendums.open(tmp_path / "data")
    opened = open_referendum(
        refs,
        live_manifest([QUESTION], slug="coalition-2024"),
        6,
        ("Baghdad", "Erbil"),
        SeededRandom("browser"),
    )
    app = create_app(WebSettings(data_dir=tmp_path / "data"), refs)
    with serving(app) as url:
        yield Site(url, refs, opened, tmp_path / "data")
    refs.close_store()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an asyncio loop running
    # in this thread while it lives, and later tests call asyncio.run().
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_FLAGS))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A phone-sized page, offline but for the test server."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert not errors, f"the page's script failed: {errors}"
