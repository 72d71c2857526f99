"""The group commit (services/base.GroupCommit): texts handed over together share one
transaction, each in its own savepoint, and each is answered only after the commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from smsconsent import services
from smsconsent.domain.events import CONTACT, Event, EventType
from smsconsent.errors import BadInput
from smsconsent.services import Store
from smsconsent.services.base import GroupCommit, load_workspace
from smsconsent.storage import audit, history
from smsconsent.storage import tables as t
from smsconsent.storage.ledger import Ledger

OURS = "+15557654324"


def _note(phone: str, fail: bool = False) -> Callable[[Ledger], int]:
    def body(ledger: Ledger) -> int:
        recorded = ledger.record(Event(EventType.HELP_REQUESTED, ledger.recorded_at, CONTACT,
                                       phone, data={"keyword": "HELP", "number": OURS}))
        if fail:
            raise BadInput("refused after writing")
        return recorded.seq
    return body


def _events(store: Store, workspace_id: int) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.events).where(
            t.events.c.workspace_id == workspace_id)).scalar_one())


def test_a_failing_text_is_undone_alone_and_all_wait_for_the_commit(store: Store) -> None:
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    with store.read() as conn:
        ws = services.base.load_workspace(conn, "acme")
    before = _events(store, ws.id)
    group = GroupCommit(store)
    commits: list[int] = []
    commits_at_answer: list[int] = []

    @event.listens_for(store.engine, "commit")
    def _on_commit(_conn: object) -> None:
        commits.append(1)

    gate = threading.Lock()
    gate.acquire()  # the first group waits until every other body is queued behind it
    entered = threading.Event()

    def hold(_ledger: Ledger) -> bool:
        entered.set()
        return gate.acquire()

    group.start()
    first = group.submit(ws.id, hold)
    try:
        assert entered.wait(10)
        futures: list[Future[int]] = [
            group.submit(ws.id, _note(f"+1555123000{i}", fail=(i == 2))) for i in range(5)]
        for future in futures:
            future.add_done_callback(lambda _f: commits_at_answer.append(len(commits)))
        gate.release()
        assert first.result(10) is True
        results = []
        for i, future in enumerate(futures):
            if i == 2:
                with pytest.raises(BadInput):
                    future.result(10)
            else:
                results.append(future.result(10))
    finally:
        group.stop()
    assert len(commits) == 2  # the five shared one transaction
    assert commits_at_answer == [2] * 5  # and none was answered before it committed
    assert results == sorted(results) and len(set(results)) == 4  # one chain, no gap
    assert _events(store, ws.id) == before + 4
    with store.read() as conn:
        assert audit.verify(conn, ws.id).ok
        assert history.stored_state(conn, ws.id, "+15551230002") is None


def test_a_failed_commit_fails_every_text_of_the_group(store: Store) -> None:
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    with store.read() as conn:
        ws = services.base.load_workspace(conn, "acme")
    before = _events(store, ws.id)

    @event.listens_for(store.engine, "commit")
    def _refuse(_conn: object) -> None:
        raise OSError("disk full")

    group = GroupCommit(store)
    group.start()
    try:
        futures = [group.submit(ws.id, _note(f"+1555123100{i}")) for i in range(3)]
        for future in futures:
            with pytest.raises(OSError):
                future.result(10)
    finally:
        group.stop()
        event.remove(store.engine, "commit", _refuse)
    assert _events(store, ws.id) == before


@pytest.mark.parametrize("now", ["2000-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z"],
                         ids=["clock-behind", "clock-ahead"])
@pytest.mark.parametrize("records", [0, 2])
def test_resume_is_what_open_reads(store: Store, now: str, records: int) -> None:
    """``Ledger.resume`` after a closed ledger gives the head and time ``Ledger.open`` reads
    there (whether the previous text recorded anything or not, the clock behind or ahead)."""
    services.create_workspace(store, "res", business_name="R", contact="r@r.test")
    with store.read() as conn:
        ws = load_workspace(conn, "res").id
    with store.write(ws) as seed:
        _note("+15551230001")(seed)
    with store.write(ws) as first:
        for n in range(records):
            _note(f"+1555123000{n + 2}")(first)
        first.close()
        resumed = Ledger.resume(first, lambda: now)
        opened = Ledger.open(first.conn, ws, lambda: now)
        assert (resumed.head_seq, resumed.head_hash, resumed.recorded_at) == (
            opened.head_seq, opened.head_hash, opened.recorded_at)


def _holding(group: GroupCommit, workspace_id: int) -> tuple[Future[bool], threading.Lock]:
    """A body that holds ``group`` until the lock returned is released: what is submitted
    meanwhile forms the next group."""
    gate, entered = threading.Lock(), threading.Event()
    gate.acquire()

    def hold(_ledger: Ledger) -> bool:
        entered.set()
        return gate.acquire()

    first = group.submit(workspace_id, hold)
    assert entered.wait(10)
    return first, gate


def test_a_text_whose_statement_fails_is_left_out_and_the_others_commit(store: Store) -> None:
    """A body whose SQL fails (which aborts a PostgreSQL transaction) is answered with that
    error; the other texts of its group run again without it and commit, on one chain."""
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    with store.read() as conn:
        ws = services.base.load_workspace(conn, "acme")
    before = _events(store, ws.id)
    runs: list[str] = []

    def broken(ledger: Ledger) -> None:
        _note("+15551239999")(ledger)
        ledger.conn.execute(text("SELECT no_such_column FROM workspaces"))

    def counted(phone: str) -> Callable[[Ledger], int]:
        def body(ledger: Ledger) -> int:
            runs.append(phone)
            return _note(phone)(ledger)
        return body

    group = GroupCommit(store)
    group.start()
    try:
        first, gate = _holding(group, ws.id)
        futures = [group.submit(ws.id, counted("+15551238001")),
                   group.submit(ws.id, broken),
                   group.submit(ws.id, counted("+15551238002"))]
        gate.release()
        assert first.result(10) is True
        with pytest.raises(DBAPIError, match="no_such_column"):
            futures[1].result(10)
        seqs = [futures[0].result(10), futures[2].result(10)]
    finally:
        group.stop()
    assert runs == ["+15551238001", "+15551238001", "+15551238002"]  # the first ran twice
    assert seqs[1] == seqs[0] + 1
    assert _events(store, ws.id) == before + 2
    with store.read() as conn:
        assert audit.verify(conn, ws.id).ok
        assert history.stored_state(conn, ws.id, "+15551239999") is None


def test_texts_sharing_a_group_answer_as_texts_one_at_a_time(store: Store) -> None:
    """Inbound texts to one number in one group (which read the number once, Ledger.held)
    get the answers and leave the states the same texts one at a time give."""
    bodies = ["STOP", "STOP", "START", "HELP", "stop please", "START"]
    answers = {}
    for name, number in (("grouped", "+15557654331"), ("alone", "+15557654332")):
        services.create_workspace(store, name, business_name="Acme", contact="h@a.test")
        services.add_number(store, name, number)
    for i, body in enumerate(bodies):
        one = services.handle_inbound(store, "+15551234567", "+15557654332", body,
                                      provider_id=f"SMa{i}")
        answers.setdefault("alone", []).append((one.action, one.reply))
    texts = [services.read_inbound(store, "+15551234567", "+15557654331", body,
                                   provider_id=f"SMg{i}") for i, body in enumerate(bodies)]
    group = GroupCommit(store)
    group.start()
    try:
        first, gate = _holding(group, texts[0].workspace.id)
        futures = [group.submit(text_.workspace.id, partial(services.record_inbound,
                                                            inbound=text_))
                   for text_ in texts]
        gate.release()
        assert first.result(10) is True
        answers["grouped"] = [(f.result(10).action, f.result(10).reply) for f in futures]
    finally:
        group.stop()
    assert answers["grouped"] == answers["alone"]
    with store.read() as conn:
        for name in ("grouped", "alone"):
            assert audit.verify(conn, load_workspace(conn, name).id).ok
