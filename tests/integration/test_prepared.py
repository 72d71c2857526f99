"""``Prepared`` (storage/prepared.py) binds a statement's values by name, as SQLAlchemy does."""

from __future__ import annotations

from sqlalchemy import bindparam, literal_column, select, update

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage import tables as t
from smsconsent.storage.database import reading, writing
from smsconsent.storage.prepared import Prepared

NONE = Prepared(select(literal_column("7")))
ONE = Prepared(select(t.workspaces.c.name).where(t.workspaces.c.id == bindparam("id")))
# Bound in another order than given, one name twice.
SEVERAL = Prepared(select(t.workspaces.c.name, t.workspaces.c.contact)
                   .where(t.workspaces.c.name.in_([bindparam("b"), bindparam("a")]),
                          t.workspaces.c.contact == bindparam("contact"),
                          t.workspaces.c.business_name != bindparam("label"),
                          t.workspaces.c.name != bindparam("label"))
                   .order_by(t.workspaces.c.name))
RENAME = Prepared(update(t.workspaces).where(t.workspaces.c.name == bindparam("old"))
                  .values(business_name=bindparam("new")))


def test_values_are_bound_by_name_in_every_form(store: Store) -> None:
    """No value, one, several given in any order (one used twice): the rows SQLAlchemy's
    own execution of the statement gives; ``run_many`` binds each row alike."""
    for name in ("one", "two", "three"):
        services.create_workspace(store, name, business_name=f"B {name}", contact="h@b.test")
    values = {"contact": "h@b.test", "a": "three", "label": "x", "b": "one"}
    with reading(store.engine) as conn:
        assert NONE.first(conn) == (7,)
        ids = dict(conn.execute(select(t.workspaces.c.name, t.workspaces.c.id)).all())
        assert ONE.first(conn, id=ids["two"]) == ("two",)
        expected = [tuple(row) for row in conn.execute(SEVERAL.statement, values)]
        assert SEVERAL.all(conn, **values) == expected == [("one", "h@b.test"),
                                                           ("three", "h@b.test")]
    with writing(store.engine) as conn:
        RENAME.run_many(conn, [{"new": "N one", "old": "one"}, {"old": "two", "new": "N two"}])
        RENAME.run(conn, {"old": "three", "new": "N three"}).close()
    with reading(store.engine) as conn:
        names = dict(conn.execute(select(t.workspaces.c.name,
                                         t.workspaces.c.business_name)).all())
    assert {k: v for k, v in names.items() if k != "default"} == {
        "one": "N one", "two": "N two", "three": "N three"}
