"""The facts the ledger stores: frozen, past-tense, with stable names.

An event is what happened to a contact (or to the workspace, when ``contact`` is None), when it
happened, who did it and the evidence; the ledger adds the sequence number, the recording time
and the hash chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    WORKSPACE_CREATED = "workspace_created"
    WORKSPACE_CHANGED = "workspace_changed"
    NUMBER_ADDED = "number_added"
    LIST_CREATED = "list_created"
    INBOUND_RECEIVED = "inbound_received"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    HELP_REQUESTED = "help_requested"
    LIST_OPTED_OUT = "list_opted_out"
    LIST_SUBSCRIBED = "list_subscribed"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    CONSENT_GRANTED = "consent_granted"
    SEND_ALLOWED = "send_allowed"
    SEND_REFUSED = "send_refused"
    REPLY_SENT = "reply_sent"
    SECRETS_CHANGED = "secrets_changed"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"


CONTACT = "contact"
SYSTEM = "system"


def agent(agent_id: str) -> str:
    """The actor string of a person using the CLI, API or console."""
    return f"agent:{agent_id}"


@dataclass(frozen=True)
class Event:
    type: EventType
    occurred_at: str
    actor: str
    contact: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    provider_id: str | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the ledger holds it: numbered, timed and chained."""

    seq: int
    type: str
    occurred_at: str
    recorded_at: str
    actor: str
    contact: str | None
    data: dict[str, Any]
    provider_id: str | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "contact": self.contact,
            "provider_id": self.provider_id,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
