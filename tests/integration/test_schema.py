"""The migrations build exactly the schema of tables.py, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from smsconsent.services import Store
from smsconsent.storage.tables import metadata


def test_migrations_match_tables(store: Store) -> None:
    """Autogenerate finds no difference between the migrated database and the metadata."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
