"""``PinnedStore``: reads on one held connection behave as ``Store.read`` does, on each backend."""

from __future__ import annotations

from sqlalchemy import select, text

from smsconsent import services
from smsconsent.services import Store
from smsconsent.services.base import load_workspace
from smsconsent.services.pinned import PinnedStore
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
