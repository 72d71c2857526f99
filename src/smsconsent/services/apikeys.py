"""API keys: made once, shown once, stored as a hash; each belongs to one workspace with a role.

A key reads ``sk_<key_id>_<secret>``: the key id finds the row, the SHA-256 of the whole key
must match the stored hash (the secret has 256 bits of entropy, so a plain hash is enough).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from smsconsent.domain.events import SYSTEM, Event, EventType
from smsconsent.domain.free_text import check_text, holds_binary
from smsconsent.domain.roles import Role
from smsconsent.errors import NotFound, Unauthorized
from smsconsent.services.base import Store, load_workspace
from smsconsent.storage import tables as t
from smsconsent.storage.prepared import Prepared

PREFIX = "sk"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's workspace and role. Every query of the caller is scoped by it."""

    workspace_id: int
    workspace_name: str
    role: Role
    key_id: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(store: Store, workspace: str, role: str, *, label: str | None = None,
                   actor: str = SYSTEM) -> dict[str, Any]:
    """Make a key for ``workspace``; the returned ``key`` is the only copy there will be.

    Who may act for the workspace is part of its audit trail: the key's id, role and label
    (never the key or its hash) go into the ledger."""
    parsed = Role.parse(role)
    if label is not None:
        check_text(label, "label", 100)
    key_id = secrets.token_hex(8)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    with store.write(ws.id) as ledger:
        ledger.conn.execute(insert(t.api_keys).values(
            workspace_id=ws.id, key_id=key_id, key_hash=_digest(key), role=parsed.value,
            label=label, created_at=store.now()))
        ledger.record(Event(EventType.API_KEY_CREATED, ledger.recorded_at, actor, data={
            "key_id": key_id, "role": parsed.value, "label": label}))
    return {"key": key, "key_id": key_id, "role": parsed.value, "workspace": ws.name,
            "label": label}


_ACTIVE_KEYS = Prepared(
    select(t.api_keys.c.workspace_id, t.workspaces.c.name, t.api_keys.c.role,
           t.api_keys.c.key_id, t.api_keys.c.key_hash)
    .join(t.workspaces, t.workspaces.c.id == t.api_keys.c.workspace_id)
    .where(t.api_keys.c.key_id == bindparam("key_id"), t.api_keys.c.revoked_at.is_(None))
)


def key_id_and_digest(key: str) -> tuple[str, str]:
    """The key id that finds ``key``'s row and the digest it must match; Unauthorized for a
    malformed key."""
    parts = key.strip().split("_", 2) if isinstance(key, str) else []
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16 or len(key) > 200:
        raise Unauthorized("the API key is malformed", code="invalid_key")
    return parts[1], _digest(key.strip())


def matches(stored_hash: str, digest: str) -> bool:
    """Whether an active key's stored hash is that of the key given (``key_id_and_digest``)."""
    return hmac.compare_digest(stored_hash, digest)


def authenticate(store: Store, key: str) -> Principal:
    """The principal behind ``key``; Unauthorized for a malformed, unknown or revoked key."""
    key_id, digest = key_id_and_digest(key)
    with store.read() as conn:  # read every time: a revoked key is refused at once
        rows = _ACTIVE_KEYS.all(conn, key_id=key_id)
    for workspace_id, name, role, found_id, key_hash in rows:
        if matches(key_hash, digest):
            return Principal(workspace_id, name, Role(role), found_id)
    raise Unauthorized("unknown or revoked API key", code="invalid_key")


def list_api_keys(store: Store, workspace: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        rows = conn.execute(select(t.api_keys).where(t.api_keys.c.workspace_id == ws.id)
                            .order_by(t.api_keys.c.created_at, t.api_keys.c.key_id)).all()
    return [{"key_id": r.key_id, "role": r.role, "label": r.label, "created_at": r.created_at,
             "revoked_at": r.revoked_at} for r in rows]


def revoke_api_key(store: Store, workspace: str, key_id: str, *, actor: str = SYSTEM
                   ) -> dict[str, Any]:
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    if holds_binary(key_id):  # no key's id (from a URL): never sent to the database
        raise NotFound(f"no active key {key_id!r} in this workspace", code="unknown_key")
    with store.write(ws.id) as ledger:
        done = ledger.conn.execute(update(t.api_keys).where(
            t.api_keys.c.workspace_id == ws.id, t.api_keys.c.key_id == key_id,
            t.api_keys.c.revoked_at.is_(None)).values(revoked_at=store.now()))
        if done.rowcount == 0:
            raise NotFound(f"no active key {key_id!r} in this workspace", code="unknown_key")
        ledger.record(Event(EventType.API_KEY_REVOKED, ledger.recorded_at, actor,
                            data={"key_id": key_id}))
    return {"key_id": key_id, "workspace": ws.name, "revoked": True}
