"""What people do to a contact by hand (seed 000's ^opt-out / ^opt-in, seed 002's checkboxes).

Guardrails, from the seeds: an opt-out by an agent is always allowed and logged; opting back in
a contact who opted out themselves needs recorded evidence of new express consent (seeds 002,
003); a blocked contact must be unblocked first; no confirmation text is sent for an agent's
change (a second confirmation after the carrier's is an error, Spoke #2184).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from smsconsent.domain.consent import CONSENT_TYPES, OPTED_OUT, SUBSCRIBED
from smsconsent.domain.events import Event, EventType, agent
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.workspace import Workspace
from smsconsent.errors import BadInput, Refused
from smsconsent.services.base import (
    Store,
    known_list,
    load_workspace,
    parse_contact,
    require_text,
)


def _agent(by: str) -> str:
    return agent(require_text(by, "the agent (--by)", 100))


def _evidence(evidence: str | None) -> str | None:
    if evidence is None or not evidence.strip():
        return None
    return require_text(evidence, "evidence", 2000)


def _contact_of(store: Store, workspace: str, contact: str) -> tuple[Workspace, str]:
    """The workspace, and the contact's number read with its region."""
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    return ws, parse_contact(contact, ws.region)


def _result(action: str, contact: str, workspace: str, **extra: Any) -> dict[str, Any]:
    return {"action": action, "contact": contact, "workspace": workspace, **extra}


def opt_out(store: Store, workspace: str, contact: str, *, by: str,
            evidence: str | None = None, channel: str = "sms") -> dict[str, Any]:
    """Opt a contact out of every number of the workspace; always allowed, always logged."""
    actor, proof = _agent(by), _evidence(evidence)
    if channel not in ("sms", "voice", "email"):
        raise BadInput("channel must be sms, voice or email")
    ws, phone = _contact_of(store, workspace, contact)
    with store.write(ws.id) as ledger:
        already = ledger.state(phone).is_opted_out((f"{channel}:workspace",))
        ledger.record(Event(EventType.OPTED_OUT, ledger.recorded_at, actor, phone, data={
            "keys": [f"{channel}:workspace"], "method": "agent", "source": "agent",
            "evidence": proof}))
    return _result("already_opted_out" if already else "opted_out", phone, ws.name)


def opt_in(store: Store, workspace: str, contact: str, *, by: str,
           evidence: str | None = None) -> dict[str, Any]:
    """Opt a contact back in, within the guardrails; raises Refused saying which one."""
    actor, proof = _agent(by), _evidence(evidence)
    ws, phone = _contact_of(store, workspace, contact)
    with store.write(ws.id) as ledger:
        state = ledger.state(phone)
        if state.blocked:
            raise Refused(f"{phone} is blocked: unblock before opting in", code="blocked")
        keys = state.opted_out_keys()
        undo_agent = bool(keys) and not state.opted_out_by_contact()
        if proof is None and not undo_agent:
            why = ("opted out themselves" if keys else "has given no recorded consent")
            raise Refused(
                f"{phone} {why}: opting in needs --evidence of new express consent "
                "(when, how and what the contact agreed to)", code="evidence_required")
        ledger.record(Event(EventType.OPTED_IN, ledger.recorded_at, actor, phone, data={
            "keys": keys or ["sms:workspace"], "type": "express", "source": "agent",
            "method": "agent", "evidence": proof}))
    return _result("opted_in", phone, ws.name, evidence=proof)


def block(store: Store, workspace: str, contact: str, *, by: str,
          evidence: str | None = None) -> dict[str, Any]:
    """Block a contact: opted out, inbound dropped (but logged), sends refused (seed 002)."""
    actor, proof = _agent(by), _evidence(evidence)
    ws, phone = _contact_of(store, workspace, contact)
    with store.write(ws.id) as ledger:
        if ledger.state(phone).blocked:
            return _result("already_blocked", phone, ws.name)
        ledger.record(Event(EventType.BLOCKED, ledger.recorded_at, actor, phone,
                            data={"evidence": proof}))
    return _result("blocked", phone, ws.name)


def unblock(store: Store, workspace: str, contact: str, *, by: str,
            evidence: str | None = None) -> dict[str, Any]:
    """Unblock a contact; they stay opted out until opted in with evidence."""
    actor, proof = _agent(by), _evidence(evidence)
    ws, phone = _contact_of(store, workspace, contact)
    with store.write(ws.id) as ledger:
        if not ledger.state(phone).blocked:
            return _result("not_blocked", phone, ws.name)
        ledger.record(Event(EventType.UNBLOCKED, ledger.recorded_at, actor, phone,
                            data={"evidence": proof}))
    return _result("unblocked", phone, ws.name)


def _refuse_if_out(state: Any, phone: str) -> None:
    if state.blocked:
        raise Refused(f"{phone} is blocked: unblock before recording consent", code="blocked")
    if state.opted_out_keys(tuple(k for k in state.consents if k.startswith("sms:"))):
        raise Refused(f"{phone} is opted out: opt them in with evidence first",
                      code="opted_out")


def grant_consent(store: Store, workspace: str, contact: str, *, type_: str, purpose: str,
                  evidence: str | None, by: str) -> dict[str, Any]:
    """Record consent with its evidence; marketing needs express written consent (seed 003)."""
    actor = _agent(by)
    proof = require_text(evidence, "evidence", 2000)
    if type_ not in CONSENT_TYPES:
        raise BadInput(f"type must be one of {', '.join(CONSENT_TYPES)}, not {type_!r}")
    if purpose not in PURPOSES:
        raise BadInput(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    if purpose == "marketing" and type_ != "express_written":
        raise BadInput("marketing consent must be express_written (TCPA)",
                       code="marketing_needs_express_written")
    ws, phone = _contact_of(store, workspace, contact)
    with store.write(ws.id) as ledger:
        _refuse_if_out(ledger.state(phone), phone)
        ledger.record(Event(EventType.CONSENT_GRANTED, ledger.recorded_at, actor, phone, data={
            "purpose": purpose, "type": type_, "evidence": proof, "channel": "sms"}))
    return _result("consent_granted", phone, ws.name, purpose=purpose, type=type_)


def _require_list(conn: Connection, ws: Workspace, list_name: str) -> None:
    known_list(conn, ws.id, list_name)


def subscribe(store: Store, workspace: str, list_name: str, contact: str, *,
              evidence: str | None, by: str = "cli") -> dict[str, Any]:
    """Put a contact on a list; the evidence is what lets marketing to that list through."""
    actor = _agent(by)
    proof = require_text(evidence, "evidence", 2000)
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        _require_list(conn, ws, list_name)
    phone = parse_contact(contact, ws.region)
    with store.write(ws.id) as ledger:
        state = ledger.state(phone)
        _refuse_if_out(state, phone)
        sub = state.lists.get(list_name)
        action = "already_subscribed" if sub and sub.status == SUBSCRIBED else "subscribed"
        if sub is not None and sub.status == OPTED_OUT:
            action = "resubscribed"
        ledger.record(Event(EventType.LIST_SUBSCRIBED, ledger.recorded_at, actor, phone, data={
            "list": list_name, "evidence": proof, "method": "agent"}))
    return _result(action, phone, ws.name, list=list_name)


def unsubscribe(store: Store, workspace: str, list_name: str, contact: str, *,
                by: str = "cli", evidence: str | None = None) -> dict[str, Any]:
    """Take a contact off a list by hand (seed 002: the agent's list checkbox); always
    allowed, like any agent opt-out, and it leaves every other list and consent as it was."""
    actor, proof = _agent(by), _evidence(evidence)
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        _require_list(conn, ws, list_name)
    phone = parse_contact(contact, ws.region)
    with store.write(ws.id) as ledger:
        sub = ledger.state(phone).lists.get(list_name)
        if sub is not None and sub.status == OPTED_OUT:
            return _result("already_unsubscribed", phone, ws.name, list=list_name)
        ledger.record(Event(EventType.LIST_OPTED_OUT, ledger.recorded_at, actor, phone, data={
            "list": list_name, "method": "agent", "evidence": proof}))
    return _result("unsubscribed", phone, ws.name, list=list_name)
