"""The migrations build exactly the tables the models declare, on both stores:
a column added to a model without its migration (or the reverse) is caught here,
not by an organiser's first import."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from istifta.store.db import open_store
from istifta.store.models import Base


def test_the_migrated_store_is_what_the_models_declare(tmp_path: Path, store_url: str | None) -> None:
    store = open_store(tmp_path / "data", store_url)
    try:
        with store.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        store.close()
    assert differences == []
