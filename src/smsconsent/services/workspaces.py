"""Use cases that set a workspace up: create and change it, add numbers and contact lists."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from smsconsent.domain import replies
from smsconsent.domain.classification import Intent, KeywordPolicy
from smsconsent.domain.events import SYSTEM, Event, EventType
from smsconsent.domain.free_text import check_text, holds_binary
from smsconsent.domain.phones import NumberKind, number_kind
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.replies import Templates
from smsconsent.domain.scopes import Scope
from smsconsent.domain.workspace import Workspace
from smsconsent.errors import BadInput, Conflict, NotFound
from smsconsent.services.base import (
    Store,
    find_number,
    load_workspace,
    parse_sender,
    require_text,
)
from smsconsent.storage import tables as t
from smsconsent.storage.chain import GENESIS
from smsconsent.storage.database import writing
from smsconsent.storage.ledger import Ledger
from smsconsent.storage.prepared import Prepared

TEMPLATE_OPTIONS = {"help_text": "help", "stop_text": "stop", "start_text": "start"}


def _name(name: str) -> str:
    name = require_text(name, "workspace name", 100)
    if not all(ch.isalnum() or ch in "-_." for ch in name):
        raise BadInput(f"workspace name {name!r} may hold only letters, digits, - _ .")
    return name


def _templates(base: Templates, business: str, contact: str, texts: dict[str, str | None]
               ) -> Templates:
    for option, kind in TEMPLATE_OPTIONS.items():
        text = texts.get(option)
        if text is not None:
            replies.validate_template(kind, text, business, contact)
            base = base.with_text(kind, text)
    return base


def _policy(base: WorkspacePolicy, changes: dict[str, Any]) -> WorkspacePolicy:
    policy = base
    if changes.get("keywords") is not None:  # first: --matching given beside it wins
        if not isinstance(changes["keywords"], dict):
            raise BadInput("keywords must be an object of keyword sets and phrases "
                           "(docs/keywords.md)", code="bad_keywords")
        _check_texts(changes["keywords"])
        policy = WorkspacePolicy.from_dict({**policy.to_dict(), "keywords": changes["keywords"]})
        from smsconsent.domain.classifier import compiled  # not loaded by every command

        compiled(policy.keywords)  # a phrase rule that cannot be read is refused now, not later
        stop_stays_full(policy.keywords)
    if changes.get("scope") is not None:
        try:
            policy = replace(policy, scope=Scope(changes["scope"]))
        except ValueError:
            raise BadInput("scope must be workspace, campaign or number") from None
    if changes.get("matching") is not None:
        policy = policy.with_matching(changes["matching"])
    if changes.get("reopt_on_message") is not None:
        policy = replace(policy, reopt_on_message=bool(changes["reopt_on_message"]))
    if changes.get("essential_after_stop") is not None:
        policy = replace(policy, essential_after_stop=bool(changes["essential_after_stop"]))
    return policy


def _check_texts(value: Any) -> None:
    """Refuse binary or control characters (a lone surrogate from JSON) anywhere in a
    keywords form, its table keys included, before it is stored."""
    if isinstance(value, str):
        check_text(value, "keywords", len(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_texts(key)
            _check_texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_texts(item)


def stop_stays_full(keywords: KeywordPolicy) -> None:
    """Refuse a workspace's keywords under which a plain STOP would not opt the contact out
    of everything (an emptied or replaced opt-out set, STOP as a list keyword): seed 002,
    STOP "in any format" opts out of all messages and "this feature cannot be disabled"."""
    from smsconsent.domain.classifier import classify  # not loaded by every command

    reading = classify("STOP", keywords)
    if reading.intent is not Intent.OPT_OUT or reading.list is not None:
        raise BadInput("STOP must stay a full opt-out of every message (it cannot be turned "
                       "off); with these keywords it would read as "
                       f"{reading.intent.value}" + (f" (list {reading.list!r})"
                                                    if reading.list else ""),
                       code="stop_keyword")


def describe(ws: Workspace) -> dict[str, Any]:
    return {
        "name": ws.name,
        "business_name": ws.business_name,
        "contact": ws.contact,
        "region": ws.region,
        "policy": ws.policy.to_dict(),
        "templates": {k: ws.reply(k, "en") for k in replies.KINDS},
    }


def create_workspace(store: Store, name: str, *, business_name: str, contact: str,
                     region: str = "US", **options: Any) -> dict[str, Any]:
    """Create a workspace; its HELP text is checked before anything is written."""
    name = _name(name)
    business_name = require_text(business_name, "business name", 200)
    contact = require_text(contact, "contact line", 200)
    if len(region) != 2 or not region.isalpha():
        raise BadInput(f"region must be a two-letter country code, not {region!r}")
    policy = _policy(WorkspacePolicy(), options)
    templates = _templates(Templates(), business_name, contact, options)
    try:
        with writing(store.engine) as conn:
            # One transaction: a workspace never exists without its creation event.
            if conn.execute(select(t.workspaces.c.id).where(t.workspaces.c.name == name)).first():
                raise Conflict(f"workspace {name!r} already exists", code="workspace_exists")
            ws_id = conn.execute(
                insert(t.workspaces).values(
                    name=name, business_name=business_name, contact=contact,
                    region=region.upper(), policy=json.dumps(policy.to_dict()),
                    templates=json.dumps(templates.to_dict()), secrets="{}", head_seq=0,
                    head_hash=GENESIS, created_at=store.now(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            ledger = Ledger.open(conn, ws_id, store.now)
            ledger.record(Event(EventType.WORKSPACE_CREATED, ledger.recorded_at, SYSTEM, data={
                "name": name, "business_name": business_name, "contact": contact,
                "policy": policy.to_dict(), "templates": templates.to_dict()}))
            ledger.close()
            ws = load_workspace(conn, name)
    except IntegrityError:  # the same name created at the same moment elsewhere
        raise Conflict(f"workspace {name!r} already exists", code="workspace_exists") from None
    return describe(ws)


def update_workspace(store: Store, name: str, *, actor: str = SYSTEM, **changes: Any
                     ) -> dict[str, Any]:
    """Change a workspace's business details, policy or templates, with the same checks."""
    with store.read() as conn:
        ws = load_workspace(conn, name)
    # An option given empty is refused, as on create; only an absent one (None) keeps its value.
    business = require_text(_given(changes, "business_name", ws.business_name), "business name",
                            200)
    contact = require_text(_given(changes, "contact", ws.contact), "contact line", 200)
    policy = _policy(ws.policy, changes)
    templates = _templates(ws.templates, business, contact, changes)
    if changes.get("business_name") or changes.get("contact"):
        # A HELP text of the workspace's own must still name the business and its contact.
        own_help = templates.custom.get("help", {}).get("en")
        if own_help:
            replies.validate_template("help", own_help, business, contact)
    with store.write(ws.id) as ledger:
        ledger.conn.execute(
            update(t.workspaces).where(t.workspaces.c.id == ws.id).values(
                business_name=business, contact=contact,
                policy=json.dumps(policy.to_dict()), templates=json.dumps(templates.to_dict()),
            )
        )
        ledger.record(Event(EventType.WORKSPACE_CHANGED, ledger.recorded_at, actor, data={
            "business_name": business, "contact": contact, "policy": policy.to_dict(),
            "templates": templates.to_dict()}))
        ws = load_workspace(ledger.conn, name)
    return describe(ws)


def _given(changes: dict[str, Any], key: str, current: str) -> str:
    value = changes.get(key)
    return current if value is None else str(value)


def show_workspace(store: Store, name: str) -> dict[str, Any]:
    with store.read() as conn:
        ws = load_workspace(conn, name)
        numbers = conn.execute(
            select(t.numbers).where(t.numbers.c.workspace_id == ws.id).order_by(t.numbers.c.number)
        ).all()
        lists = conn.execute(
            select(t.contact_lists).where(t.contact_lists.c.workspace_id == ws.id)
            .order_by(t.contact_lists.c.name)
        ).all()
        secrets = conn.execute(select(t.workspaces.c.secrets).where(
            t.workspaces.c.id == ws.id)).scalar_one()
    result = describe(ws)
    result["numbers"] = [{"number": n.number, "kind": n.kind, "campaign": n.campaign}
                         for n in numbers]
    result["lists"] = [{"name": lst.name, "keyword": lst.keyword} for lst in lists]
    result["secrets"] = secrets_status(json.loads(secrets or "{}"))
    return result


def add_number(store: Store, workspace: str, number: str, *, campaign: str | None = None,
               actor: str = SYSTEM) -> dict[str, Any]:
    """Give a workspace a sending number; a number belongs to one workspace only."""
    e164 = parse_sender(number)
    if campaign is not None:
        campaign = require_text(campaign, "campaign id", 64)
    kind = number_kind(e164)
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    with store.write(ws.id) as ledger:
        existing = find_number(ledger.conn, e164)
        if existing is not None:
            if existing.workspace_id != ws.id:
                raise Conflict(f"{e164} belongs to another workspace", code="number_taken")
            ledger.conn.execute(
                update(t.numbers).where(t.numbers.c.number == e164).values(campaign=campaign)
            )
        else:
            try:
                ledger.conn.execute(insert(t.numbers).values(
                    number=e164, workspace_id=ws.id, kind=kind.value, campaign=campaign,
                    created_at=ledger.recorded_at))
            except IntegrityError:  # added to another workspace at the same moment
                raise Conflict(f"{e164} belongs to another workspace",
                               code="number_taken") from None
        ledger.record(Event(EventType.NUMBER_ADDED, ledger.recorded_at, actor,
                            data={"number": e164, "kind": kind.value, "campaign": campaign}))
    return {"number": e164, "workspace": ws.name, "kind": kind.value, "campaign": campaign,
            "yes_opts_in": kind is not NumberKind.TOLL_FREE and ws.policy.keywords.yes_opts_in}


def add_list(store: Store, workspace: str, name: str, *, keyword: str | None = None,
             actor: str = SYSTEM) -> dict[str, Any]:
    """Create a contact list; its keyword (OPTOUT, "STOP DEALS") leaves that list only."""
    name = require_text(name, "list name", 100)
    if keyword is not None:
        keyword = require_text(keyword, "list keyword", 64).upper()
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    if keyword:
        stop_stays_full(replace(ws.policy.keywords, list_keywords={
            **ws.policy.keywords.list_keywords, keyword: name}))
    with store.write(ws.id) as ledger:
        taken = ledger.conn.execute(select(t.contact_lists).where(
            t.contact_lists.c.workspace_id == ws.id)).all()
        if any(r.name == name for r in taken):
            raise Conflict(f"list {name!r} already exists", code="list_exists")
        if keyword and any((r.keyword or "").upper() == keyword for r in taken):
            raise Conflict(f"keyword {keyword!r} already leaves another list",
                           code="keyword_taken")
        try:
            ledger.conn.execute(insert(t.contact_lists).values(
                workspace_id=ws.id, name=name, keyword=keyword, created_at=ledger.recorded_at))
        except IntegrityError:
            raise Conflict(f"list {name!r} already exists", code="list_exists") from None
        ledger.record(Event(EventType.LIST_CREATED, ledger.recorded_at, actor,
                            data={"list": name, "keyword": keyword}))
    return {"list": name, "keyword": keyword, "workspace": ws.name}


def default_workspace(store: Store, name: str) -> str:
    """The workspace to use when none was named: ``name`` if it exists, else the only one.

    A database with a single workspace needs no ``--workspace``; with several, the default
    name stands and an unknown one fails with a clear error where it is used.
    """
    with store.read() as conn:
        names = conn.execute(select(t.workspaces.c.name).limit(2)).scalars().all()
        exists = conn.execute(select(t.workspaces.c.id).where(t.workspaces.c.name == name)).first()
    if exists is None and len(names) == 1:
        return str(names[0])
    return name


# -- provider secrets: stored in workspaces.secrets, never in the ledger, never returned -------

SECRET_NAMES = ("twilio_auth_token", "telnyx_public_key", "telnyx_api_key")


def _check_secret(name: str, value: str) -> None:
    if name not in SECRET_NAMES:
        raise BadInput(f"unknown secret {name!r}; one of {', '.join(SECRET_NAMES)}")
    check_text(value, name, 500)
    if any(ch.isspace() for ch in value):
        raise BadInput(f"{name} holds spaces", code="bad_secret")
    if name == "telnyx_public_key":
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise BadInput("telnyx_public_key must be the base64 ed25519 public key from the "
                           "Telnyx portal (32 bytes)", code="bad_secret")


def set_secrets(store: Store, name: str, *, actor: str = SYSTEM, **secrets: str | None
                ) -> dict[str, Any]:
    """Store provider secrets for a workspace; an empty value removes one.

    Returns which secrets are set (``"set"``), never their values; the ledger records which
    were set or removed, and by whom (a changed webhook secret changes what is accepted).
    """
    given = {k: v.strip() for k, v in secrets.items() if v is not None}
    for key, value in given.items():
        if value:
            _check_secret(key, value)
        elif key not in SECRET_NAMES:
            raise BadInput(f"unknown secret {key!r}; one of {', '.join(SECRET_NAMES)}")
    with store.read() as conn:
        ws = load_workspace(conn, name)
    with store.write(ws.id) as ledger:
        row = ledger.conn.execute(select(t.workspaces.c.secrets).where(
            t.workspaces.c.id == ws.id)).one()
        stored: dict[str, str] = json.loads(row.secrets or "{}")
        for key, value in given.items():
            if value:
                stored[key] = value
            else:
                stored.pop(key, None)
        ledger.conn.execute(update(t.workspaces).where(t.workspaces.c.id == ws.id)
                            .values(secrets=json.dumps(stored, sort_keys=True)))
        ledger.record(Event(EventType.SECRETS_CHANGED, ledger.recorded_at, actor, data={
            "set": sorted(k for k, v in given.items() if v),
            "removed": sorted(k for k, v in given.items() if not v)}))
    return {"workspace": ws.name, "secrets": secrets_status(stored)}


def secrets_status(stored: dict[str, str]) -> dict[str, str]:
    return {key: "set" for key in SECRET_NAMES if stored.get(key)}


def workspace_secrets(store: Store, name: str) -> dict[str, str]:
    """The secrets themselves, for the adapters that verify or deliver; never print them."""
    if holds_binary(name):  # no workspace's name (from a URL): never sent to the database
        raise NotFound(f"no workspace named {name!r}", code="unknown_workspace")
    with store.read() as conn:  # every webhook asks: pre-compiled
        row = _SECRETS.first(conn, name=name)
    if row is None:
        raise NotFound(f"no workspace named {name!r}", code="unknown_workspace")
    return stored_secrets(row[0])


def stored_secrets(text: str | None) -> dict[str, str]:
    """The secrets of a workspace row's ``secrets`` column: a copy (the parsed one is
    shared)."""
    return dict(_parsed_secrets(text or "{}"))


@lru_cache(maxsize=256)
def _parsed_secrets(text: str) -> dict[str, str]:
    """The stored secrets' JSON, parsed once per distinct text (read on every webhook)."""
    parsed: dict[str, str] = json.loads(text)
    return parsed


_SECRETS = Prepared(select(t.workspaces.c.secrets).where(t.workspaces.c.name == bindparam("name")))
