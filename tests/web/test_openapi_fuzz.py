"""Schemathesis against the API's own OpenAPI description: whatever a client
sends that the schema allows (and much it does not), no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from istifta.crypto.rng import SeededRandom
from istifta.protocol.ballot import build_ballot
from istifta.store.referendums import Referendums
from istifta.testing import live_manifest, open_referendum
from istifta.web.app import create_app
from istifta.web.settings import WebSettings


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    refs = Referendums.open(tmp_path / "data")
    rng = SeededRandom("fuzz")
    opened = open_referendum(refs, live_manifest(slug="coalition-2024"), 4, ("Baghdad",), rng)
    refs.cast(opened.slug, build_ballot(opened.params, opened.codes[0], [[0]], rng).to_json())
    app = create_app(WebSettings(data_dir=tmp_path / "data", cast_rate=1e6, cast_burst=10**6), refs)
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app)
    refs.close_store()


def test_no_request_makes_the_server_fail(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None, database=None)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        call()
