"""The group commit (services/group_commit.GroupCommit): texts handed over together share one
transaction, each in its own savepoint, and each is answered only after the commit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError

from smsconsent import services
from smsconsent.domain.events import CONTACT, Event, EventType
from smsconsent.domain.workspace import Workspace
from smsconsent.errors import BadInput
from smsconsent.services import Store
from smsconsent.services.base import addressed, load_workspace
from smsconsent.services.group_commit import GroupCommit
from smsconsent.storage import audit, history
from smsconsent.storage import tables as t
from smsconsent.storage.database import is_sqlite, writing
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


def _counted(runs: list[str], phone: str) -> Callable[[Ledger], int]:
    """``_note``, noting each run of the body in ``runs``."""
    def body(ledger: Ledger) -> int:
        runs.append(phone)
        return _note(phone)(ledger)
    return body


def _acme(store: Store) -> tuple[Workspace, int]:
    """A new workspace "acme", and how many events the store holds before the test's."""
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    with store.read() as conn:
        ws = load_workspace(conn, "acme")
    return ws, _events(store, ws.id)


def _events(store: Store, workspace_id: int) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.events).where(
            t.events.c.workspace_id == workspace_id)).scalar_one())


def test_a_failing_text_is_undone_alone_and_all_wait_for_the_commit(store: Store) -> None:
    ws, before = _acme(store)
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
    ws, before = _acme(store)

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


def _end_backend(store: Store, pid: int) -> None:
    """End PostgreSQL backend ``pid`` (an engine of its own: no listener of ``store``'s)."""
    admin = create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_lost_connection_runs_the_group_again_unless_its_commit_was_sent(
        store: Store) -> None:
    """The writer keeps one connection: once it is lost (an ended backend) the next group
    runs again on a new one and commits, each text once; lost at the COMMIT, the group fails
    (whether it committed is not known) and its texts ran once."""
    if is_sqlite(store.engine):
        pytest.skip("a PostgreSQL backend is ended")
    ws, before = _acme(store)
    runs: list[str] = []

    def backend(ledger: Ledger) -> int:
        return int(ledger.conn.connection.driver_connection.info.backend_pid)

    def end_at_commit(conn: Any) -> None:
        _end_backend(store, conn.connection.driver_connection.info.backend_pid)

    group = GroupCommit(store)
    group.start()
    try:
        _end_backend(store, group.submit(ws.id, backend).result(10))
        assert group.submit(ws.id, _counted(runs, "+15551238001")).result(10) == before + 1
        event.listen(store.engine, "commit", end_at_commit)
        try:
            with pytest.raises(DBAPIError):
                group.submit(ws.id, _counted(runs, "+15551238002")).result(10)
        finally:
            event.remove(store.engine, "commit", end_at_commit)
        assert group.submit(ws.id, _counted(runs, "+15551238003")).result(10) == before + 2
    finally:
        group.stop()
    assert runs == ["+15551238001", "+15551238002", "+15551238003"]
    assert _events(store, ws.id) == before + 2
    with store.read() as conn:
        assert audit.verify(conn, ws.id).ok


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
    ws, before = _acme(store)
    runs: list[str] = []

    def broken(ledger: Ledger) -> None:
        _note("+15551239999")(ledger)
        ledger.conn.execute(text("SELECT no_such_column FROM workspaces"))

    group = GroupCommit(store)
    group.start()
    try:
        first, gate = _holding(group, ws.id)
        futures = [group.submit(ws.id, _counted(runs, "+15551238001")),
                   group.submit(ws.id, broken),
                   group.submit(ws.id, _counted(runs, "+15551238002"))]
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


# (contact, body, provider id): two contacts, and texts a provider sent twice (retries).
_TEXTS = [("+15551234567", "STOP", 0), ("+15551234568", "STOP", 1), ("+15551234567", "STOP", 0),
          ("+15551234567", "START", 2), ("+15551234568", "HELP", 3),
          ("+15551234567", "stop please", 4), ("+15551234568", "HELP", 3),
          ("+15551234567", "START", 5)]


def test_texts_sharing_a_group_answer_as_texts_one_at_a_time(store: Store) -> None:
    """Inbound texts to one number in one group (which read the number once, Ledger.held,
    and on PostgreSQL read their contacts and provider ids at once and are written by one
    close) get the answers and leave the states the same texts one at a time give; a text
    sent again within the group, or in a later group, is a duplicate."""
    answers = {}
    # A second group: three texts recorded already, and a STOP from a contact opted out.
    sent = [*_TEXTS, *_TEXTS[:3], ("+15551234568", "STOP", 6)]
    for name, number in (("grouped", "+15557654331"), ("alone", "+15557654332")):
        services.create_workspace(store, name, business_name="Acme", contact="h@a.test")
        services.add_number(store, name, number)
    for phone, body, n in sent:
        one = services.handle_inbound(store, phone, "+15557654332", body, provider_id=f"SMa{n}")
        answers.setdefault("alone", []).append((one.action, one.reply, one.duplicate))
    texts = [services.read_inbound(store, phone, "+15557654331", body, provider_id=f"SMg{n}")
             for phone, body, n in sent]
    group = GroupCommit(store)
    group.start()
    try:
        for part in (texts[:len(_TEXTS)], texts[len(_TEXTS):]):
            first, gate = _holding(group, part[0].workspace.id)
            futures = [group.submit(text_.workspace.id,
                                    partial(services.record_inbound, inbound=text_),
                                    reads=(text_.provider_id, text_.contact))
                       for text_ in part]
            gate.release()
            assert first.result(10) is True
            answers.setdefault("grouped", []).extend(
                (f.result(10).action, f.result(10).reply, f.result(10).duplicate)
                for f in futures)
    finally:
        group.stop()
    assert answers["grouped"] == answers["alone"]
    with store.read() as conn:
        states = {}
        for name in ("grouped", "alone"):
            ws = load_workspace(conn, name).id
            assert audit.verify(conn, ws).ok  # stored states are the ledger's fold
            states[name] = [(s.status, s.opted_out_keys()) for s in (
                history.stored_state(conn, ws, phone) for phone, _, _ in sent) if s]
        assert states["grouped"] == states["alone"]


def test_a_provider_id_recorded_but_not_yet_written_is_seen(store: Store) -> None:
    """A ledger resumed from one not closed (PostgreSQL: its events not written yet) finds a
    provider id the one before recorded, as the same event the database gives once written,
    its previous hash included."""
    ws = _acme(store)[0].id
    with writing(store.engine) as conn:
        first = Ledger.open(conn, ws, store.now)
        recorded = [first.record(Event(EventType.INBOUND_RECEIVED, first.recorded_at, CONTACT,
                                       "+15551230001", data={"body": f"hi {n}"},
                                       provider_id=f"SM{n}")) for n in range(2)]
        second = Ledger.resume(first, store.now)
        assert [second.seen_provider_id(f"SM{n}") for n in range(2)] == recorded
        assert second.seen_provider_id("SM9") is None
        second.close()
        assert [second.seen_provider_id(f"SM{n}") for n in range(2)] == recorded


def test_a_text_whose_writes_fail_at_the_shared_close_is_left_out(store: Store) -> None:
    """On PostgreSQL a workspace's texts are written by one close; when it fails, the group
    runs again closing each text, so only the text whose rows fail (a number too long for
    its column) gets the error, and the others commit on one chain."""
    if is_sqlite(store.engine):
        pytest.skip("SQLite does not refuse a string longer than its column")
    acme, before = _acme(store)
    ws = acme.id
    group = GroupCommit(store)
    group.start()
    try:
        first, gate = _holding(group, ws)
        futures = [group.submit(ws, _note(phone))
                   for phone in ("+15551238001", "+1555" + "0" * 30, "+15551238002")]
        gate.release()
        assert first.result(10) is True
        with pytest.raises(store.engine.dialect.loaded_dbapi.DataError, match="too long"):
            futures[1].result(10)
        seqs = [futures[0].result(10), futures[2].result(10)]
    finally:
        group.stop()
    assert seqs[1] == seqs[0] + 1
    assert _events(store, ws) == before + 2
    with store.read() as conn:
        assert audit.verify(conn, ws).ok


def test_texts_awaited_on_an_event_loop_share_a_group_and_wait_for_its_commit(
        store: Store) -> None:
    """``GroupCommit.run`` (the HTTP service's way): texts awaited together on an event loop
    share one transaction, each gets its own value or error, none before the commit; a
    request cancelled while it waits leaves its text committed and the writer working."""
    ws, before = _acme(store)
    commits: list[int] = []

    @event.listens_for(store.engine, "commit")
    def _on_commit(_conn: object) -> None:
        commits.append(1)

    async def main(group: GroupCommit) -> tuple[list[object], dict[int, int], int]:
        first, gate = _holding(group, ws.id)
        answered_at: dict[int, int] = {}  # commits seen when each text was answered

        async def text_(i: int) -> int:
            try:
                return await group.run(ws.id, _note(f"+1555123200{i}", fail=(i == 2)))
            finally:
                answered_at[i] = len(commits)

        tasks = [asyncio.ensure_future(text_(i)) for i in range(5)]
        await asyncio.sleep(0.05)  # all five queued behind the held group
        tasks[4].cancel()
        gate.release()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert first.result(10) is True
        after = await group.run(ws.id, _note("+15551232009"))  # the writer goes on
        return outcomes, answered_at, after

    group = GroupCommit(store)
    group.start()
    try:
        outcomes, answered_at, after = asyncio.run(main(group))
    finally:
        group.stop()
        event.remove(store.engine, "commit", _on_commit)
    assert isinstance(outcomes[2], BadInput)
    assert isinstance(outcomes[4], asyncio.CancelledError)
    seqs = [outcomes[i] for i in (0, 1, 3)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert [answered_at[i] for i in range(4)] == [2] * 4  # after the commit they shared
    assert len(commits) == 3 and after == max(seqs) + 2  # the cancelled text was committed
    assert _events(store, ws.id) == before + 5
    with store.read() as conn:
        assert audit.verify(conn, ws.id).ok


def test_the_head_is_right_whichever_text_of_a_workspace_closes_its_group(
        store: Store) -> None:
    """Texts of two workspaces in one group, the last text of one failing: each chain head
    is written by the last text that commits in its workspace (the others leave it to
    the text that resumes them), and the next transaction goes on from it."""
    ids = []
    for name in ("one", "two"):
        services.create_workspace(store, name, business_name="B", contact="h@b.test")
        with store.read() as conn:
            ids.append(load_workspace(conn, name).id)

    def broken(ledger: Ledger) -> None:
        _note("+15551237999")(ledger)
        raise BadInput("refused after writing")

    group = GroupCommit(store)
    group.start()
    try:
        first, gate = _holding(group, ids[0])
        futures = [group.submit(ids[1], _note("+15551237001")),
                   group.submit(ids[0], _note("+15551237002")),
                   group.submit(ids[1], _note("+15551237003")),
                   group.submit(ids[0], _note("+15551237004")),
                   group.submit(ids[1], broken)]
        gate.release()
        assert first.result(10) is True
        with pytest.raises(BadInput):
            futures[4].result(10)
        seqs = [future.result(10) for future in futures[:4]]
        after = group.submit(ids[1], _note("+15551237005")).result(10)
    finally:
        group.stop()
    assert seqs[2] == seqs[0] + 1 and seqs[3] == seqs[1] + 1
    assert after == seqs[2] + 1
    with store.read() as conn:
        for workspace_id in ids:
            assert audit.verify(conn, workspace_id).ok


def test_the_writer_plans_with_indexes_and_leaves_no_setting_in_the_pool(store: Store) -> None:
    """On PostgreSQL the writer's held connection never plans a sequential scan where an
    index serves and runs generic plans (``database.held_writer``); once the writer stops,
    no connection the pool hands out keeps those settings."""
    if is_sqlite(store.engine):
        pytest.skip("a PostgreSQL planner setting")
    ws, _ = _acme(store)

    def setting(ledger: Ledger) -> str:
        return str(ledger.conn.exec_driver_sql("SHOW enable_seqscan").scalar_one()) + \
            str(ledger.conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one())

    group = GroupCommit(store)
    group.start()
    try:
        assert group.submit(ws.id, setting).result(10) == "off" + "force_generic_plan"
    finally:
        group.stop()
    held = [store.engine.connect() for _ in range(3)]
    try:
        assert {str(c.exec_driver_sql("SHOW enable_seqscan").scalar_one()) for c in held} == {"on"}
        assert {str(c.exec_driver_sql("SHOW plan_cache_mode").scalar_one()) for c in held} \
            == {"auto"}
    finally:
        for conn in held:
            conn.close()


def test_open_after_waiting_for_the_lock_is_not_behind_the_head_written_meanwhile(
        store: Store) -> None:
    """``Ledger.open`` reads the head event's time with the lock, in one statement whose
    snapshot predates a wait for the lock: the head written by the transaction waited for is
    then read on its own, so a clock behind it still records no earlier time."""
    ws, _ = _acme(store)
    holding, release = threading.Event(), threading.Event()
    times: dict[str, str] = {}

    def first() -> None:
        with store.write(ws.id) as ledger:
            _note("+15551239001")(ledger)
            times["first"] = ledger.recorded_at
            holding.set()
            assert release.wait(10)

    def second() -> None:
        with writing(store.engine) as conn:
            times["second"] = Ledger.open(conn, ws.id, lambda: "2000-01-01T00:00:00.000Z"
                                          ).recorded_at

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    threads[1].join(0.5)  # waiting for the lock (PostgreSQL) or the writer queue (SQLite)
    release.set()
    for thread in threads:
        thread.join(10)
    assert times["second"] == times["first"]


def test_the_group_reads_our_number_and_workspace_under_the_lock(store: Store) -> None:
    """Our number and its workspace come with the group's reads (``Ledger.prefetch``), as
    ``addressed`` reads them, and under the lock: a business name changed after the text was
    read on the loop, before its group, is the one its STOP reply names."""
    ws, _ = _acme(store)
    services.add_number(store, "acme", OURS, campaign="C1")
    with store.read() as conn:
        expected = addressed(conn, OURS, None)
    text = services.read_inbound(store, "+15551237001", OURS, "STOP", provider_id="SMlock1",
                                 workspace="acme")
    services.update_workspace(store, "acme", business_name="Acme Renamed")
    group = GroupCommit(store)
    group.start()
    try:
        first, gate = _holding(group, ws.id)
        held: list[Any] = []

        def body(ledger: Ledger) -> services.InboundResult:
            held.append(ledger.held.get(OURS))
            return services.record_inbound(ledger, text)

        result = group.submit(ws.id, body, reads=(text.provider_id, text.contact),
                              number=OURS)
        gate.release()
        assert first.result(10) is True
        reply = result.result(10).reply
    finally:
        group.stop()
    assert reply is not None and "Acme Renamed" in reply
    assert expected is not None
    if is_sqlite(store.engine):
        assert held == [None]  # read by the body itself
    else:
        number, workspace = held[0]
        assert number == expected[0]
        with store.read() as conn:
            assert workspace == load_workspace(conn, "acme")
        assert workspace.business_name == "Acme Renamed"
