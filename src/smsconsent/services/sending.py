"""The send gate as use cases: ``check`` answers, ``send`` answers and records.

``send`` decides under the workspace's write lock, on the contact's state, the workspace's
policy and the number's campaign as they are under that lock, so a send can never pass an
opt-out (or a policy change) that committed before it (storage/database.py).
"""

from __future__ import annotations

from sqlalchemy import Connection

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import SYSTEM, Event, EventType, RecordedEvent
from smsconsent.domain.free_text import check_text
from smsconsent.domain.gate import Decision, decide
from smsconsent.domain.workspace import Number, Workspace
from smsconsent.errors import BadInput, Conflict
from smsconsent.services.base import (
    Store,
    addressed,
    find_number,
    known_list,
    known_purpose,
    load_workspace_by_id,
    parse_contact,
    parse_sender,
)
from smsconsent.services.inbound import check_body
from smsconsent.storage.history import stored_state


def _addressed(conn: Connection, sender: str, to: str, workspace: str | None,
               list_name: str | None) -> tuple[Number, Workspace, str] | None:
    """Our sending number, its workspace and the contact; None for a number of no workspace.

    The contact is still checked then, so a bad number is bad input whatever the sender.
    """
    found = addressed(conn, parse_sender(sender), workspace)
    if found is None:
        parse_contact(to, "US")
        return None
    number, ws = found
    contact = parse_contact(to, ws.region)
    known_list(conn, ws.id, list_name)
    return number, ws, contact


def check(store: Store, sender: str, to: str, purpose: str = "informational",
          list_name: str | None = None, *, workspace: str | None = None) -> Decision:
    """May ``sender`` (our number) text ``to`` now? Reads only; records nothing.

    ``workspace`` limits the caller to that workspace's numbers (services/base.our_number).
    """
    purpose = known_purpose(purpose)
    with store.read() as conn:
        found = _addressed(conn, sender, to, workspace, list_name)
        if found is None:
            return Decision(False, "unknown_sender")
        number, ws, contact = found
        state = stored_state(conn, ws.id, contact) or ContactState(contact)
    return decide(state, number.number, number.campaign, purpose, ws.policy, list_name)


def send(store: Store, sender: str, to: str, body: str, purpose: str = "informational",
         list_name: str | None = None, actor: str = SYSTEM, *, workspace: str | None = None,
         idempotency_key: str | None = None) -> Decision:
    """Run the gate and record the outcome (``send_allowed`` or ``send_refused``).

    The decision's ``body`` is the text to hand to the provider, with the opt-out instruction
    appended on a first message (seed 001). With ``idempotency_key`` a retry (the answer to
    the first call lost on the way) gets the first call's decision back and records nothing:
    the key is stored as the event's provider id (``send:KEY``), unique in the workspace.
    """
    purpose = known_purpose(purpose)
    check_body(body)
    replay_id = None
    if idempotency_key is not None:
        check_text(idempotency_key, "the idempotency key", 100)
        if not idempotency_key.strip():
            raise BadInput("the idempotency key is empty", code="bad_idempotency_key")
        replay_id = f"{SEND_KEY_PREFIX}{idempotency_key.strip()}"
    with store.read() as conn:
        found = _addressed(conn, sender, to, workspace, list_name)
        if found is None:
            return Decision(False, "unknown_sender")
        number, ws, contact = found
    with store.write(ws.id) as ledger:
        ws = load_workspace_by_id(ledger.conn, ws.id)
        number = find_number(ledger.conn, number.number) or number
        if replay_id is not None:
            seen = ledger.seen_provider_id(replay_id)
            if seen is not None:
                return _replayed(seen, number.number, contact, body, purpose, list_name)
        state = ledger.state(contact)
        decision = decide(state, number.number, number.campaign, purpose, ws.policy, list_name,
                          body)
        now = ledger.recorded_at
        keyed = {} if replay_id is None else {
            "idempotency_key": replay_id[len(SEND_KEY_PREFIX):], "text": body,
            "first_message": decision.first_message}
        if decision.allowed:
            ledger.record(Event(EventType.SEND_ALLOWED, now, actor, contact, data={
                "from": number.number, "purpose": purpose, "list": list_name,
                "body": decision.body, "reason": decision.reason,
                "footer_added": decision.footer_added, **keyed}, provider_id=replay_id))
        else:
            ledger.record(Event(EventType.SEND_REFUSED, now, actor, contact, data={
                "from": number.number, "purpose": purpose, "list": list_name,
                "body": body, "reason": decision.reason, **keyed}, provider_id=replay_id))
    return decision


SEND_KEY_PREFIX = "send:"


def _replayed(seen: RecordedEvent, sender: str, contact: str, body: str, purpose: str,
              list_name: str | None) -> Decision:
    """The decision a keyed send already recorded; the same key for another send is refused,
    since answering it with the first one's decision would be answering a different question."""
    data = seen.data
    same = (seen.type in (EventType.SEND_ALLOWED.value, EventType.SEND_REFUSED.value)
            and (seen.contact, data.get("from"), data.get("text"), data.get("purpose"),
                 data.get("list")) == (contact, sender, body, purpose, list_name))
    if not same:
        raise Conflict("this idempotency key was already used for a different message",
                       code="idempotency_key_reused")
    allowed = seen.type == EventType.SEND_ALLOWED.value
    return Decision(allowed, data["reason"], first_message=bool(data.get("first_message")),
                    footer_added=bool(data.get("footer_added")),
                    body=data["body"] if allowed else None)
