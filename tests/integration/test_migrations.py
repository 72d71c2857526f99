"""The Alembic migrations on both backends: up from nothing and from the first release, down
again where it is safe, at head exactly ``tables.metadata``, and safe to start at once."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage import database
from smsconsent.storage.tables import metadata
from tests.conftest import Cli
from tests.integration.test_serialisation import in_threads

FIRST_RELEASE = "0001"


def test_migrations_at_head_build_exactly_the_metadata(db_url: str) -> None:
    """Upgrading an empty database to head yields tables.metadata, with no differences."""
    engine = database.make_engine(db_url)
    database.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert database.current_revision(engine) == database.head_revision()
    engine.dispose()
    assert diff == []


def test_first_release_with_data_upgrades_to_head(db_url: str) -> None:
    """A database at the first released schema, holding a ledger, upgrades and still verifies.

    While head is 0001 the data is written by today's services; a later migration must write
    it with 0001's own SQL.
    """
    store = Store(database.make_engine(db_url))
    database.upgrade(store.engine, FIRST_RELEASE)
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", "+15557654321")
    services.handle_inbound(store, "+15551234567", "+15557654321", "STOP", provider_id="SM1")
    database.upgrade(store.engine)
    assert database.current_revision(store.engine) == database.head_revision()
    assert services.verify(store, "default")["ok"]
    assert services.status(store, "default", "+15551234567")["status"] == "opted_out"
    store.engine.dispose()


def test_downgrade_to_base_and_up_again(db_url: str) -> None:
    """Downgrading an empty schema to base removes every table; upgrading rebuilds them."""
    engine = database.make_engine(db_url)
    database.upgrade(engine)
    database.downgrade(engine, "base")
    assert database.current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    database.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)
    engine.dispose()


def test_instances_starting_together_migrate_once(db_url: str) -> None:
    """Several instances opening one empty database at once all start; it is migrated once."""
    engines = [database.make_engine(db_url) for _ in range(4)]
    results = in_threads(4, lambda i: database.ensure_schema(engines[i]))
    assert results == [None] * 4
    assert database.current_revision(engines[0]) == database.head_revision()
    for engine in engines:
        engine.dispose()


def test_cli_db_upgrade_and_downgrade(cli: Cli) -> None:
    """`db upgrade`, `db downgrade --revision` and `db current` work and report revisions."""
    head = database.head_revision()
    assert cli("db", "upgrade").json() == {"revision": head, "head": head}
    assert cli("db", "downgrade", "--revision", "base").json() == {"revision": None,
                                                                    "head": head}
    bad = cli("db", "downgrade", "--revision", "nope")
    assert bad.code == 2 and "bad_revision" in bad.err
    assert cli("db", "upgrade", "--revision", FIRST_RELEASE).json() == {"revision": FIRST_RELEASE,
                                                                      "head": head}


def test_events_rebuilt_by_0003_keep_their_ledger_and_idempotency(db_url: str) -> None:
    """A 0002 ledger with provider ids upgrades through 0003 (on SQLite: copied into a WITHOUT
    ROWID table) and still verifies; a repeated provider id is still recognised, and refused
    by the database itself."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    store = Store(database.make_engine(db_url))
    database.upgrade(store.engine, "0002")
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", "+15557654321")
    for n in range(3):
        services.handle_inbound(store, f"+1555123456{n}", "+15557654321", "STOP",
                                provider_id=f"SM{n}")
    before = services.verify(store, "default")
    database.upgrade(store.engine, "0003")
    after = services.verify(store, "default")
    assert after["ok"], after["problems"]
    assert (after["events"], after["head_hash"]) == (before["events"], before["head_hash"])
    again = services.handle_inbound(store, "+15551234561", "+15557654321", "STOP",
                                    provider_id="SM1")
    assert services.verify(store, "default")["events"] == after["events"], again
    if database.is_sqlite(store.engine):
        with store.read() as conn:
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'events'"))
            assert "WITHOUT ROWID" in sql.scalar_one()
    with pytest.raises(IntegrityError), database.writing(store.engine) as conn:
        conn.execute(text(
            "INSERT INTO events (workspace_id, seq, type, occurred_at, recorded_at, actor, "
            "provider_id, data, prev_hash, hash) SELECT workspace_id, 999, type, occurred_at,"
            " recorded_at, actor, provider_id, data, prev_hash, hash FROM events "
            "WHERE provider_id = 'SM1'"))
    database.downgrade(store.engine, "0002")
    assert services.verify(store, "default")["ok"]
    store.engine.dispose()
