"""The store works end to end on both backends."""

from smsconsent import services
from smsconsent.services import Store


def test_stop_then_refused_then_start(store: Store) -> None:
    """A STOP refuses later sends; START lets them through again; the ledger verifies."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", "+15557654321")
    r = services.handle_inbound(store, "+15551234567", "+15557654321", "STOP")
    assert r.action == "opted_out"
    assert services.check(store, "+15557654321", "+15551234567").reason == "opted_out"
    services.handle_inbound(store, "+15551234567", "+15557654321", "START")
    assert services.check(store, "+15557654321", "+15551234567").allowed
    assert services.verify(store, "default")["ok"]
