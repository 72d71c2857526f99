"""The imports' fast paths write exactly what the reference path writes.

The reference decides every row from a full ``ContactState``, reading the file in this
process. The fast paths (a re-import settling rows from the stored JSON alone; rows read by a
parser process) must leave the same ledger (every event's bytes and hash, every contact row),
the same rejects file and the same summary, on both backends, on a ledger that holds
contacts in every state the import rules tell apart.
"""

from __future__ import annotations

import functools
import io
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import select

from smsconsent import csvio, services
from smsconsent.domain.events import EventType
from smsconsent.errors import BadInput, SmsConsentError
from smsconsent.services import Store, import_process, import_rows
from smsconsent.services import imports as imp
from smsconsent.services.import_plan import FreshPlan, opt_out_data
from smsconsent.storage import tables as t
from smsconsent.storage.database import ensure_schema, make_engine
from smsconsent.storage.fresh import FreshSpec
from smsconsent.storage.ledger import Ledger
from smsconsent.storage.rows import AlreadyStored
from tests.conftest import fresh_database

OURS = "+15557654321"


class _Clock:
    """A clock that moves a millisecond at each reading, the same in every run."""

    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two empty stores on the same backend, each with its own steady clock."""
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with fresh_database(request, tmp_path / "a") as first, \
            fresh_database(request, tmp_path / "b") as second:
        for url in (first, second):
            engine = make_engine(url)
            ensure_schema(engine)
            made.append(Store(engine, _Clock()))
        yield made[0], made[1]
        for store in made:
            store.engine.dispose()


def _contact(n: int) -> str:
    return f"+1555123{n:04d}"


def _ledger(store: Store) -> None:
    """Contacts opted out (by STOP, by an agent, by a block), opted back in, subscribed to a
    list, and never seen."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", OURS)
    services.add_list(store, "default", "deals")
    for n in range(0, 40, 8):
        services.handle_inbound(store, _contact(n), OURS, "STOP")
    for n in range(1, 40, 8):
        services.handle_inbound(store, _contact(n), OURS, "STOP")
        services.handle_inbound(store, _contact(n), OURS, "START")
    for n in range(2, 40, 8):
        services.block(store, "default", _contact(n), by="agent:a")
    for n in range(3, 40, 8):
        services.opt_out(store, "default", _contact(n), by="agent:a", evidence="call")
    for n in range(4, 40, 8):
        services.subscribe(store, "default", "deals", _contact(n), evidence="JOIN", by="a")


def _opt_outs() -> bytes:
    lines = ["phone,opted_out_at,source,evidence,extra"]
    for n in range(60):
        when = "" if n % 5 == 0 else f"20{20 + n % 9}-03-0{1 + n % 7}T10:00:00Z"
        phone = _contact(n) if n % 3 else f"(555) 123-{n:04d}"
        lines.append(f"{phone},{when},old tool,\"row {n}, said STOP\",")
    lines += [f"{_contact(7)},2030-01-01T00:00:00Z,,,", "not-a-number,,,,",
              f"{_contact(9)},yesterday,,,", f"{_contact(11)},,,,,too,many",
              f"{_contact(12)},,bad\x01source,,", f"{_contact(13)},,,{'x' * 2001},",
              f"{_contact(8)},2019-01-01T00:00:00Z,again,,", f"{_contact(50)}", ""]
    return "\n".join(lines).encode()


def _run(store: Store, data: bytes) -> tuple[dict[str, Any], str]:
    sink = io.StringIO()
    summary = imp.import_opt_outs(store, "default", io.BytesIO(data), sink, by="tester",
                                  name="old.csv", rejects_name="old.rejects.csv", batch=7)
    summary.pop("seconds")
    return summary, sink.getvalue()


def _stored(store: Store) -> tuple[list[Any], list[Any]]:
    with store.read() as conn:
        events = [tuple(r) for r in conn.execute(select(t.events).order_by(t.events.c.seq))]
        contacts = [tuple(r) for r in conn.execute(
            select(t.contacts).order_by(t.contacts.c.phone))]
    return events, contacts


def test_reimport_settled_from_stored_json_writes_what_the_full_rule_writes(
        stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    """An import and a re-import with the shortcuts (rows settled from the stored JSON;
    runs of numbers new to the ledger written at once, ``Ledger.record_new``) leave the same
    ledger, rejects and summaries as with every row decided from a full state."""
    reference, fast = stores
    _ledger(reference)
    _ledger(fast)
    data = _opt_outs()
    settled = []
    written_at_once = []

    def counted(stored: dict[str, Any]) -> bool:
        settled.append(imp_opted_out_already(stored))
        return settled[-1]

    def at_once(ledger: Ledger, *args: Any, **kwargs: Any) -> bool:
        written_at_once.append(record_new(ledger, *args, **kwargs))
        return written_at_once[-1]

    imp_opted_out_already, record_new = imp._opted_out_already, Ledger.record_new
    monkeypatch.setattr(imp, "_opted_out_already", counted)
    monkeypatch.setattr(Ledger, "record_new", at_once)
    fast_runs = [_run(fast, data), _run(fast, data)]
    assert settled.count(True) > 40  # the shortcut was taken, on both runs
    assert written_at_once.count(True) >= 2
    with monkeypatch.context() as patch:
        patch.setattr(imp, "_opted_out_already", lambda stored: False)
        patch.setattr(Ledger, "record_new", lambda *args, **kwargs: False)
        reference_runs = [_run(reference, data), _run(reference, data)]
    assert fast_runs == reference_runs
    assert fast_runs[1][0]["imported"] == 0 and fast_runs[0][0]["imported"] > 10
    assert _stored(fast) == _stored(reference)
    assert services.verify(fast, "default")["ok"]


def _contacts() -> bytes:
    lines = ["phone,consent_type,purpose,evidence,opted_in_at,source,list"]
    for n in [*range(0, 60, 2), *range(100, 120)]:
        kind = "express_written" if n % 4 == 0 else "express"
        purpose = "marketing" if n % 4 == 0 else ("informational" if n % 3 else "")
        listed = "deals" if n % 5 == 0 else ""
        lines.append(f"{_contact(n)},{kind},{purpose},form {n % 3},2024-02-0{1 + n % 7}T00:00:00Z,"
                     f"ats,{listed}")
    lines += [f"{_contact(3)},implied,marketing,,,,", f"{_contact(5)},weird,,x,,,",
              f"{_contact(6)},express,,x,,,nolist", "bad,express,,x,,,", f"{_contact(1)}"]
    return "\n".join(lines).encode()


def _run_file(store: Store, path: Path, contacts: bool = False) -> tuple[dict[str, Any], str]:
    sink = io.StringIO()
    with path.open("rb") as source:
        if contacts:
            summary = imp.import_contacts(store, "default", source, sink, by="tester",
                                          name="old.csv", rejects_name="old.rejects.csv",
                                          batch=7, evidence="default form")
        else:
            summary = imp.import_opt_outs(store, "default", source, sink, by="tester",
                                          name="old.csv", rejects_name="old.rejects.csv",
                                          batch=7)
    summary.pop("seconds")
    return summary, sink.getvalue()


def test_rows_read_by_a_parser_process_write_what_reading_here_writes(
        stores: tuple[Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt-outs then contacts, each imported twice, read by a parser process (its threshold
    forced down; runs of numbers new to the ledger then written at once from what it
    prepared) or in this process (prepared here): the same ledger, rejects and summaries."""
    here, there = stores
    _ledger(here)
    _ledger(there)
    opt_outs, contacts = tmp_path / "opt-outs.csv", tmp_path / "contacts.csv"
    opt_outs.write_bytes(_opt_outs())
    contacts.write_bytes(_contacts())
    runs = {}
    written_at_once = []
    record_new = Ledger.record_new

    def counted(ledger: Ledger, *args: Any, **kwargs: Any) -> bool:
        written_at_once.append(record_new(ledger, *args, **kwargs))
        return written_at_once[-1]

    monkeypatch.setattr(Ledger, "record_new", counted)
    for store, threshold in ((here, 10**9), (there, 0)):
        monkeypatch.setattr(import_process, "PROCESS_ROWS", threshold)
        runs[threshold] = [_run_file(store, path, path == contacts)
                           for path in (opt_outs, opt_outs, contacts, contacts)]
    assert written_at_once.count(True) >= 4  # runs of new numbers, prepared in either process
    assert runs[0] == runs[10**9]
    assert runs[0][2][0]["imported"] > 15 and "opted_out" in runs[0][2][1]
    assert _stored(there) == _stored(here)
    assert services.verify(there, "default")["ok"]


def test_a_run_written_unread_that_meets_a_stored_number_is_decided_again(
        stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a run of numbers new to the ledger, SQLite writes the next without looking its
    numbers up; one that holds a stored number is rolled back and decided row by row, at the
    same time recorded. The ledger is the one every run looked up leaves (the reference: an
    unread write always refused, after which every run is looked up, as on PostgreSQL)."""
    fast, reference = stores
    first = "phone\n" + "\n".join(_contact(n) for n in range(1, 7))
    # runs of 3 in phone order: 7-9 (new: written unread), then 2 (stored), 10, 11
    second = "phone,opted_out_at\n" + "\n".join(
        f"{_contact(n)},2024-01-0{n % 9 + 1}T00:00:00Z" for n in (9, 7, 8, 11, 2, 10))
    record_new = Ledger.record_new
    seen: list[object] = []

    def watched(ledger: Ledger, *args: Any, unread: bool = False) -> bool:
        try:
            done = record_new(ledger, *args, unread=unread)
        except AlreadyStored:
            seen.append("stored")
            raise
        seen.append(unread)
        return done

    def refused(ledger: Ledger, *args: Any, unread: bool = False) -> bool:
        if unread:
            raise AlreadyStored("refused, for the reference")
        return record_new(ledger, *args)

    results = []
    for store, wrapper in ((fast, watched), (reference, refused)):
        services.create_workspace(store, "default", business_name="Acme",
                                  contact="help@acme.test")
        monkeypatch.setattr(Ledger, "record_new", wrapper)
        results.append([imp.import_opt_outs(store, "default", io.BytesIO(data.encode()),
                                            io.StringIO(), by="tester", batch=3)
                        for data in (first, second)])
        for summary in results[-1]:
            summary.pop("seconds")
    if fast.engine.dialect.name == "sqlite":
        assert seen.count("stored") == 1 and seen.count(True) >= 3  # 1-3, 4-6, 7-9 unread
    else:  # PostgreSQL looks every run up
        assert "stored" not in seen and True not in seen
    assert results[0] == results[1]
    assert results[0][1]["imported"] == 5 and results[0][1]["unchanged"] == 1
    assert _stored(fast) == _stored(reference)
    assert services.verify(fast, "default")["ok"]


def _opened(path: Path) -> tuple[BinaryIO, csvio.CsvShape]:
    source = path.open("rb")
    return source, csvio.scan(source, str(path))


def test_a_killed_parser_process_stops_the_import_with_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser process that dies mid-file is an error saying how far the import got, never
    a quiet end of the file."""
    path = tmp_path / "big.csv"
    path.write_text("phone\n" + "".join(f"+1555{n:07d}\n" for n in range(300_000)))
    source, shape = _opened(path)
    started = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    with source, closing(import_process._read_by_process(
            str(path), source, shape, import_rows.RowReader("opted_out_at"), "US",
            "2026-01-01T00:00:00.000000Z", 1000)) as batches:
        rows, _, _, _ = next(batches)
        assert len(rows) == 1000
        (child,) = started
        child.kill()
        with pytest.raises(SmsConsentError) as caught:
            for _ in batches:
                pass
    assert caught.value.code == "import_interrupted"
    assert "the import stopped after" in caught.value.message


def test_the_parser_process_stops_preparing_runs_when_told(tmp_path: Path) -> None:
    """Runs come prepared for the writer's fresh path until ``Preparing.stop`` (a
    re-import), then unprepared: the same rows either way."""
    path = tmp_path / "big.csv"
    path.write_text("phone\n" + "".join(f"+1555{n:07d}\n" for n in range(250_000)))
    source, shape = _opened(path)
    plan = FreshPlan(FreshSpec(EventType.OPTED_OUT, "agent:t",
                               functools.partial(opt_out_data, "big.csv"), 2),
                     ("phone", "at", "evidence", "origin"))
    preparing = import_process.Preparing()
    with source, closing(import_process._read_by_process(
            str(path), source, shape, import_rows.RowReader("opted_out_at"), "US",
            "2026-01-01T00:00:00.000000Z", 1000, plan, preparing)) as runs:
        first = next(runs)
        preparing.stop()
        rest = list(runs)
    assert first[3] is not None and first[3].values[0] == [r.phone for r in first[0]]
    assert rest[-1][3] is None
    assert sum(len(run[0]) for run in [first, *rest]) == 250_000


def test_a_file_spoilt_under_the_parser_process_is_refused_as_bad_input(tmp_path: Path
                                                                         ) -> None:
    """Bytes that are no longer UTF-8 when the parser process reads them are the same bad
    input (not_utf8) as when the file is checked, after the rows before them."""
    path = tmp_path / "spoilt.csv"
    path.write_text("phone\n" + "".join(f"+1555{n:07d}\n" for n in range(5000)))
    source, shape = _opened(path)
    with path.open("r+b") as spoil:
        spoil.seek(-9, 2)
        spoil.write(b"\xff\xfe")
    with source, pytest.raises(BadInput) as caught:
        list(import_process._read_by_process(str(path), source, shape,
                                          import_rows.RowReader("opted_out_at"), "US",
                                          "2026-01-01T00:00:00.000000Z", 1000))
    assert caught.value.code == "not_utf8"


def test_a_file_the_parser_process_cannot_open_is_read_here(tmp_path: Path) -> None:
    """If the parser process cannot open the file, this process reads it: the same runs."""
    path = tmp_path / "here.csv"
    path.write_text("phone\n" + "".join(f"+1555{n:07d}\n" for n in range(50)))
    source, shape = _opened(path)
    reader = import_rows.RowReader("opted_out_at")
    now = "2026-01-01T00:00:00.000000Z"
    with source:
        got = list(import_process._read_by_process(str(tmp_path / "missing.csv"), source,
                                                shape, reader, "US", now, 20))
    assert [(len(rows), refused) for rows, refused, _, _ in got] == [(20, []), (20, []), (10, [])]
    assert sum(read for _, _, read, _ in got) == 50
    assert got[0][0][0].phone == "+15550000000"  # the process could not open it: read here


def _quote_left_open(path: Path) -> None:
    """A file whose third data row opens a quote that is never closed: the field it starts
    runs to the end of the file, past the CSV reader's size limit."""
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,evidence\n+15551230001,a\n+15551230002,b\n+15551230003,\"open\n")
        row = "".join(f"+1555{n:07d},x\n" for n in range(10_000))
        written = 0
        while written <= csvio.MAX_FIELD:
            written += out.write(row)


def test_a_quote_left_open_past_the_field_limit_is_bad_input_in_both_readers(
        tmp_path: Path) -> None:
    """A field over the reader's limit (a quote never closed, in a big file) is bad input,
    bad_csv, read here or by the parser process: not a csv.Error, nor a parser process that
    'ended before the end of the file' as if importing again could finish it."""
    path = tmp_path / "open.csv"
    _quote_left_open(path)
    reader = import_rows.RowReader("opted_out_at")
    now = "2026-01-01T00:00:00.000000Z"
    for read in (import_rows.read_here, functools.partial(import_process._read_by_process,
                                                          str(path))):
        source, shape = _opened(path)
        with source, pytest.raises(BadInput) as caught:
            list(read(source, shape, reader, "US", now, 1000))
        assert caught.value.code == "bad_csv", read
        assert "after line 1:" in caught.value.message
