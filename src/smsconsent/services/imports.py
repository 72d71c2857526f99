"""Importing opt-outs and contacts from another tool: every change a real ledger event.

Each imported change is an event with source ``import`` in the workspace's hash chain, written
in batches (one write transaction per batch, ``Ledger.record_many``), so the stored states stay
the fold of the events and ``audit verify`` passes. An event is placed at the time the file
gives (``opted_out_at``, ``opted_in_at``; now when absent), so a later START already in the
ledger still wins over an older imported opt-out.

Idempotence, row by row (re-importing a file changes nothing):

- opt-outs: a contact already opted out of the whole workspace is ``unchanged`` (whoever opted
  them out); so is one who opted back in, workspace-wide, after the row's time (``superseded``:
  the newer wish wins). Anyone else gets an ``opted_out`` event for the whole workspace.
- contacts: opt-in, marketing or other consent, and list membership are each recorded only if
  the state does not already hold them (same consent type; same purpose, type and evidence;
  subscribed); a row that adds nothing is ``unchanged``. A contact who is opted out or blocked
  is refused for that row, and so is one who left the row's list (``list_opted_out``; an SMS
  opt-out leaves every list too): an import never overrides an opt-out.

A batch never holds the same number twice (a repeat starts the next batch), so every row is
decided against the state left by the rows before it. The opt-outs are written in phone order
within windows of rows (``import_rows.in_phone_order``: a number's own rows keep their order),
which halves what SQLite spends on the two indexes kept in phone order; contacts keep the
file's order, so their rejects file does too.

A run of opt-outs none of whose numbers is stored (a first import, as a rule) is written at
once: each row's event and contact row were filled ahead, by the parser process for a big
file (import_plan.py), and the writer only numbers, hashes and inserts them
(``Ledger.record_new``); the bytes are those the rule and ``record_many`` give (tests compare
them). On SQLite, a run that follows such a run is not even looked up first: its contact rows
go in first, each only if absent, and a number found stored rolls the transaction back and the
run is written again after a lookup, at the same time recorded (``rows.AlreadyStored``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import select

from smsconsent import csvio
from smsconsent.domain.consent import OPTED_IN, OPTED_OUT, SUBSCRIBED, ContactState
from smsconsent.domain.events import Event, EventType, agent
from smsconsent.services import import_process
from smsconsent.services.base import Store, load_workspace, require_text
from smsconsent.services.collector import collector_paused
from smsconsent.services.import_plan import (
    SOURCE,
    WORKSPACE_KEY,
    FreshPlan,
    Prepared,
    opt_out_data,
    prepare_rows,
)
from smsconsent.services.import_rows import Row, RowReader
from smsconsent.storage import tables as t
from smsconsent.storage.fresh import FreshEvent, FreshSpec
from smsconsent.storage.ledger import Ledger
from smsconsent.storage.rows import AlreadyStored, load_stored

T = TypeVar("T")
_END: Any = object()
BATCH = 10_000
PREPARED_UNTIL = 3  # runs in a row of numbers all stored, after which none is prepared


@dataclass
class ImportCounts:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0

    def summary(self, rejects_file: str | None, started: float) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "unchanged": self.unchanged,
                "rejected": self.rejected, "rejects_file": rejects_file,
                "seconds": round(time.perf_counter() - started, 3)}


Decide = Callable[[Row, ContactState, str], "list[Event | FreshEvent] | str | None"]
Settled = Callable[[dict[str, Any]], bool]


def import_opt_outs(store: Store, workspace: str, source: BinaryIO, rejects: csvio.TextSink, *,
                    by: str, name: str = "upload.csv", rejects_name: str | None = None,
                    progress: csvio.Progress | None = None, batch: int = BATCH
                    ) -> dict[str, Any]:
    """Import a CSV of opt-outs (``phone``; optional ``opted_out_at``, ``source``,
    ``evidence``): each contact not already opted out gets a workspace-wide ``opted_out``."""
    actor = agent(require_text(by, "the agent (--by)", 100))
    data = functools.partial(opt_out_data, PurePath(name).name)
    plan = FreshPlan(FreshSpec(EventType.OPTED_OUT, actor, data, 2),
                     ("phone", "at", "evidence", "origin"))
    return _run(store, workspace, source, rejects, name, rejects_name, progress, batch,
                RowReader("opted_out_at"), _opt_out_decision(plan), _opted_out_already, plan)


def _opt_out_decision(plan: FreshPlan) -> Decide:
    """The opt-out import's rule for one row (see the module's docstring). A contact with
    no state gets ``plan``'s event: what ``_run`` writes for a run of new contacts."""

    def decide(row: Row, state: ContactState, now: str) -> list[Event | FreshEvent] | str | None:
        current = state.consents.get(WORKSPACE_KEY)
        if current is not None and current.status == OPTED_OUT:
            return None
        if current is not None and current.status == OPTED_IN \
                and (current.opted_in_at or "") >= row.at:
            return None
        return [plan.event(row)]

    return decide


def _opted_out_already(stored: dict[str, Any]) -> bool:
    """Whether a stored state, as plain data, is opted out of the whole workspace: the
    opt-out import's ``decide`` then answers unchanged, whatever the row. Read from the parsed
    JSON by key, so a stored form without nulls or without the phone reads the same."""
    consent = (stored.get("consents") or {}).get(WORKSPACE_KEY)
    return isinstance(consent, dict) and consent.get("status") == OPTED_OUT


def import_contacts(store: Store, workspace: str, source: BinaryIO, rejects: csvio.TextSink, *,
                    by: str, evidence: str | None = None, name: str = "upload.csv",
                    rejects_name: str | None = None, progress: csvio.Progress | None = None,
                    batch: int = BATCH) -> dict[str, Any]:
    """Import a CSV of contacts with their consent (``phone``; optional ``consent_type``,
    ``purpose``, ``evidence``, ``opted_in_at``, ``source``, ``list``). ``evidence`` is the
    default for rows without their own: a row with no evidence at all is rejected."""
    actor = agent(require_text(by, "the agent (--by)", 100))
    default_evidence = None
    if evidence is not None and evidence.strip():
        default_evidence = require_text(evidence, "evidence", 2000)
    file_name = PurePath(name).name
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
        lists = set(conn.execute(select(t.contact_lists.c.name).where(
            t.contact_lists.c.workspace_id == ws.id)).scalars())

    def decide(row: Row, state: ContactState, now: str) -> list[Event | FreshEvent] | str | None:
        if state.blocked:
            return "blocked"
        if state.opted_out_keys(tuple(k for k in state.consents if k.startswith("sms:"))):
            return OPTED_OUT
        sub = state.lists.get(row.list_name) if row.list_name else None
        if sub is not None and sub.status == OPTED_OUT:  # left it, or opted out of all SMS
            return LIST_OPTED_OUT
        events: list[Event | FreshEvent] = []
        current = state.consents.get(WORKSPACE_KEY)
        if current is None or current.status != OPTED_IN or current.type != row.consent_type:
            events.append(Event(EventType.OPTED_IN, row.at, actor, row.phone, data={
                "keys": [WORKSPACE_KEY], "type": row.consent_type, "source": SOURCE,
                "method": SOURCE, "evidence": row.evidence, "origin": row.origin,
                "file": file_name}))
        grant = state.grants.get(row.purpose) if row.purpose else None
        if row.purpose and (grant is None or grant.get("type") != row.consent_type
                            or grant.get("evidence") != row.evidence):
            events.append(Event(EventType.CONSENT_GRANTED, row.at, actor, row.phone, data={
                "purpose": row.purpose, "type": row.consent_type, "evidence": row.evidence,
                "channel": "sms", "source": SOURCE}))
        if row.list_name and (sub is None or sub.status != SUBSCRIBED):
            events.append(Event(EventType.LIST_SUBSCRIBED, row.at, actor, row.phone, data={
                "list": row.list_name, "evidence": row.evidence, "method": SOURCE}))
        return events or None

    reader = RowReader("opted_in_at", contacts=True, default_evidence=default_evidence,
                       lists=frozenset(lists))
    return _run(store, workspace, source, rejects, name, rejects_name, progress, batch,
                reader, decide)


LIST_OPTED_OUT = "list_opted_out"
_REFUSALS = {
    "blocked": "the contact is blocked: unblock them before importing consent",
    OPTED_OUT: "the contact opted out: an import never overrides an opt-out (opt them in "
               "with evidence first)",
    LIST_OPTED_OUT: "the contact left this list (or opted out of SMS since joining it): an "
                    "import never overrides an opt-out (subscribe them with evidence first)",
}


def _run(store: Store, workspace: str, source: BinaryIO, sink: csvio.TextSink, name: str,
         rejects_name: str | None, progress: csvio.Progress | None, batch: int,
         reader: RowReader, decide: Decide, settled: Settled | None = None,
         plan: FreshPlan | None = None) -> dict[str, Any]:
    """Check the file, then read, decide and record it batch by batch.

    ``settled``, when given, says from a stored state's JSON alone (parsed, never built into
    a ``ContactState``) that ``decide`` would answer unchanged for any row: a re-import's
    usual case. Rows it settles skip the state machine; every other row is decided in full.

    ``plan``, when given, is what ``decide`` answers for a contact with no state (one event
    of its kind, from the row's fields): a run whose numbers are none of them stored is
    written from it at once (import_plan.py), prepared by the parser process or here.
    """
    started = time.perf_counter()
    report = progress or csvio.NoProgress()
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    shape = csvio.scan(source, name)
    shape.require_unique(reader.columns, name)
    report.start(shape.rows)
    rejects = csvio.RejectsWriter(sink, shape.header)
    counts = ImportCounts()
    now = store.now()
    preparing = import_process.Preparing()
    all_stored = 0  # runs in a row whose numbers were all stored: a re-import, as a rule
    skip_lookups = plan is not None and store.engine.dialect.name == "sqlite"
    unread = skip_lookups
    batches = import_process.batches(source, shape, reader, ws.region, now, batch, plan,
                                     preparing)

    def write(rows: Sequence[Row], prepared: Prepared | None, last: bool, unread: bool,
              at: str | None = None) -> bool:
        """Decide and record one run in a transaction (at the time ``at``, if given);
        whether none of its numbers was stored. ``unread``: written at once without looking
        the numbers up, which raises ``AlreadyStored`` (the transaction rolled back, its
        time recorded in the exception) if one was."""
        nonlocal all_stored
        with store.write(ws.id, at) as ledger:
            ledger.bulk(ending=last)
            texts = {} if unread else ledger.stored_texts(
                [r.phone for r in rows] if prepared is None else prepared.values[0])
            all_stored = all_stored + 1 if len(texts) == len(rows) else 0
            if all_stored == PREPARED_UNTIL:
                preparing.stop()  # nothing is written at once: no need to prepare
            at_once = False
            try:
                if not texts and plan is not None:
                    prepared = prepared or prepare_rows(plan, rows)  # if read here
                    at_once = prepared is not None and ledger.record_new(
                        plan.spec, prepared.values, prepared.pieces, unread=unread)
                if unread and not at_once:
                    raise AlreadyStored("decided row by row: the stored states are needed")
            except AlreadyStored as stored:
                stored.recorded_at = ledger.recorded_at
                raise
            if at_once:
                counts.imported += len(rows)
            else:
                _decide_rows(ledger, rows, texts, decide, settled, now, counts, rejects)
        return not texts

    with collector_paused(), closing(batches):
        for (rows, unreadable, read, prepared), last in _with_last(batches):
            counts.rows += read
            for fields, code, message in unreadable:
                rejects.reject(fields, code, message)
            counts.rejected += len(unreadable)
            if not rows:
                continue
            try:
                new = write(rows, prepared, last, unread)
            except AlreadyStored as stored:  # the same run again, looked up, at the same time
                new = write(rows, prepared, last, False, stored.recorded_at)
                skip_lookups = skip_lookups and not new  # it failed for another reason
            # after a run of new numbers the next is most likely new too (a first import):
            # it is written without a lookup, and looked up only if it was not
            unread = skip_lookups and new
            report.advance(len(rows))
    return counts.summary(rejects_name, started)


def _decide_rows(ledger: Ledger, rows: Sequence[Row], texts: dict[str, str], decide: Decide,
                 settled: Settled | None, now: str, counts: ImportCounts,
                 rejects: csvio.RejectsWriter) -> None:
    """Decide a run row by row (rows ``settled`` from their stored JSON skip the rule), and
    record what the rule gives."""
    kept: Sequence[Row] = rows
    if settled is not None and texts:
        kept = [r for r in rows if not _settled(settled, texts.get(r.phone))]
        counts.unchanged += len(rows) - len(kept)
    states = ledger.states([r.phone for r in kept], texts)
    events: list[Event | FreshEvent] = []
    for row in kept:
        outcome = decide(row, states[row.phone], now)
        if isinstance(outcome, str):
            rejects.reject(row.fields, outcome, _REFUSALS[outcome])
            counts.rejected += 1
        elif outcome:
            events.extend(outcome)
            counts.imported += 1
        else:
            counts.unchanged += 1
    ledger.record_many(events)


def _settled(settled: Settled, text: str | None) -> bool:
    """``settled`` on a stored state's JSON text (None: no row, never settled)."""
    return text is not None and settled(load_stored(text))


def _with_last(items: Iterator[T]) -> Iterator[tuple[T, bool]]:
    """Each of ``items`` with whether it is the last (read one ahead)."""
    current = next(items, _END)
    while current is not _END:
        following = next(items, _END)
        yield current, following is _END
        current = following
