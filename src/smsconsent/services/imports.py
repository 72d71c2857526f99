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
  is refused for that row: an import never overrides an opt-out.

A batch never holds the same number twice (a repeat starts the next batch), so every row is
decided against the state left by the rows before it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO, TypeVar

import orjson
from sqlalchemy import select

from smsconsent import csvio
from smsconsent.domain.clock import parse_ts
from smsconsent.domain.consent import OPTED_IN, OPTED_OUT, SUBSCRIBED, ContactState
from smsconsent.domain.events import Event, EventType, agent
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.phones import PhoneNormalizer
from smsconsent.errors import BadInput
from smsconsent.services.agents import CONSENT_TYPES
from smsconsent.services.base import Store, check_text, load_workspace, require_text
from smsconsent.services.filtering import _collector_paused
from smsconsent.storage import tables as t
from smsconsent.storage.ledger import FreshEvent, FreshSpec

T = TypeVar("T")
_END: Any = object()
BATCH = 10_000
WORKSPACE_KEY = "sms:workspace"
SOURCE = "import"


@dataclass(slots=True)
class Row:
    """One readable row of an import: the original fields, its number, time and details."""

    fields: list[str]
    phone: str
    at: str
    evidence: str | None
    origin: str | None
    consent_type: str = "express"
    purpose: str | None = None
    list_name: str | None = None


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


Parse = Callable[[list[str]], Row]
Decide = Callable[[Row, ContactState, str], "list[Event | FreshEvent] | str | None"]
Settled = Callable[[dict[str, Any]], bool]
Refused = tuple[list[str], str, str]


def import_opt_outs(store: Store, workspace: str, source: BinaryIO, rejects: csvio.TextSink, *,
                    by: str, name: str = "upload.csv", rejects_name: str | None = None,
                    progress: csvio.Progress | None = None, batch: int = BATCH
                    ) -> dict[str, Any]:
    """Import a CSV of opt-outs (``phone``; optional ``opted_out_at``, ``source``,
    ``evidence``): each contact not already opted out gets a workspace-wide ``opted_out``."""
    actor = agent(require_text(by, "the agent (--by)", 100))
    file_name = PurePath(name).name


    def data(evidence: str | None, origin: str | None) -> dict[str, Any]:
        return {"keys": [WORKSPACE_KEY], "method": SOURCE, "source": SOURCE,
                "evidence": evidence, "origin": origin, "file": file_name}

    return _run(store, workspace, source, rejects, name, rejects_name, progress, batch,
                RowReader("opted_out_at"),
                _opt_out_decision(FreshSpec(EventType.OPTED_OUT, actor, data, 2)),
                _opted_out_already)


def _opt_out_decision(opt_out: FreshSpec) -> Decide:
    """The opt-out import's rule for one row (see the module's docstring)."""

    def decide(row: Row, state: ContactState, now: str) -> list[Event | FreshEvent] | str | None:
        current = state.consents.get(WORKSPACE_KEY)
        if current is not None and current.status == OPTED_OUT:
            return None
        if current is not None and current.status == OPTED_IN \
                and (current.opted_in_at or "") >= row.at:
            return None
        return [FreshEvent(opt_out, row.phone, row.at, row.evidence, row.origin)]

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
        sub = state.lists.get(row.list_name) if row.list_name else None
        if row.list_name and (sub is None or sub.status != SUBSCRIBED):
            events.append(Event(EventType.LIST_SUBSCRIBED, row.at, actor, row.phone, data={
                "list": row.list_name, "evidence": row.evidence, "method": SOURCE}))
        return events or None

    reader = RowReader("opted_in_at", contacts=True, default_evidence=default_evidence,
                       lists=frozenset(lists))
    return _run(store, workspace, source, rejects, name, rejects_name, progress, batch,
                reader, decide)


_REFUSALS = {
    "blocked": "the contact is blocked: unblock them before importing consent",
    OPTED_OUT: "the contact opted out: an import never overrides an opt-out (opt them in "
               "with evidence first)",
}


def _run(store: Store, workspace: str, source: BinaryIO, sink: csvio.TextSink, name: str,
         rejects_name: str | None, progress: csvio.Progress | None, batch: int,
         reader: RowReader, decide: Decide, settled: Settled | None = None) -> dict[str, Any]:
    """Check the file, then read, decide and record it batch by batch.

    ``settled``, when given, says from a stored state's JSON alone (parsed, never built into
    a ``ContactState``) that ``decide`` would answer unchanged for any row: a re-import's
    usual case. Rows it settles skip the state machine; every other row is decided in full.
    """
    started = time.perf_counter()
    report = progress or csvio.NoProgress()
    with store.read() as conn:
        ws = load_workspace(conn, workspace)
    shape = csvio.scan(source, name)
    report.start(shape.rows)
    rejects = csvio.RejectsWriter(sink, shape.header)
    counts = ImportCounts()
    now = store.now()
    batches = _parsed_batches(csvio.data_chunks(source, 1000), reader.parser(shape, ws.region,
                                                                           now),
                              len(shape.header), batch, counts)
    with _collector_paused():
        for (rows, unreadable), last in _with_last(batches):
            for fields, code, message in unreadable:
                rejects.reject(fields, code, message)
            counts.rejected += len(unreadable)
            if not rows:
                continue
            with store.write(ws.id) as ledger:
                ledger.bulk(ending=last)
                texts = ledger.stored_texts([r.phone for r in rows])
                if settled is not None and texts:
                    kept = [r for r in rows if not _settled(settled, texts.get(r.phone))]
                    counts.unchanged += len(rows) - len(kept)
                else:
                    kept = rows
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
            report.advance(len(rows))
    return counts.summary(rejects_name, started)


def _settled(settled: Settled, text: str | None) -> bool:
    """``settled`` on a stored state's JSON text (None: no row, never settled)."""
    return text is not None and settled(orjson.loads(text))


def _with_last(items: Iterator[T]) -> Iterator[tuple[T, bool]]:
    """Each of ``items`` with whether it is the last (read one ahead)."""
    current = next(items, _END)
    while current is not _END:
        following = next(items, _END)
        yield current, following is _END
        current = following


def _parsed_batches(chunks: Iterable[list[list[str]]], parse: Parse, width: int, size: int,
                    counts: ImportCounts) -> Iterator[tuple[list[Row], list[Refused]]]:
    """Runs of at most ``size`` readable rows in which no number appears twice, each with the
    rows refused while it was read (a last run may hold refusals alone)."""
    current: list[Row] = []
    phones: set[str] = set()
    refused: list[Refused] = []
    for chunk in chunks:
        counts.rows += len(chunk)
        for fields in chunk:
            try:
                if len(fields) != width:
                    if len(fields) > width:
                        raise BadInput(f"{len(fields)} fields but the header has {width}",
                                       code="bad_row")
                    fields = csvio.fit(fields, width)
                row = parse(fields)
            except BadInput as exc:
                refused.append((fields, exc.code, exc.message))
                continue
            if len(current) >= size or row.phone in phones:
                yield current, refused
                current, phones, refused = [], set(), []
            current.append(row)
            phones.add(row.phone)
    if current or refused:
        yield current, refused


@dataclass(frozen=True)
class RowReader:
    """How an import reads a row: the columns both imports share (number, time, evidence,
    old source) and, for contacts, the consent columns. Plain data, so the parser can be
    built wherever the rows are read."""

    time_column: str
    contacts: bool = False
    default_evidence: str | None = None
    lists: frozenset[str] = frozenset()

    def parser(self, shape: csvio.CsvShape, region: str, now: str) -> Parse:
        """The function from a row's fields (fitted to the header) to its ``Row``; raises
        ``BadInput`` for a row that cannot be imported."""
        norm = PhoneNormalizer(region)
        phone_at, time_column = shape.phone, self.time_column
        at_at, evidence_at, origin_at = (shape.column(c) for c in
                                         (time_column, "evidence", "source"))

        def common(fields: list[str]) -> Row:
            phone = norm(fields[phone_at])
            at = _time(fields[at_at].strip() if at_at is not None else "", now, time_column)
            evidence = _text(fields[evidence_at].strip(), "evidence") \
                if evidence_at is not None else None
            origin = _text(fields[origin_at].strip(), "source") \
                if origin_at is not None else None
            return Row(fields, phone, at, evidence, origin)

        if not self.contacts:
            return common
        kind_at, purpose_at, list_at = (shape.column(c) for c in
                                        ("consent_type", "purpose", "list"))
        default_evidence, lists = self.default_evidence, self.lists

        def contact(fields: list[str]) -> Row:
            row = common(fields)
            kind = csvio.field(fields, kind_at) or "express"
            if kind not in CONSENT_TYPES:
                raise BadInput(f"consent_type must be one of {', '.join(CONSENT_TYPES)}, not "
                               f"{kind!r}", code="bad_consent_type")
            purpose = csvio.field(fields, purpose_at) or None
            if purpose is not None and purpose not in PURPOSES:
                raise BadInput(f"purpose must be one of {', '.join(PURPOSES)}, not "
                               f"{purpose!r}", code="bad_purpose")
            row.evidence = row.evidence or default_evidence
            if row.evidence is None:
                raise BadInput("no evidence of consent: give an evidence column or --evidence",
                               code="evidence_required")
            if purpose == "marketing" and kind != "express_written":
                raise BadInput("marketing consent must be express_written (TCPA)",
                               code="marketing_needs_express_written")
            list_name = csvio.field(fields, list_at) or None
            if list_name is not None and list_name not in lists:
                raise BadInput(f"no contact list named {list_name!r}", code="unknown_list")
            row.consent_type, row.purpose, row.list_name = kind, purpose, list_name
            return row

        return contact


@functools.lru_cache(maxsize=4096)
def _parse_ts(value: str) -> str:
    """``parse_ts``, remembered: exports repeat their times (days, whole batches)."""
    return parse_ts(value)


def _time(value: str, now: str, what: str) -> str:
    if not value:
        return now
    try:
        at = _parse_ts(value)
    except BadInput:
        raise BadInput(f"{what} is not an ISO 8601 time: {value!r}", code="bad_time") from None
    if at > now:
        raise BadInput(f"{what} {value!r} is in the future", code="future_time")
    return at


def _text(value: str, what: str) -> str | None:
    if not value:
        return None
    return _checked(value, what)


@functools.lru_cache(maxsize=4096)
def _checked(value: str, what: str) -> str:
    """``check_text``, remembered for the texts that pass: exports repeat their sources and
    evidence on every row (a refusal raises, so it is never remembered)."""
    check_text(value, what, 2000)
    return value
