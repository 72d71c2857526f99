"""Reading the ledger: a contact's status and history, and the audit check."""

from __future__ import annotations

from typing import Any

from smsconsent.domain.consent import ContactState
from smsconsent.services.base import Store, load_workspace, parse_contact
from smsconsent.storage import ledger as ledger_store


def status(store: Store, workspace: str, contact: str) -> dict[str, Any]:
    """The contact's consent as stored (and equal to the ledger's fold; ``audit verify``)."""
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        phone = parse_contact(contact, ws.region)
        state = ledger_store.stored_state(conn, ws.id, phone)
    known = state is not None
    state = state or ContactState(phone)
    return {
        "contact": phone,
        "workspace": ws.name,
        "known": known,
        "status": state.status,
        "blocked": state.blocked,
        "opted_out_scopes": state.opted_out_keys(),
        **{k: v for k, v in state.to_dict().items() if k not in ("phone", "blocked")},
    }


def history(store: Store, workspace: str, contact: str, *, after: int = 0, limit: int = 100
            ) -> dict[str, Any]:
    """The contact's ledger events in the order recorded, a page at a time."""
    if limit < 1 or limit > 1000:
        limit = max(1, min(limit, 1000))
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        phone = parse_contact(contact, ws.region)
        events = ledger_store.events_page(conn, ws.id, contact=phone, after=after, limit=limit)
    return {
        "contact": phone,
        "workspace": ws.name,
        "events": [e.to_dict() for e in events],
        "next_after": events[-1].seq if len(events) == limit else None,
    }


def verify(store: Store, workspace: str) -> dict[str, Any]:
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        result = ledger_store.verify(conn, ws.id)
    return {"workspace": ws.name, **result.to_dict()}
