"""``Ledger.seen_provider_id`` with a contact (its state read in the same statement) answers
as the two reads apart do, on each backend."""

from __future__ import annotations

from smsconsent import services
from smsconsent.domain.events import CONTACT, Event, EventType
from smsconsent.services import Store
from smsconsent.services.base import load_workspace

OURS = "+15557654324"
STORED, NEW = "+15551230001", "+15551230002"


def test_the_state_read_with_the_provider_id_is_the_state_read_alone(store: Store) -> None:
    """For a provider id seen or not, and a contact with a stored state or none: the same
    event (prev_hash included) and the same state either way."""
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    with store.read() as conn:
        ws = load_workspace(conn, "acme").id
    with store.write(ws) as ledger:
        ledger.record(Event(EventType.INBOUND_RECEIVED, ledger.recorded_at, CONTACT, STORED,
                            data={"body": "STOP"}, provider_id="SM1"))
        ledger.record(Event(EventType.OPTED_OUT, ledger.recorded_at, CONTACT, STORED,
                            data={"keys": [f"number:{OURS}"], "number": OURS}))
    for provider_id in ("SM1", "SM2"):
        for phone in (STORED, NEW):
            with store.write(ws) as apart:
                expected = (apart.seen_provider_id(provider_id), apart.state(phone).to_dict(),
                            phone in apart._stored)
            with store.write(ws) as together:
                seen = together.seen_provider_id(provider_id, contact=phone)
                assert (seen, together.state(phone).to_dict(),
                        phone in together._stored) == expected
            assert (expected[0] is not None) == (provider_id == "SM1")
            assert expected[2] == (phone == STORED)
