"""The holes closed in the storage layer's serialisation (storage/database.py), one test each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from smsconsent import services
from smsconsent.errors import Conflict
from smsconsent.services import Store
from smsconsent.storage import tables as t
from smsconsent.storage.database import ensure_schema, is_sqlite, make_engine, writing
from smsconsent.storage.ledger import Ledger

OURS, THEM = "+15557654321", "+15551234567"


def setup_workspace(store: Store, **options: Any) -> None:
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test",
                              **options)
    services.add_number(store, "default", OURS)


def in_threads(count: int, call: Callable[[int], Any]) -> list[Any]:
    """Run ``call(i)`` in ``count`` threads released together; results or raised errors."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = call(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    return results


def test_read_transaction_sees_one_snapshot(store: Store) -> None:
    """A read transaction does not see a write that commits while it runs (verify is sound)."""
    setup_workspace(store)
    count = select(func.count()).select_from(t.events)
    with store.read() as conn:
        before = conn.execute(count).scalar_one()
        services.send(store, OURS, THEM, "hello")
        assert conn.execute(count).scalar_one() == before
    with store.read() as conn:
        assert conn.execute(count).scalar_one() == before + 1


def test_clock_running_backwards_keeps_commit_order(db_url: str) -> None:
    """A clock that goes back (lagging machine) cannot put a START before the STOP it followed."""
    moments = iter(datetime(2026, 11, 23, 12, tzinfo=UTC) - timedelta(seconds=i)
                   for i in range(1000))
    store = Store(make_engine(db_url), clock=lambda: next(moments))
    try:
        ensure_schema(store.engine)
        setup_workspace(store)
        services.handle_inbound(store, THEM, OURS, "STOP")
        assert services.handle_inbound(store, THEM, OURS, "START").action == "opted_in"
        assert services.check(store, OURS, THEM).allowed
        assert services.verify(store, "default")["ok"]
    finally:
        store.engine.dispose()


def test_create_workspace_is_one_transaction(store: Store, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    """A failure while recording the creation event leaves no workspace behind."""
    def broken(self: Ledger, event: Any) -> Any:
        raise RuntimeError("crash between insert and event")

    monkeypatch.setattr(Ledger, "record", broken)
    with pytest.raises(RuntimeError):
        services.create_workspace(store, "default", business_name="Acme",
                                  contact="help@acme.test")
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.workspaces)).scalar_one() == 0


def test_same_workspace_created_at_once_conflicts(store: Store) -> None:
    """Workspaces created under one name at the same moment: one wins, the rest get Conflict."""
    results = in_threads(6, lambda i: services.create_workspace(
        store, "dup", business_name="Acme", contact="help@acme.test"))
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, dict)), results


def test_same_number_added_to_two_workspaces_at_once_conflicts(store: Store) -> None:
    """A number added to several workspaces at once lands in one; the others get Conflict."""
    for i in range(6):
        services.create_workspace(store, f"ws{i}", business_name="Acme",
                                  contact="help@acme.test")
    results = in_threads(6, lambda i: services.add_number(store, f"ws{i}", OURS))
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, dict)), results


@dataclass
class Interleaving(Store):
    """A store that runs ``before_lock`` once, between a use case's reads and its write lock."""

    before_lock: list[Callable[[], Any]] = field(default_factory=list)

    @contextmanager
    def write(self, workspace_id: int) -> Iterator[Ledger]:
        while self.before_lock:
            self.before_lock.pop()()
        with super().write(workspace_id) as ledger:
            yield ledger


def test_send_decides_on_policy_as_it_is_under_the_lock(store: Store) -> None:
    """A policy change committed before the send's lock (after its reads) governs that send."""
    setup_workspace(store, essential_after_stop=True)
    services.handle_inbound(store, THEM, OURS, "STOP")
    racing = Interleaving(store.engine, before_lock=[lambda: services.update_workspace(
        store, "default", essential_after_stop=False)])
    decision = services.send(racing, OURS, THEM, "Your code is 1234", purpose="transactional")
    assert (decision.allowed, decision.reason) == (False, "opted_out")


def test_sqlite_runs_durable_wal(sqlite_url: str) -> None:
    """SQLite connections run WAL, full sync, foreign keys and a 60 s busy wait."""
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        pragmas = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                   for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")}
    engine.dispose()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                       "busy_timeout": 60000}


@pytest.mark.postgres
def test_postgres_isolation_is_pinned(pg_server: str) -> None:
    """Writes run READ COMMITTED and reads a read-only snapshot, whatever the server default."""
    sep = "&" if "?" in pg_server else "?"
    engine = make_engine(f"{pg_server}{sep}options=-cdefault_transaction_isolation%3Dserializable")
    store = Store(engine)
    show = text("SELECT current_setting('transaction_isolation'), "
                "current_setting('transaction_read_only')")
    with writing(engine) as conn:
        assert not is_sqlite(conn)
        assert tuple(conn.execute(show).one()) == ("read committed", "off")
    with store.read() as conn:
        assert tuple(conn.execute(show).one()) == ("repeatable read", "on")
    engine.dispose()
