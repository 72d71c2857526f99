"""A contact's consent state, and the one function that moves it: ``ContactState.apply``.

The state is never edited any other way: the stored copy is the fold of the ledger's events for
the contact, so it can always be rebuilt from the ledger and compared (seed 003: "the event is
logged for audit").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smsconsent.domain.events import EventType

OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
SUBSCRIBED = "subscribed"
CONSENT_TYPES = ("express", "express_written", "implied")  # what an opt-in may record

# Opt-outs the contact made themselves: undoing one needs evidence of new express consent.
CONTACT_METHODS = frozenset({"inbound_sms_keyword", "inbound_sms_phrase", "import", "block"})
# Opt-outs the contact texted.
TEXTED_METHODS = frozenset({"inbound_sms_keyword", "inbound_sms_phrase"})


@dataclass
class Consent:
    """Consent for one channel and scope (``sms:workspace``, ``sms:number:+1...``)."""

    status: str
    type: str | None = None
    source: str | None = None
    method: str | None = None
    opted_in_at: str | None = None
    opted_out_at: str | None = None
    by: str | None = None


@dataclass
class Subscription:
    """Membership of a contact list (seed 002); marketing to a list needs its evidence."""

    status: str
    evidence: str | None = None
    at: str | None = None
    method: str | None = None


@dataclass
class ContactState:
    phone: str
    blocked: bool = False
    consents: dict[str, Consent] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    lists: dict[str, Subscription] = field(default_factory=dict)
    first_sent_at: str | None = None
    last_at: str | None = None

    # -- reading -----------------------------------------------------------------------------
    def opted_out_keys(self, keys: tuple[str, ...] | None = None) -> list[str]:
        """The keys (of ``keys``, or all) whose consent is opted out now."""
        return [
            k
            for k, c in self.consents.items()
            if c.status == OPTED_OUT and (keys is None or k in keys)
        ]

    def is_opted_out(self, keys: tuple[str, ...]) -> bool:
        return bool(self.opted_out_keys(keys))

    def opted_out_by_contact(self) -> bool:
        """Whether any opt-out in force was the contact's own (keyword, phrase, import, block)."""
        return any(self.consents[k].method in CONTACT_METHODS for k in self.opted_out_keys())

    @property
    def status(self) -> str:
        """A one-word summary for lists and filters: opted_out wins over opted_in."""
        if self.opted_out_keys(tuple(k for k in self.consents if k.startswith("sms:"))):
            return OPTED_OUT
        if any(c.status == OPTED_IN for c in self.consents.values()):
            return OPTED_IN
        return "unknown"

    # -- the state machine --------------------------------------------------------------------
    def apply(self, type_: str, occurred_at: str, actor: str, data: dict[str, Any]) -> None:
        """Move the state by one recorded event; events that change nothing are ignored."""
        if self.last_at is None or occurred_at > self.last_at:
            self.last_at = occurred_at
        handler = _HANDLERS.get(type_)
        if handler is not None:
            handler(self, occurred_at, actor, data)

    def to_dict(self) -> dict[str, Any]:
        """The state as plain data: what ``asdict`` gives, built by hand (a bulk import
        serialises a million states, and ``asdict``'s deep copy is most of that time)."""
        return {
            "phone": self.phone,
            "blocked": self.blocked,
            "consents": {k: c.__dict__.copy() for k, c in self.consents.items()},
            "grants": {k: dict(g) for k, g in self.grants.items()},
            "lists": {k: s.__dict__.copy() for k, s in self.lists.items()},
            "first_sent_at": self.first_sent_at,
            "last_at": self.last_at,
        }

    def to_stored(self) -> dict[str, Any]:
        """The state as the ``contacts`` row stores it: ``to_dict`` without the phone (the
        row's key) and without what ``from_dict`` restores anyway (None, False, empty maps).
        A million imported states are a third smaller so; ``grants`` are kept as they are."""
        out: dict[str, Any] = {}
        if self.blocked:
            out["blocked"] = True
        if self.consents:
            out["consents"] = {k: {f: v for f, v in c.__dict__.items() if v is not None}
                               for k, c in self.consents.items()}
        if self.grants:
            out["grants"] = {k: dict(g) for k, g in self.grants.items()}
        if self.lists:
            out["lists"] = {k: {f: v for f, v in s.__dict__.items() if v is not None}
                            for k, s in self.lists.items()}
        if self.first_sent_at is not None:
            out["first_sent_at"] = self.first_sent_at
        if self.last_at is not None:
            out["last_at"] = self.last_at
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], phone: str | None = None) -> ContactState:
        """The state from ``to_dict``'s form or ``to_stored``'s (whose phone is ``phone``)."""
        return cls(
            phone=data["phone"] if phone is None else phone,
            blocked=data.get("blocked", False),
            consents={k: Consent(**v) for k, v in data.get("consents", {}).items()},
            grants=dict(data.get("grants", {})),
            lists={k: Subscription(**v) for k, v in data.get("lists", {}).items()},
            first_sent_at=data.get("first_sent_at"),
            last_at=data.get("last_at"),
        )


def _opted_out(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    for key in d["keys"]:
        old = s.consents.get(key)
        if old is not None and old.status == OPTED_OUT and not (
                d.get("method") in TEXTED_METHODS and old.method not in CONTACT_METHODS):
            # The first opt-out in force stands: its method decides the guardrails. Only the
            # contact's own text outranks an agent's opt-out (undone without evidence).
            continue
        s.consents[key] = Consent(
            status=OPTED_OUT,
            type=old.type if old else None,
            source=d.get("source"),
            method=d.get("method"),
            opted_in_at=old.opted_in_at if old else None,
            opted_out_at=at,
            by=actor,
        )
    if any(k.startswith("sms:") for k in d["keys"]):
        _revoke_marketing(s, at)


def _revoke_marketing(s: ContactState, at: str) -> None:
    """A revocation ends marketing consent too: after START, marketing needs new evidence."""
    s.grants.pop("marketing", None)
    for sub in s.lists.values():
        if sub.status == SUBSCRIBED:
            sub.status, sub.at, sub.method = OPTED_OUT, at, "opt_out"


def _opted_in(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    for key in d["keys"]:
        s.consents[key] = Consent(
            status=OPTED_IN,
            type=d.get("type", "express"),
            source=d.get("source"),
            method=d.get("method"),
            opted_in_at=at,
            opted_out_at=None,
            by=actor,
        )


def _blocked(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    s.blocked = True
    _opted_out(s, at, actor, {"keys": ["sms:workspace"], "source": "agent", "method": "block"})


def _unblocked(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    s.blocked = False


def _list_subscribed(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    s.lists[d["list"]] = Subscription(SUBSCRIBED, d.get("evidence"), at, d.get("method"))


def _list_opted_out(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    s.lists[d["list"]] = Subscription(OPTED_OUT, None, at, d.get("method"))


def _consent_granted(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    s.grants[d["purpose"]] = {
        "type": d["type"],
        "evidence": d.get("evidence"),
        "at": at,
        "by": actor,
    }


def _send_allowed(s: ContactState, at: str, actor: str, d: dict[str, Any]) -> None:
    if s.first_sent_at is None:
        s.first_sent_at = at


_HANDLERS = {
    EventType.OPTED_OUT.value: _opted_out,
    EventType.OPTED_IN.value: _opted_in,
    EventType.BLOCKED.value: _blocked,
    EventType.UNBLOCKED.value: _unblocked,
    EventType.LIST_SUBSCRIBED.value: _list_subscribed,
    EventType.LIST_OPTED_OUT.value: _list_opted_out,
    EventType.CONSENT_GRANTED.value: _consent_granted,
    EventType.SEND_ALLOWED.value: _send_allowed,
}
