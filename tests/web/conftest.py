"""A referendum open now, served by the real application over each store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from istifta.crypto.rng import SeededRandom
from istifta.store.public import PublicViews
from istifta.store.referendums import Referendums
from istifta.testing import Opened, live_manifest, open_referendum
from istifta.web.app import create_app
from istifta.web.settings import WebSettings

REGIONS = ("Baghdad", "Basra", "Erbil")


@dataclass
class Live:
    refs: Referendums
    opened: Opened
    client: TestClient
    rng: SeededRandom

    @property
    def slug(self) -> str:
        return self.opened.slug

    @property
    def api(self) -> str:
        return f"/api/referendums/{self.slug}"

    @property
    def views(self) -> PublicViews:
        return PublicViews(self.refs)

    def board_size(self) -> int:
        return self.refs.tree_head(self.slug).size


def serve(tmp_path: Path, store_url: str | None, **settings: object) -> Iterator[Live]:
    refs = Referendums.open(tmp_path / "data", store_url)
    rng = SeededRandom("web tests")
    opened = open_referendum(refs, live_manifest(), 9, REGIONS, rng)
    config = WebSettings(data_dir=tmp_path / "data", **settings)  # type: ignore[arg-type]
    with TestClient(create_app(config, refs)) as client:
        yield Live(refs, opened, client, rng)
    refs.close_store()


@pytest.fixture
def live(tmp_path: Path, store_url: str | None) -> Iterator[Live]:
    yield from serve(tmp_path, store_url, cast_rate=6000.0, cast_burst=1000)


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Iterator[Live]:
    yield from serve(tmp_path, None, cast_rate=6000.0, cast_burst=1000)
