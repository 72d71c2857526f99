"""Handle one inbound text: read it, change consent as it asks, owe at most one reply.

The order is the rules' order: a replayed provider id changes nothing; a blocked contact's
message is logged and dropped (seed 002); STOP opts out at the workspace's scope with one
confirmation (seeds 001, 003, 004; FCC: one, no marketing); START opts back in with one
confirmation; HELP is answered even after STOP (CTIA); with re-opt-on-message any other text
from an opted-out contact opts them back in (seed 002). The reply is returned only once the
ledger change has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, bindparam, select

from smsconsent.domain.classification import Classification, Intent, KeywordPolicy
from smsconsent.domain.classifier import classify
from smsconsent.domain.clock import arrival_time
from smsconsent.domain.consent import CONTACT_METHODS, OPTED_IN, OPTED_OUT
from smsconsent.domain.events import CONTACT, SYSTEM, Event, EventType, RecordedEvent
from smsconsent.domain.free_text import check_text
from smsconsent.domain.phones import NumberKind
from smsconsent.domain.scopes import keys_covering, scope_key
from smsconsent.domain.workspace import Number, Workspace
from smsconsent.errors import BadInput, NotFound
from smsconsent.services.base import (
    Store,
    addressed,
    find_number,
    load_workspace_by_id,
    parse_contact,
    parse_sender,
)
from smsconsent.storage import tables as t
from smsconsent.storage.history import contact_events, fold
from smsconsent.storage.ledger import Ledger
from smsconsent.storage.prepared import Prepared

MAX_BODY = 5000
LIST_STOP_REPLY = ("You will not receive any further {list} messages from {business}. "
                   "Reply STOP to stop all messages.")

# Called inside the transaction when a reply is owed, for adapters that deliver later (outbox).
ReplyHook = Callable[[Connection, Workspace, str, str, str], None]


@dataclass(frozen=True)
class InboundResult:
    workspace: str
    contact: str
    intent: str
    action: str
    reply: str | None
    duplicate: bool
    classification: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "contact": self.contact,
            "intent": self.intent,
            "action": self.action,
            "reply": self.reply,
            "duplicate": self.duplicate,
            "classification": self.classification,
        }


_LIST_KEYWORDS = Prepared(select(t.contact_lists.c.name, t.contact_lists.c.keyword).where(
    t.contact_lists.c.workspace_id == bindparam("ws"), t.contact_lists.c.keyword.is_not(None))
    .order_by(t.contact_lists.c.name))

# A number of ours, its workspace, and the workspace's lists that have a keyword (name,
# keyword; by name): all an inbound text reads before the lock.
Addressed = tuple[Number, Workspace, tuple[tuple[str, str], ...]]


def keyword_policy(ws: Workspace, number: Number, lists: tuple[tuple[str, str], ...]
                   ) -> KeywordPolicy:
    """The workspace's keywords, its ``lists``' keywords, and no YES on a toll-free number."""
    toll_free = number.kind == NumberKind.TOLL_FREE.value
    if not lists and not toll_free:
        return ws.policy.keywords
    key = (id(ws.policy.keywords), lists, toll_free)
    found = _MERGED.get(key)
    if found is None or found[0] is not ws.policy.keywords:
        if len(_MERGED) >= 1024:
            _MERGED.clear()
        found = _MERGED[key] = (ws.policy.keywords,
                                _merged_policy(ws.policy.keywords, lists, toll_free))
    return found[1]


# Merged policies by (the workspace policy's identity, the lists' keywords, toll-free): the
# workspace's parsed policy is one object while its stored text is unchanged (services/base),
# so an unchanged policy gives the same merged object on every text (the classifier finds its
# compiled form by identity) and a change, being a new object, is seen at once.
_MERGED: dict[tuple[int, tuple[tuple[str, str], ...], bool],
              tuple[KeywordPolicy, KeywordPolicy]] = {}


def _merged_policy(policy: KeywordPolicy, lists: tuple[tuple[str, str], ...], toll_free: bool
                   ) -> KeywordPolicy:
    if lists:
        merged = dict(policy.list_keywords)
        merged.update({keyword: name for name, keyword in lists})
        policy = replace(policy, list_keywords=merged)
    if toll_free and policy.yes_opts_in:
        policy = replace(policy, yes_opts_in=False)
    return policy


def check_body(body: str) -> str:
    if not isinstance(body, str) or not body.strip():
        raise BadInput("the message body is empty", code="empty_body")
    check_text(body, "the message body", MAX_BODY)
    return body


@dataclass(frozen=True)
class Inbound:
    """An inbound text read and classified, before the lock: what ``record_inbound`` needs."""

    our: str
    contact: str
    body: str
    number: Number
    workspace: Workspace
    reading: Classification
    provider_id: str | None
    occurred: str | None
    provider_handled: bool
    on_reply: ReplyHook | None
    unread_stop: bool = False  # strict matching left unread a text standard reads as STOP


def handle_inbound(store: Store, sender: str, to: str, body: str, *,
                   provider_id: str | None = None, at: str | None = None,
                   provider_handled: bool = False, on_reply: ReplyHook | None = None,
                   workspace: str | None = None) -> InboundResult:
    """Record an inbound text from ``sender`` to our number ``to`` and act on it.

    ``provider_handled``: the provider already answered the keyword (Twilio Advanced Opt-Out),
    so the change is recorded and no second reply is owed. ``workspace`` limits the caller
    (an API key, a webhook URL) to that workspace's numbers.
    """
    inbound = read_inbound(store, sender, to, body, provider_id=provider_id, at=at,
                           provider_handled=provider_handled, on_reply=on_reply,
                           workspace=workspace)
    with store.write(inbound.workspace.id) as ledger:
        return record_inbound(ledger, inbound)


def read_inbound(store: Store, sender: str, to: str, body: str, *,
                 provider_id: str | None = None, at: str | None = None,
                 provider_handled: bool = False, on_reply: ReplyHook | None = None,
                 workspace: str | None = None, found: Addressed | None = None,
                 handled_as: str | None = None) -> Inbound:
    """The first half of ``handle_inbound``: check and classify the text, reading only (no
    lock), so the HTTP service can run it on its event loop and hand the second half to the
    group commit (services/group_commit.GroupCommit).

    ``found``: what ``addressed`` and the lists' keywords give for ``to`` and ``workspace``,
    when the caller read them already (services/hot_reads.py), so they are not read again.
    ``handled_as``: what the provider's own opt-out handling did with the text (Twilio's
    ``OptOutType``), which ``provider_reading`` makes the reading."""
    check_body(body)
    our = parse_sender(to)
    occurred = arrival_time(at, store.clock()) if at else None
    if provider_id is not None:
        check_text(provider_id, "the provider message id", 128)
        provider_id = provider_id.strip() or None
    if found is None:
        with store.read() as conn:
            pair = addressed(conn, our, workspace)
            if pair is None:
                raise NotFound(f"{our} is not a number of any workspace", code="unknown_number")
            found = (*pair, tuple(_LIST_KEYWORDS.all(conn, ws=pair[1].id)))
    number, ws, lists = found
    contact = parse_contact(sender, ws.region)
    policy = keyword_policy(ws, number, lists)
    reading = classify(body, policy)  # outside the lock: the text is read as it arrived
    if handled_as is not None:
        reading = provider_reading(reading, handled_as)
    # Re-opting on any message must not read "please stop all messages", which strict matching
    # leaves as none, as a wish to come back.
    unread_stop = (ws.policy.reopt_on_message and reading.intent is Intent.NONE
                   and policy.matching == "strict"
                   and classify(body, replace(policy, matching="standard")).intent
                   is Intent.OPT_OUT)
    return Inbound(our, contact, body, number, ws, reading, provider_id, occurred,
                   provider_handled, on_reply, unread_stop)


# What Twilio's Advanced Opt-Out did with a text (its ``OptOutType``).
_PROVIDER_INTENTS = {"STOP": Intent.OPT_OUT, "START": Intent.OPT_IN, "HELP": Intent.HELP}


def provider_reading(reading: Classification, handled_as: str) -> Classification:
    """The reading of a text the provider's own opt-out handling already acted on.

    Twilio's Advanced Opt-Out may hold keywords of its own (a Messaging Service's custom
    lists); once it has opted a contact out it refuses every send to them, whatever we read.
    So what it did is what the ledger records, with an explanation that says so; a text we
    read the same way keeps our reading.
    """
    intent = _PROVIDER_INTENTS.get(handled_as)
    if intent is None or (reading.intent is intent and reading.list is None):
        return reading
    return Classification(intent, "keyword", None, reading.language, None,
                          f"the provider's own opt-out handling answered this text as "
                          f"{handled_as} (Twilio OptOutType); our reading was "
                          f"{reading.intent.value}")


def record_inbound(ledger: Ledger, inbound: Inbound) -> InboundResult:
    """The second half of ``handle_inbound``, under the workspace's lock: act on the text and
    record it; the reply is owed once the transaction commits."""
    our, contact, reading = inbound.our, inbound.contact, inbound.reading
    provider_id = inbound.provider_id
    # The scope and campaign an opt-out is recorded under are those under the lock: read
    # once per transaction, as a number of ours and our workspace's row change only under
    # the lock held (storage/database.py), and the texts of a group change neither.
    found = ledger.held.get(our) or addressed(ledger.conn, our, None)
    if found is not None and found[1].id == inbound.workspace.id:
        number, ws = ledger.held[our] = found  # the usual case, in one query
    else:
        ws = load_workspace_by_id(ledger.conn, inbound.workspace.id)
        number = find_number(ledger.conn, our) or inbound.number
    if provider_id is not None:
        seen = ledger.seen_provider_id(provider_id, contact=contact)
        if seen is not None:
            return InboundResult(ws.name, contact, seen.data.get("intent", "none"),
                                 "duplicate", None, True, seen.data.get("classification", {}))
    when = inbound.occurred or ledger.recorded_at
    changes: list[Event] = []
    action, reply, kind = _act(ledger, ws, number, contact, reading, when,
                               inbound.provider_handled, changes, inbound.unread_stop)
    if changes and _overtaken(ledger, number, contact, when, action, reading.list, changes):
        action, reply, kind = "superseded", None, None
    ledger.append(Event(EventType.INBOUND_RECEIVED, when, CONTACT, contact, data={
        "body": inbound.body, "to": our, "intent": reading.intent.value, "action": action,
        "classification": reading.to_dict()}, provider_id=provider_id))
    for change in changes:
        ledger.append(change)
    if reply is not None:
        ledger.append(Event(EventType.REPLY_SENT, ledger.recorded_at, SYSTEM, contact, data={
            "kind": kind, "body": reply, "from": our, "language": reading.language or "en",
            "via": "outbox" if inbound.on_reply else "inline"}))
        if inbound.on_reply is not None:
            inbound.on_reply(ledger.conn, ws, our, contact, reply)
    return InboundResult(ws.name, contact, reading.intent.value, action, reply, False,
                         reading.to_dict())


def _overtaken(ledger: Ledger, number: Number, contact: str, when: str, action: str,
               list_name: str | None, changes: list[Event]) -> bool:
    """Whether a text delivered late is undone by what the contact did after it.

    The fold places a change by the time it happened, so a START older than a STOP already
    recorded (or a STOP older than a START) leaves the present as it was: the newer wish wins.
    Such a text is still recorded, but it owes no reply: "resubscribed" after a later STOP
    would be a message after STOP, and "unsubscribed" after a later START is false.
    """
    latest = ledger.state(contact).last_at
    if latest is None or when >= latest:
        return False  # the usual case: nothing recorded happened after this text
    events = contact_events(ledger.conn, ledger.workspace_id, contact)
    top = ledger.head_seq
    events += [RecordedEvent(top + i, change.type.value, change.occurred_at, "", change.actor,
                             contact, change.data, None, "", "")
               for i, change in enumerate(changes, start=1)]
    after = fold(contact, events)
    covering = keys_covering(number.number, number.campaign)
    if action == "opted_out":
        return not after.is_opted_out(covering)
    if action in ("opted_in", "opted_in_by_message"):
        return after.is_opted_out(covering)
    if action == "list_opted_out" and list_name is not None:
        sub = after.lists.get(list_name)
        return sub is None or sub.status != OPTED_OUT
    return False


def _act(ledger: Ledger, ws: Workspace, number: Number, contact: str, reading: Classification,
         when: str, provider_handled: bool, changes: list[Event], unread_stop: bool
         ) -> tuple[str, str | None, str | None]:
    """Decide the consent change (into ``changes``); return (action, reply text, reply kind)."""
    state = ledger.state(contact)
    covering = keys_covering(number.number, number.campaign)
    out_here = state.is_opted_out(covering)
    intent = reading.intent
    if state.blocked:
        return "dropped_blocked", None, None
    if intent is Intent.OPT_OUT and reading.list:
        sub = state.lists.get(reading.list)
        if sub is not None and sub.status == OPTED_OUT:
            return "already_list_opted_out", None, None
        changes.append(Event(EventType.LIST_OPTED_OUT, when, CONTACT, contact, data={
            "list": reading.list, "method": "inbound_sms_list_keyword",
            "keyword": reading.keyword}))
        text = LIST_STOP_REPLY.format(list=reading.list, business=ws.business_name)
        return "list_opted_out", None if provider_handled else text, "list_stop"
    if intent is Intent.OPT_OUT:
        key = scope_key(ws.policy.scope, number.number, number.campaign)
        method = "inbound_sms_phrase" if reading.match == "phrase" else "inbound_sms_keyword"
        if out_here and any(state.consents[k].method in CONTACT_METHODS
                            for k in state.opted_out_keys(covering)):
            return "already_opted_out", None, None
        changes.append(Event(EventType.OPTED_OUT, when, CONTACT, contact, data={
            "keys": [key], "method": method, "source": "inbound_sms", "keyword": reading.keyword,
            "language": reading.language, "number": number.number}))
        if out_here:  # out by an agent: the contact's own STOP is recorded, unanswered
            return "already_opted_out", None, None
        return "opted_out", None if provider_handled else ws.reply("stop", reading.language), "stop"
    if intent is Intent.OPT_IN:
        keys = state.opted_out_keys(covering)
        if not keys and (reading.keyword or "").upper() == "YES":
            return "none", None, None  # a YES that revokes nothing is an ordinary reply
        own = scope_key(ws.policy.scope, number.number, number.campaign)
        current = state.consents.get(own)
        if not keys and current is not None and current.status == OPTED_IN \
                and current.source == "inbound_sms_start_keyword":
            return "already_opted_in", None, None
        changes.append(Event(EventType.OPTED_IN, when, CONTACT, contact, data={
            "keys": sorted(set(keys) | {own}), "type": "express",
            "source": "inbound_sms_start_keyword", "method": "inbound_sms_keyword",
            "keyword": reading.keyword, "number": number.number}))
        return "opted_in", None if provider_handled else ws.reply("start", reading.language), \
            "start"
    if intent is Intent.HELP:
        changes.append(Event(EventType.HELP_REQUESTED, when, CONTACT, contact,
                            data={"keyword": reading.keyword, "number": number.number}))
        return "help", None if provider_handled else ws.reply("help", reading.language), "help"
    if out_here and ws.policy.reopt_on_message and not unread_stop:
        changes.append(Event(EventType.OPTED_IN, when, CONTACT, contact, data={
            "keys": state.opted_out_keys(covering), "type": "implied",
            "source": "inbound_message", "method": "inbound_sms_message",
            "number": number.number}))
        return "opted_in_by_message", None, None
    return "none", None, None
