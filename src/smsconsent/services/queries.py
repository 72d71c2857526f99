"""Reading the ledger: a contact's status and history, and the audit check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from smsconsent.domain.consent import OPTED_IN, OPTED_OUT, ContactState
from smsconsent.errors import BadInput
from smsconsent.services.base import Store, load_workspace, parse_contact
from smsconsent.storage import audit
from smsconsent.storage import history as ledger_history
from smsconsent.storage import tables as t


def status(store: Store, workspace: str, contact: str) -> dict[str, Any]:
    """The contact's consent as stored (and equal to the ledger's fold; ``audit verify``)."""
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        phone = parse_contact(contact, ws.region)
        state = ledger_history.stored_state(conn, ws.id, phone)
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


LAST_SEQ = 2**63 - 1


def history(store: Store, workspace: str, contact: str, *, after: int = 0, limit: int = 100
            ) -> dict[str, Any]:
    """The contact's ledger events in the order recorded, a page at a time."""
    if limit < 1 or limit > 1000:
        limit = max(1, min(limit, 1000))
    # Past the largest sequence number a BIGINT holds there is nothing, as past the last one
    # (the database would refuse to compare with a larger number).
    after = max(0, min(after, LAST_SEQ))
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        phone = parse_contact(contact, ws.region)
        events = ledger_history.events_page(conn, ws.id, contact=phone, after=after, limit=limit)
    return {
        "contact": phone,
        "workspace": ws.name,
        "events": [e.to_dict() for e in events],
        "next_after": events[-1].seq if len(events) == limit else None,
    }


def verify(store: Store, workspace: str) -> dict[str, Any]:
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        result = audit.verify(conn, ws.id)
    return {"workspace": ws.name, **result.to_dict()}


CONTACT_STATUSES = (OPTED_IN, OPTED_OUT, "unknown")


def list_contacts(store: Store, workspace: str, status: str | None = None,
                  blocked: bool | None = None, list_name: str | None = None,
                  q: str | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """A page of the workspace's contacts from the summary columns (no ledger fold), for the
    console's search: ``q`` matches digits anywhere in the number, ``list_name`` a current
    subscription."""
    if status is not None and status not in CONTACT_STATUSES:
        raise BadInput(f"status must be one of {', '.join(CONTACT_STATUSES)}, not {status!r}")
    if not 1 <= per_page <= 500:
        raise BadInput("per_page must be between 1 and 500")
    page = max(1, page)
    c = t.contacts.c
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        where = [c.workspace_id == ws.id]
        if status is not None:
            where.append(c.status == status)
        if blocked is not None:
            where.append(c.blocked.is_(blocked))
        if list_name:
            where.append(c.lists.contains(f",{list_name},", autoescape=True))
        digits = "".join(ch for ch in (q or "") if ch.isdigit())
        if digits:
            where.append(c.phone.contains(digits, autoescape=True))
        total = conn.execute(select(func.count()).select_from(t.contacts).where(*where)
                             ).scalar_one()
        rows = conn.execute(select(c.phone, c.status, c.blocked, c.lists, c.updated_at)
                            .where(*where).order_by(c.phone)
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "workspace": ws.name, "page": page, "per_page": per_page, "total": total,
        "has_next": page * per_page < total,
        "contacts": [{"phone": r.phone, "status": r.status, "blocked": bool(r.blocked),
                      "lists": [n for n in r.lists.split(",") if n],
                      "updated_at": r.updated_at} for r in rows],
    }
