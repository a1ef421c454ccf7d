"""Shared fixtures. Hypothesis runs derandomized under CI so a run is repeatable."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from istifta.crypto.rng import SeededRandom
from istifta.testing import Election, make_election, manifest_json, question_json

settings.register_profile(
    "default",
    deadline=None,  # shared, noisy machines: speed is measured in bench/, never here
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def yes_no() -> Election:
    """The referendum case: one yes/no question, 3 trustees, threshold 2, 6 voters."""
    return make_election(SeededRandom("fixture yes/no"), voters=6, regions=("Baghdad", "Basra"))


@pytest.fixture(scope="session")
def mixed() -> Election:
    """Three questions: yes/no, exactly one of 3, and 0 to 2 of 4."""
    manifest = manifest_json(
        [
            question_json(["yes", "no"]),
            question_json(["a", "b", "c"]),
            question_json(["w", "x", "y", "z"], low=0, high=2),
        ]
    )
    return make_election(SeededRandom("fixture mixed"), manifest, voters=5)


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """Run the test on each store: ``None`` for SQLite in the data directory,
    or the URL of an empty PostgreSQL database (``scripts/test`` starts a
    throwaway server and sets ISTIFTA_TEST_PG_URL)."""
    if request.param == "sqlite":
        return None
    url = os.environ.get("ISTIFTA_TEST_PG_URL")
    if not url:
        pytest.fail(
            "ISTIFTA_TEST_PG_URL is not set: run the tests with scripts/test, which starts "
            "a throwaway PostgreSQL server, or point it at an empty database"
        )
    _reset_postgres(url)
    return url
