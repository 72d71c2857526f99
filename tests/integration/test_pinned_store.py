"""``PinnedStore``: reads on one held connection behave as ``Store.read`` does, on each backend."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from smsconsent import services
from smsconsent.services import Store
from smsconsent.services.base import load_workspace
from smsconsent.services.pinned import PinnedStore, _in_transaction
from smsconsent.storage import tables as t
from smsconsent.storage.prepared import Prepared


def test_reads_see_commits_and_nest(store: Store, pinned: PinnedStore) -> None:
    """Each read sees what committed before it; a read within a read is the same
    transaction; a statement through SQLAlchemy inside a read works; an error in a read ends
    it and the next read works."""
    services.create_workspace(store, "one", business_name="One", contact="a@b.test")
    with pinned.read() as conn:
        assert load_workspace(conn, "one").name == "one"
        with pinned.read() as inner:
            assert inner is conn
        names = conn.execute(select(t.workspaces.c.name)).scalars().all()
        assert names == ["one"]
    services.create_workspace(store, "two", business_name="Two", contact="a@b.test")
    try:
        with pinned.read() as conn:
            assert load_workspace(conn, "two").name == "two"
            conn.execute(text("SELECT no_such_column FROM workspaces"))
    except Exception as exc:
        assert "no_such_column" in str(exc)
    for _ in range(3):
        with pinned.read() as conn:
            assert sorted(conn.execute(select(t.workspaces.c.name)).scalars()) == [
                "one", "two"]


def test_on_an_event_loop_each_read_is_still_a_transaction_of_its_own(
        store: Store, pinned: PinnedStore) -> None:
    """On an event loop a read's COMMIT is put off (PostgreSQL) to the next read or the loop's
    next turn: each read still sees what committed before it began, and once the loop has
    turned no transaction is left open."""

    async def reads() -> None:
        services.create_workspace(store, "one", business_name="One", contact="a@b.test")
        with pinned.read() as conn:
            assert load_workspace(conn, "one").name == "one"
        services.create_workspace(store, "two", business_name="Two", contact="a@b.test")
        with pinned.read() as conn:
            assert load_workspace(conn, "two").name == "two"
        await asyncio.sleep(0)
        assert pinned._conn is not None and not _in_transaction(pinned._conn)

    asyncio.run(reads())


_NAMES = Prepared(select(t.workspaces.c.name).order_by(t.workspaces.c.name))


def test_a_statement_alone_is_a_snapshot_of_its_own(store: Store, pinned: PinnedStore) -> None:
    """``alone`` sees what committed before it, even right after a read whose COMMIT was put
    off (that read's older snapshot is not used), leaves no transaction open, and joins the
    read it runs in."""

    async def reads() -> None:
        services.create_workspace(store, "one", business_name="One", contact="a@b.test")
        with pinned.read() as conn:
            assert load_workspace(conn, "one").name == "one"
        services.create_workspace(store, "two", business_name="Two", contact="a@b.test")
        assert pinned.alone(_NAMES) == [("one",), ("two",)]
        assert pinned._conn is not None and not _in_transaction(pinned._conn)
        with pinned.read():
            assert len(pinned.alone(_NAMES)) == 2
            services.create_workspace(store, "three", business_name="3", contact="a@b.test")
            assert len(pinned.alone(_NAMES)) == 2  # the read's own snapshot
        assert len(pinned.alone(_NAMES)) == 3

    asyncio.run(reads())
