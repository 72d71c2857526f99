"""The send gate applied to a whole campaign file: who may be texted, who not, and why.

Streaming and memory-bounded: recipients are read in chunks, their states looked up a chunk at
a time (``WHERE workspace_id = ? AND phone IN (...)``) inside one read transaction, so the whole
file is judged against one consistent view of the ledger; each row goes through
``domain.gate.decide``, the one rule every send obeys. Filtering is a check, not a send: it
records nothing in the ledger (``send`` records each message as it goes, and adds the opt-out
footer on a first message).

Refusal reasons are the gate's (``opted_out``, ``blocked``, ``list_opted_out``,
``not_subscribed``, ``no_marketing_consent``) plus ``invalid_phone``, ``duplicate`` (the number
appeared earlier in the file) and ``bad_row`` (more fields than the header).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

from smsconsent import csvio
from smsconsent.domain.consent import ContactState
from smsconsent.domain.gate import decide
from smsconsent.domain.phones import PhoneNormalizer
from smsconsent.domain.scopes import keys_covering
from smsconsent.errors import InvalidPhone, NotFound
from smsconsent.services.base import Store, load_workspace_by_id, our_number, parse_sender
from smsconsent.services.sending import _known_list, _purpose
from smsconsent.storage.ledger import stored_states

CHUNK = 5_000

_DETAILS = {
    "blocked": "the contact is blocked",
    "opted_out": "the contact opted out of SMS from this number",
    "list_opted_out": "the contact left this list",
    "not_subscribed": "the contact never joined this list",
    "no_marketing_consent": "marketing needs express written consent or list evidence",
    "duplicate": "the number appeared earlier in this file",
}


class SeenNumbers:
    """The numbers met so far, for ``duplicate``: kept as integers (about 70 bytes each)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def add(self, phone: str) -> bool:
        """Remember ``phone``; False when it was already there."""
        key = int(phone[1:]) if phone.startswith("+") else -int(phone)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def filter_recipients(store: Store, source: BinaryIO, sendable: csvio.TextSink,
                      refused: csvio.TextSink, *, sender: str, purpose: str = "marketing",
                      list_name: str | None = None, name: str = "recipients.csv",
                      sendable_name: str | None = None, refused_name: str | None = None,
                      progress: csvio.Progress | None = None, chunk: int = CHUNK,
                      workspace: str | None = None) -> dict[str, Any]:
    """Split a recipients file into sendable rows (every column kept, the number in E.164
    under ``phone``) and refused rows (with ``reason`` and ``detail``); records nothing.

    ``workspace`` limits the caller (an API key) to that workspace's numbers."""
    started = time.perf_counter()
    report = progress or csvio.NoProgress()
    purpose = _purpose(purpose)
    ours = parse_sender(sender)
    with store.read() as conn:
        number = our_number(conn, ours, workspace)
        if number is None:
            raise NotFound(f"{ours} is not a number of any workspace", code="unknown_number")
        ws = load_workspace_by_id(conn, number.workspace_id)
        _known_list(conn, ws.id, list_name)
    shape = csvio.scan(source, name)
    report.start(shape.rows)
    header = list(shape.header)
    header[shape.phone] = "phone"
    out = csvio.RowsWriter(sendable, header)
    rejects = csvio.RejectsWriter(refused, shape.header)
    norm, seen, reasons = PhoneNormalizer(ws.region), SeenNumbers(), Counter[str]()
    covering = keys_covering(number.number, number.campaign)
    width, rows = len(shape.header), 0
    with store.read() as conn:
        for fields_chunk in _chunks(csvio.data_rows(source), chunk):
            judged: list[tuple[list[str], str, str | None]] = []
            for fields in fields_chunk:
                phone, why = "", None
                if len(fields) > width:
                    why = "bad_row"
                else:
                    try:
                        phone = norm(fields[shape.phone])
                        if not seen.add(phone):
                            why = "duplicate"
                    except InvalidPhone as exc:
                        why = f"invalid_phone:{exc.message}"
                judged.append((fields, phone, why))
            states = dict(stored_states(conn, ws.id, [p for _, p, w in judged if w is None]))
            for fields, phone, why in judged:
                if why is None:
                    state = states.get(phone) or ContactState(phone)
                    decision = decide(state, number.number, number.campaign, purpose,
                                      ws.policy, list_name)
                    if decision.allowed:
                        row = csvio.fit(fields, width)
                        row[shape.phone] = phone
                        out.write(row)
                        continue
                    why = decision.reason
                    detail = _detail(why, state, covering)
                else:
                    why, _, detail = why.partition(":")
                    detail = detail or _DETAILS.get(why, "more fields than the header")
                reasons[why] += 1
                rejects.reject(fields, why, detail)
            rows += len(fields_chunk)
            report.advance(len(fields_chunk))
    return {"rows": rows, "sendable": out.count, "refused": rejects.count,
            "by_reason": dict(sorted(reasons.items())), "sendable_file": sendable_name,
            "refused_file": refused_name, "purpose": purpose, "list": list_name,
            "from": number.number, "workspace": ws.name,
            "seconds": round(time.perf_counter() - started, 3)}


def _detail(reason: str, state: ContactState, covering: tuple[str, ...]) -> str:
    """The reason in words, with when and how the contact opted out where that is known."""
    text = _DETAILS.get(reason, reason)
    if reason == "opted_out":
        for key in state.opted_out_keys(covering):
            consent = state.consents[key]
            return f"{text} ({key}, {consent.method or 'unknown method'}, " \
                   f"{consent.opted_out_at or 'time unknown'})"
    return text


def _chunks(rows: Iterator[list[str]], size: int) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


