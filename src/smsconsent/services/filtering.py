"""The send gate applied to a whole campaign file: who may be texted, who not, and why.

Streaming and memory-bounded: recipients are read in chunks, their stored states looked up a
chunk at a time (one statement a chunk, ``lookups``) inside one read transaction, so
the whole file is judged against one consistent view of the ledger; every answer is
``domain.gate.decide``'s, the one rule every send obeys. Filtering is a check, not a send: it
records nothing in the ledger (``send`` records each message as it goes, and adds the opt-out
footer on a first message).

Refusal reasons are the gate's (``opted_out``, ``blocked``, ``list_opted_out``,
``not_subscribed``, ``no_marketing_consent``) plus ``invalid_phone``, ``duplicate`` (the number
appeared earlier in the file) and ``bad_row`` (more fields than the header).

A million rows must take seconds, so ``decide`` is asked once per distinct *decision-relevant
part* of a state (``Judge``), not once per row: in one run sender, purpose, list and policy are
fixed, and what is left of a state that ``decide`` reads is small (blocked, whether a covering
opt-out is in force, the one list's membership, the marketing grant). Never-seen numbers all
share the empty state's answer. Nor is Python asked once per row where C can do a chunk at a
time: numbers are read a column at a time (``PhoneNormalizer.many``), duplicates found by set
operations, verdicts taken by stored text and rows split by them with ``compress``, and the
outputs formatted a column at a time (``csvformat``); in one process, a line that the writer
would write as it is is not even made a row: it is judged and written as the line it is
(``filter_lines``, ``csvlines``). ``exact=True`` instead judges row by
row, rebuilding every stored state, asking ``decide`` for each and writing with ``csv.writer``:
the reference the tests hold the fast path to, byte for byte.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter, not_
from typing import Any, BinaryIO, cast

from smsconsent import csvio
from smsconsent.csvlines import LineChunks
from smsconsent.domain.phones import PhoneNormalizer
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.errors import InvalidPhone, NotFound
from smsconsent.services.base import (
    Store,
    known_list,
    known_purpose,
    load_workspace_by_id,
    our_number,
    parse_sender,
)
from smsconsent.services.collector import collector_paused
from smsconsent.services.lookups import Lookups
from smsconsent.services.seen_numbers import SEEN_IN_MEMORY, SeenNumbers
from smsconsent.services.verdicts import _DETAILS, Judge

CHUNK = 25_000  # rows read, looked up and written at a time (two in flight)

# With two processes asked for (`filter --processes 2`), files of SPLIT_ROWS to SPLIT_MAX_ROWS
# lines, read from a path, are judged in two. Not the default: on 2 cores it saves little wall
# time once one process judges a million rows in ~4 s, spends ~2 CPU s more (a second
# interpreter, and the helper reads the first part for its numbers), and takes more memory:
# ~255 MB summed at 1M rows with SPLIT_CHUNK-row chunks, against ~175 MB in one process. Past
# SEEN_IN_MEMORY lines each process would keep its own million numbers (~450 MB at 5M rows),
# so a longer file is judged in one process, which stays near 260 MB whatever the size.
SPLIT_ROWS = 300_000
SPLIT_MAX_ROWS = SEEN_IN_MEMORY
SPLIT_CHUNK = 10_000  # rows a chunk when split: two processes' chunks in flight cost ~45 MB
HEAD_SHARE = 0.58  # of the bytes, judged here; the helper also reads the rest for numbers


def filter_recipients(store: Store, source: BinaryIO, sendable: csvio.TextSink,
                      refused: csvio.TextSink, *, sender: str, purpose: str = "marketing",
                      list_name: str | None = None, name: str = "recipients.csv",
                      sendable_name: str | None = None, refused_name: str | None = None,
                      progress: csvio.Progress | None = None, chunk: int = CHUNK,
                      workspace: str | None = None, exact: bool = False,
                      split_rows: int | None = None) -> dict[str, Any]:
    """Split a recipients file into sendable rows (every column kept, the number in E.164
    under ``phone``) and refused rows (with ``reason`` and ``detail``); records nothing.

    ``workspace`` limits the caller (an API key) to that workspace's numbers; ``exact`` asks
    the gate about every row from its whole state (see the module's docstring). A file of at
    least ``split_rows`` (and at most ``SPLIT_MAX_ROWS``) lines that is a named file on disk
    is judged in two processes (``filter_helper``), with the same outputs; None keeps it in
    one.
    """
    started = time.perf_counter()
    report = progress or csvio.NoProgress()
    purpose = known_purpose(purpose)
    ours = parse_sender(sender)
    with store.read() as conn:
        number = our_number(conn, ours, workspace)
        if number is None:
            raise NotFound(f"{ours} is not a number of any workspace", code="unknown_number")
        ws = load_workspace_by_id(conn, number.workspace_id)
        known_list(conn, ws.id, list_name)
    shape = csvio.scan(source, name)
    report.start(shape.rows)
    header = list(shape.header)
    header[shape.phone] = "phone"
    split = split_rows is not None and split_rows <= shape.rows <= SPLIT_MAX_ROWS
    task = Task(number.number, number.campaign, purpose, ws.policy, list_name, exact,
                ws.region, len(shape.header), shape.phone,
                min(chunk, SPLIT_CHUNK) if split else chunk, SEEN_IN_MEMORY)
    helper = None
    if split:
        from smsconsent.services import filter_helper
        helper = filter_helper.plan(store, ws.id, source, task)
    lines = helper is None and not exact  # read as lines (``filter_lines``)
    part = (_line_part() if lines else Part)(task, csvio.RowsWriter(sendable, header),
                                              csvio.RejectsWriter(refused, shape.header),
                                              report)
    with Lookups(store, ws.id, share=helper is not None) as lookups, collector_paused():
        if helper is not None:
            helper.start(lookups.token(), report)
        rows = csvio.ChunkReader(source)
        try:
            until = None if helper is None else helper.cut.lines
            if lines:
                part.judge(LineChunks(rows, task.width, task.phone).chunks(task.chunk), lookups)
            else:
                part.judge(rows.chunks(task.chunk, until=until), lookups,
                           None if helper is None else helper.relay)
            if helper is not None and not helper.finish(part, rows.line):
                part.judge(rows.chunks(task.chunk), lookups)
        finally:
            rows.close()
            part.close()
            if helper is not None:
                helper.close()
    return {"rows": part.rows, "sendable": part.out.count, "refused": part.rejects.count,
            "by_reason": dict(sorted(part.reasons.items())), "sendable_file": sendable_name,
            "refused_file": refused_name, "purpose": purpose, "list": list_name,
            "from": number.number, "workspace": ws.name,
            "seconds": round(time.perf_counter() - started, 3)}


def _line_part() -> type[Part]:
    from smsconsent.services.filter_lines import LinePart  # it builds on Part
    return LinePart


@dataclass(frozen=True)
class Task:
    """What judging a row needs besides the row: plain values, so a helper process gets it."""

    sender: str
    campaign: str | None
    purpose: str
    policy: WorkspacePolicy
    list_name: str | None
    exact: bool
    region: str
    width: int  # fields in the header
    phone: int  # where the number is
    chunk: int
    seen_limit: int  # numbers kept in memory (``SeenNumbers``)

    def judge(self) -> Judge:
        return Judge(self.sender, self.campaign, self.purpose, self.policy, self.list_name,
                     exact=self.exact)


class Part:
    """Judging rows in order, one chunk at a time, into one pair of writers: the whole file,
    or one process's share of it. ``seen`` holds the numbers met so far, for ``duplicate``:
    a helper judging the second half first reads the numbers of the first (``remember``)."""

    def __init__(self, task: Task, out: csvio.RowsWriter, rejects: csvio.RejectsWriter,
                 report: csvio.Progress) -> None:
        self.task, self.out, self.rejects, self.report = task, out, rejects, report
        self.judge_ = task.judge()
        self.norm, self.seen = PhoneNormalizer(task.region), SeenNumbers(task.seen_limit)
        self.reasons = Counter[str]()
        self.rows = 0

    def judge(self, chunks: Iterator[Any], lookups: Lookups,
              between: Callable[[], None] | None = None) -> None:
        """Judge and write every row of ``chunks``; ``between`` is called after each chunk."""
        pending: Any = None
        for fields_chunk in chunks:
            judged, wanted = self.screen(fields_chunk)
            lookups.ask(wanted)
            if pending is not None:
                self.finish(pending, lookups.answer())
                if between is not None:
                    between()
            pending = judged
            self.rows += self.count(fields_chunk)
        if pending is not None:
            self.finish(pending, lookups.answer())

    def close(self) -> None:
        self.seen.close()

    def count(self, chunk: list[list[str]]) -> int:
        """The rows in a chunk of ``judge``'s."""
        return len(chunk)

    def remember(self, chunks: Iterator[list[list[str]]]) -> None:
        """Only note the numbers of ``chunks`` as seen, as ``screen`` would."""
        width, at, norm, seen = self.task.width, self.task.phone, self.norm, self.seen
        for fields_chunk in chunks:
            seen.settle()
            texts = [fields[at] if at < len(fields) else "" for fields in fields_chunk
                     if len(fields) <= width]
            phones = [phone for phone in norm.many(texts) if phone is not None]
            if not seen.add_new(phones):
                for phone in phones:
                    seen.add(phone)

    def screen(self, fields_chunk: Any) -> tuple[Any, list[str]]:
        """Each row's number in E.164 and what is wrong with the row before any lookup, and
        the numbers to look up; ``exact`` takes the reference path, a row at a time."""
        if self.task.exact:
            return self._screen_each(fields_chunk)
        return self._screen_chunk(fields_chunk)

    def finish(self, judged: Any, states: dict[str, str]) -> None:
        """Judge a screened chunk against its stored states and write both outputs."""
        if self.task.exact:
            self._finish_each(judged, states)
            self.report.advance(len(judged))
        else:
            self._finish_chunk(judged, states)
            self.report.advance(len(judged[0]))

    def _screen_chunk(self, rows: list[list[str]]) -> tuple[Chunk, list[str]]:
        """``_screen_each``'s answers, the column at a time: rows are made the header's
        width here (a short row padded, a long one cut and refused), numbers read by
        ``PhoneNormalizer.many``, duplicates found by set operations when there are none."""
        width, at = self.task.width, self.task.phone
        whys: dict[int, tuple[str, str]] = {}
        if set(map(len, rows)) != {width}:
            for i, fields in enumerate(rows):
                if len(fields) > width:
                    whys[i] = ("bad_row", csvio.with_extra_fields(_DETAILS["bad_row"],
                                                                  fields, width))
                    rows[i] = fields[:width]
                elif len(fields) < width:
                    rows[i] = csvio.fit(fields, width)
        texts = list(map(itemgetter(at), rows))
        phones, wanted = self.numbers(texts, whys)
        return (rows, phones, whys), wanted

    def numbers(self, texts: list[str], whys: dict[int, tuple[str, str]]
                ) -> tuple[list[str | None], list[str]]:
        """The numbers of a chunk's phone fields, in E.164 (None: refused before the lookup,
        and why in ``whys``, which may already hold rows refused for their shape), and those
        to look up: the valid ones met for the first time."""
        seen = self.seen
        phones = self.norm.many(texts)
        for i in whys:
            phones[i] = None
        if None in phones:
            for i, phone in enumerate(phones):
                if phone is None and i not in whys:
                    try:
                        phones[i] = self.norm(texts[i])
                    except InvalidPhone as exc:
                        whys[i] = ("invalid_phone", exc.message)
        seen.settle()
        valid = [phone for phone in phones if phone is not None] if whys \
            else cast(list[str], phones)  # no None among them
        wanted: list[str]
        if seen.add_new(valid):
            wanted = valid
        else:
            wanted = []
            for i, phone in enumerate(phones):
                if phone is not None:
                    if seen.add(phone):
                        wanted.append(phone)
                    else:
                        whys[i] = ("duplicate", _DETAILS["duplicate"])
        if seen.spilled and (older := seen.older(wanted)):
            wanted = [phone for phone in wanted if phone not in older]
            for i, phone in enumerate(phones):
                if phone in older and i not in whys:
                    whys[i] = ("duplicate", _DETAILS["duplicate"])
        return phones, wanted

    def _finish_chunk(self, judged: Chunk, states: dict[str, str]) -> None:
        """``_finish_each``'s outputs, the chunk at a time: verdicts by stored text
        (``Judge.many``), rows split by them with ``compress``, both outputs formatted a
        column at a time, refusals with their reason and detail (``write_ending``)."""
        rows, phones, whys = judged
        # a number refused before the lookup is None, which has no stored state
        verdicts = self.judge_.many(list(map(states.get, cast(list[str], phones))))
        for i, (why, detail) in whys.items():
            verdicts[i] = (False, why, detail)
        allowed = list(map(itemgetter(0), verdicts))
        passed, at = list(compress(rows, allowed)), self.task.phone
        for row, phone in zip(passed, compress(cast(list[str], phones), allowed), strict=True):
            row[at] = phone
        refused = list(map(not_, allowed))
        ends = list(map(itemgetter(1, 2), compress(verdicts, refused)))
        self.reasons.update(map(itemgetter(0), ends))
        self.out.write_chunk(passed)
        self.rejects.write_ending(list(compress(rows, refused)), ends)

    def _screen_each(self, fields_chunk: list[list[str]]) -> tuple[Screened, list[str]]:
        """The reference screening, a row at a time (``exact``)."""
        judged: Screened = []
        wanted: list[str] = []
        keep, want, first = judged.append, wanted.append, self.seen.add
        width, at, norm = self.task.width, self.task.phone, self.norm
        self.seen.settle()
        for fields in fields_chunk:
            if len(fields) > width:
                keep((fields, "", "bad_row"))
                continue
            try:
                phone = norm(fields[at] if at < len(fields) else "")  # short: empty
            except InvalidPhone as exc:
                keep((fields, "", f"invalid_phone:{exc.message}"))
                continue
            if first(phone):
                want(phone)
                keep((fields, phone, None))
            else:
                keep((fields, phone, "duplicate"))
        if self.seen.spilled and (older := self.seen.older(wanted)):
            wanted = [phone for phone in wanted if phone not in older]
            judged = [(fields, phone, "duplicate" if why is None and phone in older else why)
                      for fields, phone, why in judged]
        return judged, wanted

    def _finish_each(self, judged: Screened, states: dict[str, str]) -> None:
        """The reference judging and writing, a row at a time (``exact``)."""
        passed: list[list[str]] = []
        failed: list[list[str]] = []
        judge, reasons = self.judge_, self.reasons
        unseen, stored, found, line = judge.unseen, judge.stored, states.get, self.rejects.line
        width, at = self.task.width, self.task.phone
        for fields, phone, why in judged:
            if why is None:
                text = found(phone)
                allowed, why, detail = unseen if text is None else stored(text)
                if allowed:
                    row = fields if len(fields) == width else csvio.fit(fields, width)
                    row[at] = phone
                    passed.append(row)
                    continue
            else:
                why, _, detail = why.partition(":")
                detail = detail or _DETAILS[why]
            reasons[why] += 1
            failed.append(line(fields, why, detail))
        self.out.write_many(passed)
        self.rejects.write_many(failed)


Screened = list[tuple[list[str], str, str | None]]  # fields, E.164 number, why refused
# the rows (the header's width), their numbers (None: refused before lookup), and why those were
Chunk = tuple[list[list[str]], list[str | None], dict[int, tuple[str, str]]]
