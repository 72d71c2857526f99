"""A ledger written with plain SQL the way schemas before 0004 stored it: ``prev_hash`` beside
every event and each contact state as ``to_dict``'s JSON (phone and nulls included). What an
existing database holds, for the migration tests; nothing here uses today's write path."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from smsconsent.domain.consent import ContactState
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.replies import Templates
from smsconsent.storage.chain import GENESIS, canonical, event_hash
from smsconsent.storage.contact_row import state_row

NOW = "2026-01-02T03:04:05.000000Z"


def old_workspace(conn: Connection, name: str, number: str) -> int:
    """A workspace row and its sending number; returns the workspace's id."""
    conn.execute(text(
        "INSERT INTO workspaces (name, business_name, contact, region, policy, templates, "
        "secrets, head_seq, head_hash, created_at) VALUES (:n, 'Acme', 'help@acme.test', 'US', "
        ":p, :t, '{}', 0, :h, :now)"),
        {"n": name, "p": json.dumps(WorkspacePolicy().to_dict()),
         "t": json.dumps(Templates().to_dict()), "h": GENESIS, "now": NOW})
    ws_id = int(conn.execute(text("SELECT id FROM workspaces WHERE name = :n"),
                             {"n": name}).scalar_one())
    conn.execute(text("INSERT INTO numbers (number, workspace_id, kind, created_at) "
                      "VALUES (:num, :ws, 'long_code', :now)"),
                 {"num": number, "ws": ws_id, "now": NOW})
    return ws_id


def old_append(conn: Connection, ws_id: int,
               events: list[tuple[str, str | None, str, str, dict[str, Any]]],
               provider_ids: list[str | None] | None = None) -> None:
    """Append ``(type, contact, occurred_at, actor, data)`` events to the chain, with their
    ``prev_hash`` stored, and store the moved states in the old JSON form."""
    ids = provider_ids or [None] * len(events)
    seq, prev = conn.execute(text("SELECT head_seq, head_hash FROM workspaces WHERE id = :ws"),
                             {"ws": ws_id}).one()
    moved: dict[str, ContactState] = {}
    for (type_, contact, occurred_at, actor, data), provider_id in zip(events, ids, strict=True):
        seq += 1
        data_json = canonical(data)
        digest = event_hash(prev, seq, type_, contact, occurred_at, NOW, actor, provider_id,
                            data_json)
        conn.execute(text(
            "INSERT INTO events (workspace_id, seq, type, contact, occurred_at, recorded_at, "
            "actor, provider_id, data, prev_hash, hash) VALUES (:ws, :seq, :type, :contact, "
            ":at, :now, :actor, :pid, :data, :prev, :hash)"),
            {"ws": ws_id, "seq": seq, "type": type_, "contact": contact, "at": occurred_at,
             "now": NOW, "actor": actor, "pid": provider_id, "data": data_json, "prev": prev,
             "hash": digest})
        prev = digest
        if contact is not None:
            if contact not in moved:
                stored = conn.execute(text(
                    "SELECT state FROM contacts WHERE workspace_id = :ws AND phone = :p"),
                    {"ws": ws_id, "p": contact}).scalar()
                moved[contact] = (ContactState.from_dict(json.loads(stored)) if stored
                                  else ContactState(contact))
            moved[contact].apply(type_, occurred_at, actor, data)
    for phone, state in moved.items():
        row = state_row(ws_id, state, NOW)
        row["state"] = canonical(state.to_dict())  # the old form: phone, nulls and all
        conn.execute(text("DELETE FROM contacts WHERE workspace_id = :ws AND phone = :p"),
                     {"ws": ws_id, "p": phone})
        conn.execute(text(
            "INSERT INTO contacts (workspace_id, phone, status, blocked, lists, state, "
            "updated_at) VALUES (:workspace_id, :phone, :status, :blocked, :lists, :state, "
            ":updated_at)"), row)
    conn.execute(text("UPDATE workspaces SET head_seq = :seq, head_hash = :h WHERE id = :ws"),
                 {"seq": seq, "h": prev, "ws": ws_id})


def old_events(conn: Connection, ws_id: int) -> list[tuple[Any, ...]]:
    """Every event as stored, ``prev_hash`` included, in chain order."""
    return [tuple(r) for r in conn.execute(text(
        "SELECT seq, type, occurred_at, recorded_at, actor, contact, provider_id, data, "
        "prev_hash, hash FROM events WHERE workspace_id = :ws ORDER BY seq"), {"ws": ws_id})]


def old_states(conn: Connection, ws_id: int) -> dict[str, ContactState]:
    """Every stored state, read as older code read it (the phone from the JSON)."""
    return {phone: ContactState.from_dict(json.loads(state)) for phone, state in conn.execute(
        text("SELECT phone, state FROM contacts WHERE workspace_id = :ws"), {"ws": ws_id})}


def history(alice: str, bob: str, number: str) -> list[tuple[str, str | None, str, str,
                                                               dict[str, Any]]]:
    """Opt-outs (keyword, import, a number scope), START with evidence, a list, a grant, a
    send, a block: every kind of value a state holds, nulls included."""
    t = "2025-05-0{}T10:00:00.000000Z".format
    return [
        ("opted_out", alice, t(1), "contact",
         {"keys": ["sms:workspace"], "method": "inbound_sms_keyword", "source": "inbound"}),
        ("opted_out", bob, t(1), "agent:root",
         {"keys": ["sms:workspace"], "method": "import", "source": "import",
          "evidence": None, "file": "old.csv"}),
        ("opted_in", alice, t(2), "agent:alice",
         {"keys": ["sms:workspace"], "type": "express", "source": "agent",
          "method": "agent", "evidence": "signed form"}),
        ("list_subscribed", alice, t(3), "agent:alice", {"list": "deals", "evidence": "JOIN"}),
        ("consent_granted", alice, t(4), "agent:alice",
         {"purpose": "marketing", "type": "express_written", "evidence": "form"}),
        ("send_allowed", alice, t(5), "system", {"to": alice, "from": number}),
        ("opted_out", alice, t(6), "contact",
         {"keys": [f"sms:number:{number}"], "method": "inbound_sms_phrase"}),
        ("blocked", bob, t(7), "agent:root", {"reason": "abuse"}),
    ]
