"""The bulk services on both backends: real ledger events, time order, idempotence."""

from __future__ import annotations

import io

from smsconsent import services
from smsconsent.services import Store


def _setup(store: Store) -> None:
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", "+15557654321")


def _import(store: Store, text: str, batch: int = 2) -> dict[str, object]:
    sink = io.StringIO()
    return services.import_opt_outs(store, "default", io.BytesIO(text.encode()), sink,
                                    by="tester", batch=batch)


def test_batched_import_verifies_across_batches(store: Store) -> None:
    """Events written by several batches, repeats included, keep the chain and states exact."""
    _setup(store)
    rows = "".join(f"+1555123{n:04d},2024-01-0{1 + n % 5}T00:00:00Z\n" for n in range(7))
    result = _import(store, "phone,opted_out_at\n" + rows + "+15551230001,\n", batch=3)
    assert (result["imported"], result["unchanged"]) == (7, 1)
    check = services.verify(store, "default")
    assert check["ok"], check["problems"]
    assert check["contacts"] == 7


def test_old_opt_out_is_placed_by_time_and_later_start_wins(store: Store) -> None:
    """An imported opt-out older than the contact's START changes nothing, now or again."""
    _setup(store)
    services.handle_inbound(store, "+15551230001", "+15557654321", "STOP")
    services.handle_inbound(store, "+15551230001", "+15557654321", "START")
    result = _import(store, "phone,opted_out_at\n+15551230001,2020-01-01T00:00:00Z\n")
    assert result["unchanged"] == 1
    assert services.check(store, "+15557654321", "+15551230001").allowed


def test_late_opt_out_refolds_history(store: Store) -> None:
    """An opt-out dated before a contact's later sends still opts them out (refolded)."""
    _setup(store)
    services.send(store, "+15557654321", "+15551230001", "hello")
    result = _import(store, "phone,opted_out_at\n+15551230001,2020-01-01T00:00:00Z\n")
    assert result["imported"] == 1
    assert services.check(store, "+15557654321", "+15551230001").reason == "opted_out"
    assert services.verify(store, "default")["ok"]


def test_filter_list_reasons_record_nothing(store: Store) -> None:
    """Filtering for a list refuses non-members and leavers, and writes no ledger event."""
    _setup(store)
    services.add_list(store, "default", "deals", keyword="STOP DEALS")
    services.subscribe(store, "default", "deals", "+15551230001", evidence="JOIN", by="a")
    services.subscribe(store, "default", "deals", "+15551230002", evidence="JOIN", by="a")
    services.handle_inbound(store, "+15551230002", "+15557654321", "STOP")
    before = services.verify(store, "default")["events"]
    send, refused = io.StringIO(), io.StringIO()
    data = b"phone\n+15551230001\n+15551230002\n+15551230003\n"
    result = services.filter_recipients(store, io.BytesIO(data), send, refused,
                                        sender="+15557654321", purpose="informational",
                                        list_name="deals")
    assert result["by_reason"] == {"not_subscribed": 1, "opted_out": 1}
    assert send.getvalue().splitlines() == ["phone", "+15551230001"]
    assert services.verify(store, "default")["events"] == before


def test_record_many_mixes_stencilled_and_generic_events(store: Store) -> None:
    """Fresh events for new contacts, repeated or followed by other events in the same call,
    or for a contact already known, leave the chain and every state exact."""
    from smsconsent.domain.events import Event, EventType
    from smsconsent.services.base import load_workspace
    from smsconsent.storage.fresh import FreshEvent, FreshSpec

    _setup(store)
    services.handle_inbound(store, "+15551230003", "+15557654321", "START")
    spec = FreshSpec(EventType.OPTED_OUT, "agent:t",
                     lambda e: {"keys": ["sms:workspace"], "method": "import", "evidence": e}, 1)
    with store.read() as conn:
        ws = load_workspace(conn, "default").id
    with store.write(ws) as ledger:
        ledger.states(["+15551230001", "+15551230002", "+15551230003"])
        ledger.record_many([
            FreshEvent(spec, "+15551230001", "2024-01-01T00:00:00.000000Z", "a \"b\""),
            FreshEvent(spec, "+15551230002", "2024-01-01T00:00:00.000000Z", None),
            FreshEvent(spec, "+15551230002", "2024-01-02T00:00:00.000000Z", "again"),
            Event(EventType.OPTED_IN, "2024-01-03T00:00:00.000000Z", "agent:t", "+15551230001",
                  {"keys": ["sms:workspace"], "type": "express", "evidence": "form"}),
            FreshEvent(spec, "+15551230003", "2024-01-01T00:00:00.000000Z", "late"),
        ])
        assert ledger.state("+15551230001").status == "opted_in"
        assert ledger._kinds[spec] is not None  # the stencils were used, and kept
    check = services.verify(store, "default")
    assert check["ok"], check["problems"]
    assert check["contacts"] == 3
    assert services.check(store, "+15557654321", "+15551230002").reason == "opted_out"


def test_bulk_import_leaves_sqlite_checkpointing_as_usual(sqlite_url: str) -> None:
    """Batches checkpoint the WAL rarely; the last one restores SQLite's default."""
    from smsconsent.storage import database
    from smsconsent.storage.database import DEFAULT_CHECKPOINT_PAGES

    store = Store(database.make_engine(sqlite_url))
    database.ensure_schema(store.engine)
    _setup(store)
    rows = "".join(f"+1555123{n:04d},\n" for n in range(5))
    _import(store, "phone,opted_out_at\n" + rows, batch=2)
    with store.engine.connect() as conn:  # the pool's one connection, which did the import
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
    assert pages == DEFAULT_CHECKPOINT_PAGES
    store.engine.dispose()


def test_filter_keeps_a_line_cut_by_its_read_block_whole_after_a_multiline_record(
        store: Store) -> None:
    """A quoted field across lines hands the rest of the file to the CSV parser from the
    start of the block being read (filter_lines' line reader); the block's last line, cut
    in two by the read, stays one record: not a sendable row with its merge field cut short
    (``+15551232730,na``) and an invalid_phone row made of the rest."""
    _setup(store)
    rows = [f"+1555123{n:04d},name {n:05d}\n" for n in range(1, 3000)]  # 24 characters each
    data = 'phone,name\n+15551230000,"two\nlines"\n' + "".join(rows)
    assert data.index("+15551232730,name") < 11 + (1 << 16) < data.index("+15551232731")
    send, refused = io.StringIO(), io.StringIO()
    result = services.filter_recipients(store, io.BytesIO(data.encode()), send, refused,
                                        sender="+15557654321", purpose="informational",
                                        chunk=100)
    assert (result["rows"], result["refused"], result["by_reason"]) == (3000, 0, {})
    assert send.getvalue() == data


def _import_contacts(store: Store, text: str) -> tuple[dict[str, object], str]:
    sink = io.StringIO()
    result = services.import_contacts(store, "default", io.BytesIO(text.encode()), sink,
                                      by="tester")
    return result, sink.getvalue()


def test_contacts_import_never_puts_back_on_a_list_a_contact_who_left_it(store: Store
                                                                         ) -> None:
    """A contact who left a list (its keyword, or STOP then START, which leaves every list)
    is not subscribed again by importing the same file again: the row is refused,
    list_opted_out, and a marketing blast for the list still refuses them."""
    _setup(store)
    services.add_list(store, "default", "deals", keyword="STOP DEALS")
    text = ("phone,consent_type,purpose,evidence,list\n"
            "+15551230001,express_written,marketing,signed form,deals\n"
            "+15551230002,express_written,marketing,signed form,deals\n"
            "+15551230003,express_written,marketing,signed form,deals\n")
    assert _import_contacts(store, text)[0]["imported"] == 3
    services.handle_inbound(store, "+15551230001", "+15557654321", "STOP DEALS")
    services.handle_inbound(store, "+15551230002", "+15557654321", "STOP")
    services.handle_inbound(store, "+15551230002", "+15557654321", "START")
    events = services.verify(store, "default")["events"]
    result, rejects = _import_contacts(store, text)
    assert (result["imported"], result["unchanged"], result["rejected"]) == (0, 1, 2)
    assert [line.split(",")[5] for line in rejects.splitlines()[1:]] == ["list_opted_out"] * 2
    assert services.verify(store, "default")["events"] == events
    send, refused = io.StringIO(), io.StringIO()
    blast = services.filter_recipients(
        store, io.BytesIO(b"phone\n+15551230001\n+15551230002\n+15551230003\n"), send,
        refused, sender="+15557654321", purpose="marketing", list_name="deals")
    assert blast["sendable"] == 1 and send.getvalue().splitlines() == ["phone", "+15551230003"]
