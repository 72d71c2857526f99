"""What every use case shares: loading workspaces and numbers, the write transaction, the clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import NoResultFound

from smsconsent.domain.clock import format_ts
from smsconsent.domain.free_text import check_text, holds_binary
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.phones import normalize_phone, normalize_sender
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.replies import Templates
from smsconsent.domain.workspace import Number, Workspace
from smsconsent.errors import BadInput, NotFound
from smsconsent.storage import tables as t
from smsconsent.storage.database import reading, writing
from smsconsent.storage.ledger import Ledger
from smsconsent.storage.prepared import Prepared

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Store:
    """The composition of storage and clock every use case runs against."""

    engine: Engine
    clock: Clock = field(default=utc_now)

    def now(self) -> str:
        return format_ts(self.clock())

    @contextmanager
    def write(self, workspace_id: int, at: str | None = None) -> Iterator[Ledger]:
        """One write transaction on a workspace's ledger: locked, chained, committed together.
        ``at``: the time to record instead of the clock's (a transaction tried again after a
        rollback keeps its time)."""
        with writing(self.engine) as conn:
            ledger = Ledger.open(conn, workspace_id, self.now if at is None else lambda: at)
            yield ledger
            ledger.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with reading(self.engine) as conn:
            yield conn


WORKSPACE_COLUMNS = (t.workspaces.c.id, t.workspaces.c.name, t.workspaces.c.business_name,
                     t.workspaces.c.contact, t.workspaces.c.region, t.workspaces.c.policy,
                     t.workspaces.c.templates)


def workspace_from_row(row: Any) -> Workspace:
    return parsed_workspace(row.id, row.name, row.business_name, row.contact, row.region,
                            row.policy, row.templates)


@lru_cache(maxsize=1024)
def parsed_workspace(id_: int, name: str, business_name: str, contact: str, region: str,
                     policy: str, templates: str) -> Workspace:
    """The workspace of these stored values, parsed once: it is read on every request and
    changes rarely. Keyed by the values themselves, so a changed policy is a new entry at once,
    in every process; and the same policy object each time lets the classifier find its
    compiled form by identity."""
    return Workspace(
        id=id_,
        name=name,
        business_name=business_name,
        contact=contact,
        region=region,
        policy=WorkspacePolicy.from_dict(json.loads(policy)),
        templates=Templates.from_dict(json.loads(templates)),
    )


_NUMBER_WORKSPACE = Prepared(
    select(t.numbers.c.number, t.numbers.c.workspace_id, t.numbers.c.kind, t.numbers.c.campaign,
           *WORKSPACE_COLUMNS)
    .join(t.workspaces, t.workspaces.c.id == t.numbers.c.workspace_id)
    .where(t.numbers.c.number == bindparam("number"))
)


def number_and_workspace(row: Sequence[Any]) -> tuple[Number, Workspace]:
    """Our number and its workspace of a row of ``_NUMBER_WORKSPACE``'s columns (also what
    a group commit's reads give, ``Ledger.prefetch``)."""
    return Number(row[0], row[1], row[2], row[3]), parsed_workspace(*row[4:11])


def addressed(conn: Connection, number: str, workspace: str | None
              ) -> tuple[Number, Workspace] | None:
    """Our number and its workspace in one query (``our_number`` + ``load_workspace_by_id``,
    the hot path of every check and inbound); None for a number of no workspace.

    Anything but a plain hit goes the general way, which says exactly why it is refused.
    """
    row = _NUMBER_WORKSPACE.first(conn, number=number)
    if row is not None and (workspace is None or row[5] == workspace):
        return number_and_workspace(row)
    found = our_number(conn, number, workspace)
    return None if found is None else (found, load_workspace_by_id(conn, found.workspace_id))


_WORKSPACE_BY_NAME = Prepared(select(*WORKSPACE_COLUMNS)
                              .where(t.workspaces.c.name == bindparam("name")))
_WORKSPACE_BY_ID = Prepared(select(*WORKSPACE_COLUMNS)
                            .where(t.workspaces.c.id == bindparam("id")))
_NUMBER = Prepared(select(t.numbers.c.number, t.numbers.c.workspace_id, t.numbers.c.kind,
                          t.numbers.c.campaign).where(t.numbers.c.number == bindparam("number")))


def load_workspace(conn: Connection, name: str) -> Workspace:
    # A name no workspace can have (NUL, a lone surrogate: from a URL) never reaches the
    # database, which would refuse to compare with it.
    row = None if holds_binary(name) else _WORKSPACE_BY_NAME.first(conn, name=name)
    if row is None:
        raise NotFound(f"no workspace named {name!r}", code="unknown_workspace")
    return parsed_workspace(*row)


def load_workspace_by_id(conn: Connection, workspace_id: int) -> Workspace:
    row = _WORKSPACE_BY_ID.first(conn, id=workspace_id)
    if row is None:  # ids come from rows just read: a broken invariant, not a caller's error
        raise NoResultFound(f"no workspace with id {workspace_id}")
    return parsed_workspace(*row)


def find_number(conn: Connection, number: str) -> Number | None:
    row = _NUMBER.first(conn, number=number)
    return None if row is None else Number(*row)


def our_number(conn: Connection, number: str, workspace: str | None) -> Number | None:
    """Our number, as seen by a caller limited to ``workspace`` (an API key, a webhook URL).

    Scoped, a number of another workspace is answered exactly like an unknown one, so a key
    never learns what another workspace holds.
    """
    found = find_number(conn, number)
    if workspace is None:
        return found
    ws = load_workspace(conn, workspace)
    if found is None or found.workspace_id != ws.id:
        raise NotFound(f"{number} is not a number of workspace {ws.name!r}",
                       code="unknown_number")
    return found


@lru_cache(maxsize=65536)
def known_purpose(purpose: str) -> str:
    """``purpose`` if it is one the gate knows (BadInput otherwise)."""
    if purpose not in PURPOSES:
        raise BadInput(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    return purpose


def known_list(conn: Connection, workspace_id: int, name: str | None) -> None:
    """NotFound unless ``name`` is None or a contact list of the workspace (as subscribing to
    an unknown list: 404 over HTTP, exit 2 in the CLI)."""
    if name is None:
        return
    check_text(name, "list name", 100)  # before the database sees it (a lone surrogate)
    found = conn.execute(select(t.contact_lists.c.name).where(
        t.contact_lists.c.workspace_id == workspace_id, t.contact_lists.c.name == name)).first()
    if found is None:
        raise NotFound(f"no contact list named {name!r}", code="unknown_list")


def parse_sender(text: str) -> str:
    """A number of ours, as given on the command line or in a request.

    Remembered (libphonenumber costs ~50 µs a number; the same few senders and a working set
    of contacts come back on every request); an invalid number raises and is not remembered.
    """
    if text.strip().startswith("+"):
        return normalize_phone(text)
    return normalize_sender(text, "US")


@lru_cache(maxsize=65536)
def parse_contact(text: str, region: str) -> str:
    return normalize_phone(text, region)


def require_text(value: str | None, what: str, limit: int = 2000) -> str:
    """Evidence, names and other free text: present, printable, and of a sane size."""
    if value is None or not str(value).strip():
        raise BadInput(f"{what} is required")
    check_text(value, what, limit)
    return value.strip()

