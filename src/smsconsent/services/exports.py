"""Exporting the ledger and the opt-out list, for auditors and for moving to another tool.

Both stream: rows are read from one read transaction a few thousand at a time and handed out
as text lines, so an export of any size runs in constant memory, to a file, a pipe or an HTTP
response. The opt-out export's columns (``phone``, ``opted_out_at``, ``source``, ...) are the
ones ``import opt-outs`` reads, so a workspace's opt-outs can be carried to another one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from smsconsent.domain.clock import parse_ts
from smsconsent.domain.consent import OPTED_OUT, ContactState
from smsconsent.errors import BadInput
from smsconsent.services.base import Store, load_workspace
from smsconsent.storage import tables as t
from smsconsent.storage.chain import GENESIS
from smsconsent.storage.history import previous_hash

FORMATS = ("csv", "jsonl")
STREAM_ROWS = 2_000
LEDGER_COLUMNS = ("seq", "type", "occurred_at", "recorded_at", "actor", "contact",
                  "provider_id", "data", "prev_hash", "hash")
OPT_OUT_COLUMNS = ("phone", "opted_out_at", "scopes", "method", "source", "by", "blocked")


def export_ledger(store: Store, workspace: str, *, since: str | None = None,
                  fmt: str = "jsonl") -> Iterator[str]:
    """The workspace's events in chain order (recorded at or after ``since``), as lines.

    Checks its arguments and the workspace before the first line, so errors come early.
    """
    check = _checked(store, workspace, since, fmt)
    return _ledger_lines(store, check[0], check[1], fmt)


def export_opt_outs(store: Store, workspace: str, *, since: str | None = None,
                    fmt: str = "csv") -> Iterator[str]:
    """Every contact opted out now (by any SMS scope), with when, how and by whom.

    ``since`` keeps those whose latest opt-out is at or after it.
    """
    check = _checked(store, workspace, since, fmt)
    return _opt_out_lines(store, check[0], check[1], fmt)


def _checked(store: Store, workspace: str, since: str | None, fmt: str
             ) -> tuple[int, str | None]:
    if fmt not in FORMATS:
        raise BadInput(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    when = parse_ts(since) if since else None
    with store.read() as conn:
        return load_workspace(conn, workspace).id, when


def _ledger_lines(store: Store, ws_id: int, since: str | None, fmt: str) -> Iterator[str]:
    cond = [t.events.c.workspace_id == ws_id]
    if since is not None:
        cond.append(t.events.c.recorded_at >= since)
    stored = tuple(c for c in LEDGER_COLUMNS if c != "prev_hash")
    query = select(*(t.events.c[name] for name in stored)).where(*cond) \
        .order_by(t.events.c.seq)
    if fmt == "csv":
        yield _csv_line(LEDGER_COLUMNS)
    with store.read() as conn:
        last_seq, last_hash = 0, GENESIS
        for row in conn.execution_options(yield_per=STREAM_ROWS).execute(query):
            record = dict(zip(stored, row, strict=True))
            # prev_hash is not stored: it is the hash of event seq - 1, which is usually the
            # row just written (one lookup where ``since`` skipped it)
            seq = record["seq"]
            if seq != last_seq + 1:
                last_hash = previous_hash(conn, ws_id, seq)
            record = {k: last_hash if k == "prev_hash" else record[k] for k in LEDGER_COLUMNS}
            last_seq, last_hash = seq, record["hash"]
            if fmt == "csv":
                yield _csv_line(record.values())
            else:
                record["data"] = json.loads(record["data"])
                yield json.dumps(record, ensure_ascii=False) + "\n"


def _opt_out_lines(store: Store, ws_id: int, since: str | None, fmt: str) -> Iterator[str]:
    query = select(t.contacts.c.phone, t.contacts.c.state).where(
        t.contacts.c.workspace_id == ws_id, t.contacts.c.status == OPTED_OUT
    ).order_by(t.contacts.c.phone)
    if fmt == "csv":
        yield _csv_line(OPT_OUT_COLUMNS)
    with store.read() as conn:
        for phone, text in conn.execution_options(yield_per=STREAM_ROWS).execute(query):
            record = _opt_out(ContactState.from_dict(json.loads(text), phone))
            if since is not None and record["opted_out_at"] < since:
                continue
            if fmt == "csv":
                yield _csv_line(record.values())
            else:
                yield json.dumps(record, ensure_ascii=False) + "\n"


def _opt_out(state: ContactState) -> dict[str, Any]:
    keys = [k for k in state.opted_out_keys() if k.startswith("sms:")]
    latest = max(keys, key=lambda k: state.consents[k].opted_out_at or "")
    consent = state.consents[latest]
    return {"phone": state.phone, "opted_out_at": consent.opted_out_at or "",
            "scopes": " ".join(sorted(keys)), "method": consent.method,
            "source": consent.source, "by": consent.by, "blocked": state.blocked}


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        ["" if v is None else v for v in values])
    return buffer.getvalue()
