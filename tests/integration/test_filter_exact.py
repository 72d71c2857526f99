"""``filter``'s fast path writes exactly what the generic path writes, on a varied ledger.

The generic path (``exact=True``) rebuilds every stored state and asks ``decide`` for each row;
the fast path memoises the gate on the decision-relevant part of a state. Both must give the
same sendable file, refused file and summary, byte for byte, whatever the file holds, and every
verdict must be the one ``check`` gives for that contact.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from smsconsent import services
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.phones import normalize_phone
from smsconsent.services import Store, filter_helper, filtering
from smsconsent.storage.views import ViewMoved, shared_reading

OURS, OTHER = "+15557654321", "+15557654322"


def _contact(n: int) -> str:
    return f"+1555123{n:04d}"


def _ledger(store: Store) -> int:
    """Contacts in every state the gate tells apart; returns how many there are."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", OURS, campaign="C1")
    services.add_number(store, "default", OTHER, campaign="C2")
    services.add_list(store, "default", "deals", keyword="STOP DEALS")
    services.add_list(store, "default", "news")

    def inbound(n: int, to: str, body: str) -> None:
        services.handle_inbound(store, _contact(n), to, body)

    def subscribe(n: int, name: str = "deals") -> None:
        services.subscribe(store, "default", name, _contact(n), evidence="JOIN", by="a")

    def marketing(n: int) -> None:
        services.grant_consent(store, "default", _contact(n), type_="express_written",
                               purpose="marketing", evidence="web form", by="a")

    inbound(0, OURS, "STOP")                      # workspace scope
    services.update_workspace(store, "default", scope="number")
    inbound(1, OTHER, "STOP")                     # another number's scope: not ours
    inbound(2, OURS, "STOP")                      # our number's scope
    inbound(14, OURS, "STOP")
    services.update_workspace(store, "default", scope="campaign")
    inbound(3, OTHER, "STOP")                     # another campaign: not ours
    inbound(4, OURS, "STOP")                      # our campaign
    inbound(14, OURS, "STOP")                     # a second opt-out in force
    services.update_workspace(store, "default", scope="workspace")
    inbound(5, OURS, "STOP")
    inbound(5, OURS, "START")                     # back in
    services.block(store, "default", _contact(6), by="a")
    subscribe(7)
    subscribe(8)
    inbound(8, OURS, "STOP DEALS")                # left the list only
    marketing(9)
    services.send(store, OURS, _contact(10), "hello")
    subscribe(11)
    marketing(11)
    subscribe(11, "news")
    services.opt_out(store, "default", _contact(12), by="a")
    services.import_opt_outs(store, "default", io.BytesIO(
        f"phone,opted_out_at\n{_contact(13)},2023-05-01T00:00:00Z\n".encode()), io.StringIO(),
        by="tester")
    subscribe(15, "news")
    marketing(15)
    services.block(store, "default", _contact(16), by="a")
    services.unblock(store, "default", _contact(16), by="a")
    return 17


def _written(n: int, form: int) -> str:
    """A number the ways people write them."""
    digits = _contact(n)[2:]
    return [f"+1{digits}", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            f" 1-{digits[:3]}-{digits[3:6]}-{digits[6:]} ", f"{digits}"][form]


_field = st.text(alphabet="ab ,\"\n\u00e9", max_size=6)
_number = st.one_of(
    st.tuples(st.integers(0, 20), st.integers(0, 3)).map(lambda t: _written(*t)),  # 17-20 new
    st.sampled_from(["", "12", "not-a-number", "+44 20 7946 0958", "555-0100", "+1555"]),
)
_row = st.one_of(
    st.tuples(_field, _number, _field).map(list),
    st.tuples(_field, _number, _field, _field).map(list),  # more fields than the header
    st.tuples(_field, _number).map(list),                  # fewer
    st.tuples(_field).map(list),                           # too few to hold the number
    st.just([]),                                          # a blank line
)


def _file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "phone", "note"])
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def _run(store: Store, data: bytes, purpose: str, list_name: str | None, chunk: int,
         exact: bool) -> tuple[str, str, dict[str, Any]]:
    sendable, refused = io.StringIO(), io.StringIO()
    summary = services.filter_recipients(store, io.BytesIO(data), sendable, refused,
                                         sender=OURS, purpose=purpose, list_name=list_name,
                                         chunk=chunk, exact=exact)
    summary.pop("seconds")
    return sendable.getvalue(), refused.getvalue(), summary


@pytest.fixture
def ledger(store: Store) -> Store:
    _ledger(store)
    return store


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, max_size=40), chunk=st.integers(1, 12))
def test_fast_path_writes_what_the_generic_path_writes(ledger: Store, rows: list[list[str]],
                                                        chunk: int) -> None:
    """Every purpose, with and without a list, on both policies for transactional messages."""
    data = _file(rows)
    for essential in (False, True):
        services.update_workspace(ledger, "default", essential_after_stop=essential)
        for purpose in PURPOSES:
            for list_name in (None, "deals", "news"):
                fast = _run(ledger, data, purpose, list_name, chunk, exact=False)
                assert fast == _run(ledger, data, purpose, list_name, 10_000, exact=True)


_lone = st.one_of(st.tuples(_number).map(list), st.tuples(_number, _field).map(list),
                 st.tuples(_field, _field).map(list), st.just([""]), st.just([]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_lone, max_size=30), chunk=st.integers(1, 12),
       end=st.sampled_from(["\n", "\r\n"]), repeat=st.booleans())
def test_fast_path_on_a_phone_column_alone(ledger: Store, rows: list[list[str]], chunk: int,
                                           end: str, repeat: bool) -> None:
    """A file of one column (where a lone empty field is written ``""``), with rows too long
    and blank, CRLF line ends, every number twice or not: the chunk-at-a-time path writes
    the reference's bytes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=end)
    writer.writerow(["Phone"])
    writer.writerows(rows + rows if repeat else rows)
    data = out.getvalue().encode()
    for purpose in ("informational", "marketing"):
        fast = _run(ledger, data, purpose, None, chunk, exact=False)
        assert fast == _run(ledger, data, purpose, None, 10_000, exact=True)


_bare = st.text(alphabet="ab \u00e9", max_size=4)
_raw_field = st.one_of(  # mostly as the writer writes them (bare, or quoted for a comma)
    _bare, _bare, _bare, st.text(alphabet="ab ,\u00e9", max_size=6).map(lambda t: f'"{t},"'),
    st.text(alphabet='ab ,"\u00e9', max_size=6).map(lambda t: '"' + t.replace('"', '""') + '"'),
    st.sampled_from(['"Lyon, FR"', '""', '"ab"', 'x"y', '"a,"b', '\x00', "\u00e9\u3000", " "]))
_raw_number = st.one_of(_number, _number, _number.map(lambda t: f'"{t}"'),
                        st.just('"(555) 123-0013, x"'))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(
    st.tuples(_raw_field, _raw_number, _raw_field),
    st.tuples(_raw_number, _raw_field, _raw_field),  # a quote before the number, or not
    st.tuples(_raw_field, _raw_number),
    st.tuples(_raw_field, _raw_number, _raw_field, _raw_field),
    st.tuples(_raw_field)).map(",".join), max_size=40),
    ends=st.sampled_from(["\n", "\r\n", "\r"]), chunk=st.integers(1, 12), bom=st.booleans(),
    broken=st.integers(-1, 40))
def test_fast_path_on_lines_as_people_write_them(ledger: Store, lines: list[str], ends: str,
                                                 chunk: int, bom: bool, broken: int) -> None:
    """Lines not written by ``csv.writer`` (quotes where none is needed, stray or undoubled
    quotes, a quoted number, a number before or after a quoted field, NUL, any line end, a
    BOM, a quoted line break at line ``broken``): lines kept as they came and rows parsed
    give the reference's bytes."""
    if 0 <= broken <= len(lines):
        lines.insert(broken, 'x,"(555) 123-0003\nb",y')
    data = (("\ufeff" if bom else "") + "name,phone,note" + ends + ends.join(lines) + ends
            ).encode()
    for purpose in ("informational", "marketing"):
        fast = _run(ledger, data, purpose, None, chunk, exact=False)
        assert fast == _run(ledger, data, purpose, None, 10_000, exact=True)


def test_every_verdict_is_the_gates(ledger: Store) -> None:
    """On each contact of the ledger and a new one, each row's fate is what ``check`` says,
    and the opt-out detail names the opt-out in force."""
    rows = [["x", _written(n, n % 4), "y"] for n in range(18)]
    for purpose in PURPOSES:
        for list_name in (None, "deals"):
            sendable, refused, summary = _run(ledger, _file(rows), purpose, list_name, 5,
                                              exact=False)
            fates: dict[str, str] = {}
            for row in csv.DictReader(io.StringIO(sendable)):
                fates[row["phone"]] = "sendable"
            for row in csv.DictReader(io.StringIO(refused)):
                fates[normalize_phone(row["phone"])] = row["reason"]
            assert len(fates) == 18
            for phone, fate in fates.items():
                decision = services.check(ledger, OURS, phone, purpose=purpose,
                                          list_name=list_name)
                assert fate == ("sendable" if decision.allowed else decision.reason), phone
            assert summary["sendable"] + summary["refused"] == 18
    _, refused, _ = _run(ledger, _file(rows), "informational", None, 5, exact=False)
    details = {normalize_phone(r["phone"]): r["detail"]
               for r in csv.DictReader(io.StringIO(refused))}
    assert details[_contact(13)] == ("the contact opted out of SMS from this number "
                                     "(sms:workspace, import, 2023-05-01T00:00:00.000000Z)")
    assert details[_contact(2)].startswith(f"the contact opted out of SMS from this number "
                                           f"(sms:number:{OURS}, inbound_sms_keyword, ")
    assert _contact(1) not in details and _contact(3) not in details



def test_a_row_too_short_to_hold_the_number_is_refused(ledger: Store) -> None:
    """A row that ends before the phone column has an empty number, like any missing field."""
    data = b"name,phone,note\nalice\nbob,+15551230017,x\n"
    sendable, refused, summary = _run(ledger, data, "informational", None, 10, exact=False)
    assert summary["by_reason"] == {"invalid_phone": 1}
    assert refused.splitlines()[1] == "alice,,,invalid_phone,phone number is empty"
    assert sendable.splitlines() == ["name,phone,note", "bob,+15551230017,x"]


# Two processes (services/filter_helper.py): the same bytes as one.

SPLIT_LOG = "smsconsent.services.filter_helper"


def _run_file(store: Store, path: Path, purpose: str, list_name: str | None, chunk: int,
              split_rows: int | None) -> tuple[str, str, dict[str, Any]]:
    sendable, refused = io.StringIO(), io.StringIO()
    with path.open("rb") as source:
        summary = services.filter_recipients(store, source, sendable, refused, sender=OURS,
                                             purpose=purpose, list_name=list_name,
                                             chunk=chunk, split_rows=split_rows)
    summary.pop("seconds")
    return sendable.getvalue(), refused.getvalue(), summary


def _how(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name == SPLIT_LOG]
    caplog.clear()
    return found


_blank_or_row = st.one_of(_row, st.just([]), st.just([""]))
_crlf = st.sampled_from(["\n", "\r\n"])


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_blank_or_row, min_size=1, max_size=40), chunk=st.integers(1, 12),
       share=st.floats(0.05, 0.95), purpose=st.sampled_from(PURPOSES),
       list_name=st.sampled_from([None, "deals", "news"]), newline=_crlf,
       in_memory=st.sampled_from([0, 1, 3, 1_000_000]))
def test_two_processes_write_what_one_writes(
        ledger: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, rows: list[list[str]], chunk: int, share: float,
        purpose: str, list_name: str | None, newline: str, in_memory: int) -> None:
    """Any file, cut anywhere: quoted line breaks (then one process goes on alone), blank
    lines, invalid and short rows, and numbers repeated on both sides of the cut; and with
    the numbers met moved to the temporary table after ``in_memory`` of them."""
    caplog.set_level(logging.INFO, logger=SPLIT_LOG)
    monkeypatch.setattr(filter_helper, "HEAD_SHARE", share)
    path = tmp_path / "recipients.csv"
    path.write_bytes(_file(rows).replace(b"\r\n", newline.encode()))
    one = _run_file(ledger, path, purpose, list_name, chunk, split_rows=None)
    monkeypatch.setattr(filtering, "SEEN_IN_MEMORY", in_memory)
    assert _run_file(ledger, path, purpose, list_name, chunk, split_rows=None) == one
    assert not _how(caplog)
    assert _run_file(ledger, path, purpose, list_name, chunk, split_rows=1) == one
    assert len(_how(caplog)) <= 1


def _cut_file(path: Path, head: list[list[str]], tail: list[list[str]]) -> None:
    """A file whose cut (at HEAD_SHARE 0.5) falls after the first row of ``tail``: blank
    lines after the tail make it as long as the head."""
    before = _file(head)
    after = io.StringIO()
    csv.writer(after).writerows(tail)
    pad = len(before) - len(after.getvalue().encode())
    assert pad >= 0
    path.write_bytes(before + after.getvalue().encode() + b"\n" * pad)


def test_duplicates_across_the_cut(ledger: Store, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   caplog: pytest.LogCaptureFixture) -> None:
    """A number first seen before the cut is a duplicate after it, however it is written;
    the helper's part is judged in the helper (two processes) and appended."""
    caplog.set_level(logging.INFO, logger=SPLIT_LOG)
    monkeypatch.setattr(filter_helper, "HEAD_SHARE", 0.5)
    head = [["a", _written(n, n % 4), "x" * 30] for n in range(18)]
    tail = [["b", _written(n, (n + 1) % 4), "y"] for n in (0, 2, 5, 9, 17, 19, 19)]
    path = tmp_path / "r.csv"
    _cut_file(path, head, tail)
    for purpose in PURPOSES:
        one = _run_file(ledger, path, purpose, None, 4, split_rows=None)
        two = _run_file(ledger, path, purpose, None, 4, split_rows=1)
        assert _how(caplog) == ["filter: two processes, cut after line 20"]
        assert two == one
        assert one[2]["by_reason"]["duplicate"] == 6


def test_a_quoted_line_break_across_the_cut(ledger: Store, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """When a quoted field runs across the cut, one process judges the whole file, the same
    way; an even count of quotes before the cut is only a guess, the reader proves it."""
    caplog.set_level(logging.INFO, logger=SPLIT_LOG)
    monkeypatch.setattr(filter_helper, "HEAD_SHARE", 0.5)
    lines = ["name,phone,note"] + [f"a,{_contact(n)},x" for n in range(10)]
    lines += ['x"y,+15551230011,z', '"multi', 'line",+15551230012,w']  # 2 quotes before the
    lines += [f"c,{_contact(n)},y" for n in range(6)]                   # break: even
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    one = _run_file(ledger, path, "marketing", None, 3, split_rows=None)
    for step in range(1, 20):
        monkeypatch.setattr(filter_helper, "HEAD_SHARE", step / 20)
        assert _run_file(ledger, path, "marketing", None, 3, split_rows=1) == one
    told = _how(caplog)
    assert "filter: one process (a quoted field runs across the cut)" in told
    assert any(line.startswith("filter: two processes") for line in told), told


def test_a_file_longer_than_the_split_bound_stays_in_one_process(
        ledger: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Past ``SPLIT_MAX_ROWS`` lines each process would keep its own set of numbers, so the
    file is judged in one process, with the same outputs; at the bound it is split."""
    caplog.set_level(logging.INFO, logger=SPLIT_LOG)
    path = tmp_path / "r.csv"
    path.write_text("name,phone,note\n" + "".join(f"a,{_contact(n)},x\n" for n in range(12)))
    one = _run_file(ledger, path, "marketing", None, 3, split_rows=None)
    monkeypatch.setattr(filtering, "SPLIT_MAX_ROWS", 11)
    assert _run_file(ledger, path, "marketing", None, 3, split_rows=1) == one
    assert not _how(caplog)
    monkeypatch.setattr(filtering, "SPLIT_MAX_ROWS", 12)
    assert _run_file(ledger, path, "marketing", None, 3, split_rows=1) == one
    assert any(line.startswith("filter: two processes") for line in _how(caplog))


def test_a_moved_ledger_is_not_shared(store: Store) -> None:
    """On SQLite the helper's view is the parent's only while the workspace's ledger has not
    moved; on PostgreSQL it is the exported snapshot whatever happens after."""
    _ledger(store)
    with store.read() as conn:
        ws = conn.execute(text("SELECT id FROM workspaces WHERE name = 'default'")).scalar_one()
    with shared_reading(store.engine, ws) as (first, token):
        before = first.execute(text("SELECT count(*) FROM contacts")).scalar_one()
        services.opt_out(store, "default", _contact(30), by="a")
        if store.engine.dialect.name == "sqlite":
            with pytest.raises(ViewMoved), shared_reading(store.engine, ws, token):
                pass
        else:
            with shared_reading(store.engine, ws, token) as (second, same):
                assert same == token
                assert second.execute(text("SELECT count(*) FROM contacts")
                                      ).scalar_one() == before
    with shared_reading(store.engine, ws) as (_, token), \
            shared_reading(store.engine, ws, token) as (_, again):
        assert again == token


class _Counted:
    def __init__(self) -> None:
        self.total, self.done = -1, 0

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, rows: int) -> None:
        self.done += rows


def test_progress_counts_the_helpers_rows(ledger: Store, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """The progress bar is told of every judged row, the helper's (sent on its pipe) too."""
    caplog.set_level(logging.INFO, logger=SPLIT_LOG)
    monkeypatch.setattr(filter_helper, "HEAD_SHARE", 0.3)
    path = tmp_path / "r.csv"
    path.write_bytes(_file([["a", _written(n % 21, n % 4), "b"] for n in range(500)]))
    counted = _Counted()
    with path.open("rb") as source:
        summary = services.filter_recipients(ledger, source, io.StringIO(), io.StringIO(),
                                             sender=OURS, chunk=7, split_rows=1,
                                             progress=counted)
    assert _how(caplog)[0].startswith("filter: two processes")
    assert counted.total == counted.done == summary["rows"] == 500
