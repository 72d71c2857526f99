"""The reads of the hottest requests, ``POST /v1/check`` and a provider's webhook, as one
statement each.

A check reads the caller's key, our number and its workspace, the contact's state and the
list it names. They take no input from each other but the contact's number, which is read
with the workspace's region; the usual request names it in E.164, where the region plays no
part. So all four are read by one ``SELECT`` (``PinnedStore.alone``): one round trip on
PostgreSQL and no ``BEGIN`` nor ``COMMIT``, where a read transaction of four statements cost
five. A single statement sees one snapshot, as the read transaction did: a key revoked, a
contact opted out, a policy changed before it began is seen; nothing is kept across
requests.

Only the plain case is answered here: a key that matches and may send, our number in that
key's workspace, the list when one is named, the contact read with the workspace's region.
Anything else is ``None``, and the caller runs the reference path (``apikeys.authenticate``
and ``sending.check`` in a read transaction), which gives every error and refusal its own
words. The answer is the reference's: the same rows feed the same ``decide``.

A webhook likewise reads its workspace's secrets, our number, the workspace and its lists'
keywords (``inbound``) in one statement, where a read transaction of three statements cost
four round trips (``COMMIT; BEGIN``, secrets, number and workspace, lists).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select

from smsconsent.domain.gate import Decision, decide
from smsconsent.domain.roles import NEEDED, Role
from smsconsent.domain.workspace import Number
from smsconsent.errors import SmsConsentError
from smsconsent.services.apikeys import key_id_and_digest, matches
from smsconsent.services.base import (
    WORKSPACE_COLUMNS,
    parse_contact,
    parse_sender,
    parsed_workspace,
)
from smsconsent.services.inbound import Addressed
from smsconsent.services.pinned import PinnedStore
from smsconsent.services.workspaces import stored_secrets
from smsconsent.storage import tables as t
from smsconsent.storage.prepared import Prepared
from smsconsent.storage.rows import stored_contact

_KEYS, _NUMBERS, _CONTACTS, _LISTS = t.api_keys, t.numbers, t.contacts, t.contact_lists
_CHECK = Prepared(
    select(_KEYS.c.key_hash, _KEYS.c.role, _NUMBERS.c.kind, _NUMBERS.c.campaign,
           _CONTACTS.c.state, _LISTS.c.name, *WORKSPACE_COLUMNS)
    .select_from(
        _KEYS.join(t.workspaces, t.workspaces.c.id == _KEYS.c.workspace_id)
        .outerjoin(_NUMBERS, and_(_NUMBERS.c.number == bindparam("number"),
                                  _NUMBERS.c.workspace_id == _KEYS.c.workspace_id))
        .outerjoin(_CONTACTS, and_(_CONTACTS.c.workspace_id == _KEYS.c.workspace_id,
                                   _CONTACTS.c.phone == bindparam("phone")))
        .outerjoin(_LISTS, and_(_LISTS.c.workspace_id == _KEYS.c.workspace_id,
                                _LISTS.c.name == bindparam("list"))))
    .where(_KEYS.c.key_id == bindparam("key_id"), _KEYS.c.revoked_at.is_(None)))

# The region a number's workspace had at its last check, to read the contact's number with
# before the row is read: only a guess, checked against the row (a national number read with
# another region is a different contact, and then the reference path answers).
_REGIONS: dict[str, str] = {}


def check(store: PinnedStore, key: str, sender: str, to: str, purpose: str,
          list_name: str | None) -> Decision | None:
    """``sending.check``'s decision for the caller of ``key``, read in one statement; None
    when the request is not the plain case (see the module's docstring)."""
    try:
        key_id, digest = key_id_and_digest(key)
        number = parse_sender(sender)
        guess = parse_contact(to, _REGIONS.get(number, "US"))
    except SmsConsentError:
        return None
    rows = store.alone(_CHECK, key_id=key_id, number=number, phone=guess, list=list_name)
    row = next((r for r in rows if matches(r[0], digest)), None)
    if row is None or row[2] is None or (list_name is not None and row[5] is None):
        return None
    ws = parsed_workspace(*row[6:])
    if not Role(row[1]).allows(NEEDED["send"]) or not _read_as(to, ws.region, guess, number):
        return None
    state = stored_contact(guess, row[4])
    return decide(state, number, row[3], purpose, ws.policy, list_name)


def _read_as(to: str, region: str, guess: str, number: str) -> bool:
    """Whether ``to`` read with the workspace's ``region`` is ``guess``."""
    try:
        contact = parse_contact(to, region)
    except SmsConsentError:
        return False
    if _REGIONS.get(number) != region:
        if len(_REGIONS) >= 4096:
            _REGIONS.clear()
        _REGIONS[number] = region
    return contact == guess


_INBOUND = Prepared(
    select(t.workspaces.c.secrets, _NUMBERS.c.kind, _NUMBERS.c.campaign, _LISTS.c.name,
           _LISTS.c.keyword, *WORKSPACE_COLUMNS)
    .select_from(
        t.workspaces
        .outerjoin(_NUMBERS, and_(_NUMBERS.c.number == bindparam("number"),
                                  _NUMBERS.c.workspace_id == t.workspaces.c.id))
        .outerjoin(_LISTS, and_(_LISTS.c.workspace_id == t.workspaces.c.id,
                                _LISTS.c.keyword.is_not(None))))
    .where(t.workspaces.c.name == bindparam("workspace"))
    .order_by(_LISTS.c.name))


@dataclass(frozen=True)
class InboundReads:
    """What a webhook reads before the lock, on one snapshot: the workspace's secrets, and
    ``read_inbound``'s ``found`` (our number, its workspace, the lists' keywords)."""

    secrets: dict[str, str]
    addressed: Addressed


def inbound(store: PinnedStore, workspace: str, to: str) -> InboundReads | None:
    """The reads of a text to our number ``to`` at ``workspace``'s webhook, in one statement;
    None unless ``to`` is a number of that workspace (the reference path says why not)."""
    try:
        our = parse_sender(to)
    except SmsConsentError:
        return None
    rows = store.alone(_INBOUND, workspace=workspace, number=our)
    if not rows or rows[0][1] is None:
        return None
    first = rows[0]
    ws = parsed_workspace(*first[5:])
    lists = tuple((row[3], row[4]) for row in rows if row[3] is not None)
    return InboundReads(stored_secrets(first[0]),
                        (Number(our, ws.id, first[1], first[2]), ws, lists))
