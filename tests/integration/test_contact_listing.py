"""``services.list_contacts`` on both backends: the console's search, filters and pages."""

from __future__ import annotations

import pytest

from smsconsent import services
from smsconsent.errors import BadInput
from smsconsent.services import Store

OURS = "+15557654321"


def _people(store: Store) -> None:
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", OURS)
    services.add_list(store, "default", "deals_50%")
    for n in range(1, 6):
        services.handle_inbound(store, f"+155512300{n:02d}", OURS, "START")
    services.handle_inbound(store, "+15551230002", OURS, "STOP")
    services.block(store, "default", "+15551230003", by="tester")
    services.subscribe(store, "default", "deals_50%", "+15551230004", evidence="web form",
                       by="tester")
    services.create_workspace(store, "other", business_name="O", contact="help@o.test")
    services.opt_out(store, "other", "+15551230001", by="tester")


def _phones(store: Store, **filters: object) -> list[str]:
    return [c["phone"] for c in services.list_contacts(store, "default", **filters)["contacts"]]


def test_filters_by_status_blocked_list_and_number(store: Store) -> None:
    """Each filter keeps exactly the matching contacts of this workspace only."""
    _people(store)
    assert len(_phones(store)) == 5
    assert _phones(store, status="opted_out") == ["+15551230002", "+15551230003"]
    assert _phones(store, blocked=True) == ["+15551230003"]
    assert _phones(store, list_name="deals_50%") == ["+15551230004"]
    assert _phones(store, list_name="deals") == []
    assert _phones(store, q="(555) 123-0005") == ["+15551230005"]
    row = services.list_contacts(store, "default", q="0004")["contacts"][0]
    assert row["lists"] == ["deals_50%"] and row["status"] == "opted_in"


def test_pages_cover_everyone_once(store: Store) -> None:
    """Pages of two walk every contact once, in number order, and say when more remain."""
    _people(store)
    seen, page = [], 1
    while page < 10:
        got = services.list_contacts(store, "default", page=page, per_page=2)
        seen += [c["phone"] for c in got["contacts"]]
        if not got["has_next"]:
            break
        page += 1
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 5 and got["total"] == 5
    with pytest.raises(BadInput):
        services.list_contacts(store, "default", status="gone")
