"""The migrations build exactly the schema of tables.py, on both backends."""

from __future__ import annotations

import io
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage.tables import metadata


def test_migrations_match_tables(store: Store) -> None:
    """Autogenerate finds no difference between the migrated database and the metadata."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_new_sqlite_database_takes_the_page_size_an_old_one_keeps_its_own(
        tmp_path: Path) -> None:
    """A new SQLite file gets ``PAGE_SIZE`` pages (16 KiB, not SQLite's 4 KiB default, so the
    setting is seen to apply); an existing one keeps the page size it was made with (WAL
    cannot change it) and still works."""
    import sqlite3

    from smsconsent.storage import database

    assert database.PAGE_SIZE == 16384
    new = database.make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    database.ensure_schema(new)
    with new.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == database.PAGE_SIZE
    new.dispose()
    old_file = tmp_path / "old.db"
    con = sqlite3.connect(old_file)
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (x)")
    con.close()
    old = database.make_engine(f"sqlite:///{old_file}")
    store = Store(old)
    database.upgrade(old)
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.import_opt_outs(store, "default", io.BytesIO(b"phone\n+15551230001\n+15551230002\n"),
                             io.StringIO(), by="tester", batch=1)
    with old.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == 4096
    assert services.verify(store, "default")["ok"]
    old.dispose()
