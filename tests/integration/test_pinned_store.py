"""``PinnedStore``: reads on one held connection behave as ``Store.read`` does, on each backend."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from smsconsent import services
from smsconsent.services import Store
from smsconsent.services.base import load_workspace
from smsconsent.services.pinned import PinnedStore, _in_transaction
from smsconsent.storage import tables as t
from smsconsent.storage.database import make_engine


def test_reads_see_commits_and_nest(store: Store) -> None:
    """Each read sees what committed before it; a read within a read is the same
    transaction; a statement through SQLAlchemy inside a read works; an error in a read ends
    it and the next read works."""
    pinned = PinnedStore(make_engine(store.engine.url.render_as_string(hide_password=False),
                                     connections=1))
    try:
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
    finally:
        pinned.close()
        pinned.engine.dispose()


def test_on_an_event_loop_each_read_is_still_a_transaction_of_its_own(store: Store) -> None:
    """On an event loop a read's COMMIT is put off (PostgreSQL) to the next read or the loop's
    next turn: each read still sees what committed before it began, and once the loop has
    turned no transaction is left open."""
    pinned = PinnedStore(make_engine(store.engine.url.render_as_string(hide_password=False),
                                     connections=1))

    async def reads() -> None:
        services.create_workspace(store, "one", business_name="One", contact="a@b.test")
        with pinned.read() as conn:
            assert load_workspace(conn, "one").name == "one"
        services.create_workspace(store, "two", business_name="Two", contact="a@b.test")
        with pinned.read() as conn:
            assert load_workspace(conn, "two").name == "two"
        await asyncio.sleep(0)
        assert pinned._conn is not None and not _in_transaction(pinned._conn)

    try:
        asyncio.run(reads())
    finally:
        pinned.close()
        pinned.engine.dispose()
