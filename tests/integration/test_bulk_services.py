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
