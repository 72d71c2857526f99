"""The Alembic migrations on both backends: up from nothing and from the first release, down
again where it is safe, at head exactly ``tables.metadata``, and safe to start at once."""

from __future__ import annotations

import io
import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage import database
from smsconsent.storage.chain import GENESIS, canonical
from smsconsent.storage.history import stored_state
from smsconsent.storage.tables import metadata
from tests.conftest import Cli
from tests.integration.helpers import ALICE, BOB, OURS
from tests.integration.old_layout import (
    history,
    old_append,
    old_events,
    old_states,
    old_workspace,
)
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


@pytest.mark.parametrize("old", [FIRST_RELEASE, "0003"])
def test_a_ledger_written_by_an_older_schema_upgrades_in_place(db_url: str, old: str) -> None:
    """A database at 0001 or 0003 holding a ledger written with that schema's own SQL
    (``prev_hash`` stored, states with phone and nulls) upgrades to head: it verifies with the
    same head hash, the ledger exports exactly as the old rows were (prev_hash included), every
    state reads back equal, and today's code appends to the chain and still verifies."""
    store = Store(database.make_engine(db_url))
    database.upgrade(store.engine, old)
    with database.writing(store.engine) as conn:
        ws_id = old_workspace(conn, "default", OURS)
        old_append(conn, ws_id, history(ALICE, BOB, OURS))
        events, states = old_events(conn, ws_id), old_states(conn, ws_id)
    database.upgrade(store.engine)
    assert database.current_revision(store.engine) == database.head_revision()
    result = services.verify(store, "default")
    assert result["ok"], result["problems"]
    assert (result["events"], result["contacts"]) == (len(events), 2)
    assert result["head_hash"] == events[-1][-1]
    exported = [json.loads(line) for line in services.export_ledger(store, "default")]
    assert [tuple({**e, "data": canonical(e["data"])}.values()) for e in exported] == events
    with store.read() as conn:
        assert {p: stored_state(conn, ws_id, p) for p in states} == states
    assert states[ALICE].to_dict()["consents"]["sms:workspace"]["opted_out_at"] is None
    services.handle_inbound(store, BOB, OURS, "STOP", provider_id="SM9")
    services.handle_inbound(store, ALICE, OURS, "STOP", provider_id="SM10")
    assert services.verify(store, "default")["ok"]
    assert services.status(store, "default", ALICE)["status"] == "opted_out"
    store.engine.dispose()


def test_downgrade_from_0004_gives_older_code_its_layout(db_url: str) -> None:
    """Downgrading to 0003 writes every ``prev_hash`` back from the chain and the phone back
    into every state (older code requires it): the rows are those a 0003 database holds."""
    store = Store(database.make_engine(db_url))
    database.upgrade(store.engine)
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", OURS)
    services.handle_inbound(store, ALICE, OURS, "STOP", provider_id="SM1")
    services.import_opt_outs(store, "default", io.BytesIO(f"phone\n{BOB}\n".encode()),
                             io.StringIO(), by="tester")  # a stencilled state
    exported = [json.loads(line) for line in services.export_ledger(store, "default")]
    with store.read() as conn:
        ws_id = int(conn.execute(text("SELECT id FROM workspaces")).scalar_one())
        states = {p: stored_state(conn, ws_id, p) for p in (ALICE, BOB)}
    database.downgrade(store.engine, "0003")
    with store.read() as conn:
        assert old_events(conn, ws_id) == [
            tuple({**e, "data": canonical(e["data"])}.values()) for e in exported]
        assert old_states(conn, ws_id) == states
        # the chain as 0003's audit read it: each stored prev_hash is the hash before
        rows = old_events(conn, ws_id)
        assert [r[-2] for r in rows] == [GENESIS] + [r[-1] for r in rows[:-1]]
    database.upgrade(store.engine)
    assert services.verify(store, "default")["ok"]
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
    with database.writing(store.engine) as conn:  # with 0002's own SQL
        old_append(conn, old_workspace(conn, "default", "+15557654321"), [
            ("opted_out", f"+1555123456{n}", "2025-01-01T00:00:00.000000Z", "contact",
             {"keys": ["sms:workspace"], "method": "inbound_sms_keyword"}) for n in range(3)],
            [f"SM{n}" for n in range(3)])
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
