"""The ledger is tamper-evident: verify finds altered, removed and reordered history."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage import tables as t
from smsconsent.storage.database import SCHEMA_HEAD, head_revision
from tests.integration.helpers import ALICE, OURS, workspace


def _history(store: Store) -> None:
    workspace(store)
    services.handle_inbound(store, ALICE, OURS, "STOP", provider_id="SM1")
    services.handle_inbound(store, ALICE, OURS, "START", provider_id="SM2")
    services.send(store, OURS, ALICE, "hello")


def test_untouched_ledger_verifies(store: Store) -> None:
    """A ledger nobody touched verifies: chain intact and states equal to the fold."""
    _history(store)
    result = services.verify(store, "default")
    assert result["ok"] and result["problems"] == [] and result["contacts"] == 1


def test_altered_event_is_found(store: Store) -> None:
    """Changing one stored event's body breaks its hash."""
    _history(store)
    with store.engine.begin() as conn:
        conn.execute(update(t.events).where(t.events.c.provider_id == "SM1")
                     .values(data='{"body":"hello"}'))
    result = services.verify(store, "default")
    assert not result["ok"]
    assert any("altered" in p for p in result["problems"])


def test_removed_last_event_is_found(store: Store) -> None:
    """Deleting the newest event leaves the chain head pointing at nothing."""
    _history(store)
    with store.engine.begin() as conn:
        last = conn.execute(select(t.events.c.seq).order_by(t.events.c.seq.desc())).first()
        assert last is not None
        conn.execute(delete(t.events).where(t.events.c.seq == last.seq))
    assert not services.verify(store, "default")["ok"]


def test_edited_state_is_found(store: Store) -> None:
    """A contact state edited behind the ledger's back no longer equals the fold."""
    _history(store)
    with store.engine.begin() as conn:
        row = conn.execute(select(t.contacts.c.state)).one()
        conn.execute(update(t.contacts).values(
            state=row.state.replace('"opted_in"', '"opted_out"')))
    result = services.verify(store, "default")
    assert not result["ok"]
    assert any("differs" in p for p in result["problems"])


def test_schema_head_constant_matches_alembic() -> None:
    """The head revision the app checks at start-up is Alembic's real head."""
    assert head_revision() == SCHEMA_HEAD
