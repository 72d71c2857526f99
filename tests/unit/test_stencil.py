"""Stencilled rows are byte for byte what the generic serialisers give (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import EventType
from smsconsent.storage.chain import canonical, event_hash
from smsconsent.storage.contact_row import state_row
from smsconsent.storage.fresh import FreshEvent, FreshKind, FreshSpec, fresh_form
from smsconsent.storage.stencil import Stencil, Unstencillable, json_value, placeholder

# Any text, including quotes, backslashes, control and non-ASCII characters, braces and
# lookalikes of the placeholders' own private-use characters.
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
MAYBE = st.none() | TEXT


def _data(evidence: str | None, origin: str | None) -> dict[str, Any]:
    return {"keys": ["sms:workspace"], "method": "import", "source": "import",
            "evidence": evidence, "origin": origin, "file": "a {b}.csv"}


SPEC = FreshSpec(EventType.OPTED_OUT, "agent:root", _data, 2)


@settings(max_examples=300)
@given(a=MAYBE, b=MAYBE, c=st.integers(-10**12, 10**12))
def test_json_stencil_fills_as_canonical(a: str | None, b: str | None, c: int) -> None:
    text = canonical({"b": placeholder(1), "a": [placeholder(0), "{x}"], "n": placeholder(2)})
    assert Stencil(text, 3).fill([a, b, c]) == canonical({"b": b, "a": [a, "{x}"], "n": c})


@settings(max_examples=300)
@given(phone=TEXT, at=TEXT, evidence=MAYBE, origin=MAYBE, seq=st.integers(1, 10**12),
       prev=TEXT, now=TEXT, ws=st.integers(1, 10**6))
def test_fresh_kind_writes_what_the_generic_path_writes(
        phone: str, at: str, evidence: str | None, origin: str | None, seq: int, prev: str,
        now: str, ws: int) -> None:
    kind = FreshKind(SPEC, ws, now)
    written = kind.write(seq, prev, (phone, at, evidence, origin))
    assert written is not None
    row, digest, contact = written
    event = FreshEvent(SPEC, phone, at, evidence, origin).event()
    data_json = canonical(event.data)
    assert digest == event_hash(prev, seq, "opted_out", phone, at, now, "agent:root", None,
                                data_json)
    assert row == (ws, seq, "opted_out", phone, at, now, "agent:root", None, data_json, digest)
    state = ContactState(phone)
    state.apply("opted_out", at, "agent:root", event.data)
    assert contact == tuple(state_row(ws, state, now).values())


def test_a_placeholder_used_other_than_whole_is_refused() -> None:
    with pytest.raises(Unstencillable):
        Stencil(canonical({"a": placeholder(0)[:-1]}), 1)
    with pytest.raises(Unstencillable):
        Stencil(canonical({"a": "x" + placeholder(0)}), 1)
    assert Stencil(placeholder(0), 1).fill(["as is"]) == "as is"


def test_a_kind_whose_state_depends_on_a_value_is_caught_on_its_first_row() -> None:
    """A data function that transforms its value is caught: the first write compares."""
    spec = FreshSpec(EventType.OPTED_OUT, "agent:root",
                     lambda source: {"keys": ["sms:workspace"], "source": str(source).upper()}, 1)
    assert FreshKind(spec, 1, "now").write(1, "0" * 64, ("+15551230001", "t", "stop")) is None
    with pytest.raises(Unstencillable):  # a placeholder cut in two
        FreshKind(FreshSpec(EventType.OPTED_OUT, "agent:root",
                            lambda s: {"keys": ["sms:workspace"], "source": str(s)[1:]}, 1),
                  1, "now")


def test_json_value_is_json_dumps() -> None:
    import json

    for value in ("é\"\\\n\u2028", None, 0, -5, 10**20, True, False):
        assert json_value(value) == json.dumps(value, ensure_ascii=False)


def _sourced(source: str | None) -> dict[str, Any]:
    return {"keys": ["sms:workspace"], "method": "import", "source": source}


SOURCED = FreshSpec(EventType.OPTED_OUT, "agent:root", _sourced, 1)


@settings(max_examples=200)
@given(sources=st.lists(MAYBE, min_size=1, max_size=6), now=TEXT)
def test_a_value_of_the_stored_state_is_never_stencilled_as_null(
        sources: list[str | None], now: str) -> None:
    """A slot that lands in the stored state (here the consent's source) and is None for some
    row: the stored state leaves None out, which a stencil cannot, so such a row is refused
    (None: the generic path), never written with other bytes than the generic ones."""
    kind = FreshKind(SOURCED, 1, now)
    for n, source in enumerate(sources):
        written = kind.write(n + 1, "0" * 64, (f"+1555123000{n}", "t", source))
        if source is None:
            assert written is None
            continue
        assert written is not None
        state = ContactState(f"+1555123000{n}")
        state.apply("opted_out", "t", "agent:root", _sourced(source))
        assert written[2] == tuple(state_row(1, state, now).values())


ROWS = st.lists(st.tuples(TEXT, TEXT, MAYBE, MAYBE), min_size=1, max_size=8)
ALIKE = st.tuples(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=8), MAYBE, MAYBE).map(
    lambda made: [(phone, at, made[1], made[2]) for phone, at in made[0]])


@settings(max_examples=200)
@given(rows=ROWS | ALIKE)
def test_pieces_made_a_column_at_a_time_are_those_made_a_row_at_a_time(
        rows: list[tuple[str, str, str | None, str | None]]) -> None:
    """``pieces_many`` (what the parser process sends), whether the rows' data values are
    alike (filled by map) or not, gives each row's ``pieces``, or None if any row has none."""
    form = fresh_form(SOURCED)
    assert form is not None
    one_by_one = [form.pieces((phone, at, source)) for phone, at, source, _ in rows]
    columns = form.pieces_many([list(c) for c in zip(*[r[:3] for r in rows], strict=True)])
    if None in one_by_one:
        assert columns is None
    else:
        assert columns == [list(c) for c in zip(*one_by_one, strict=True)]


@settings(max_examples=200)
@given(rows=ROWS | ALIKE, seq=st.integers(0, 10**12), prev=TEXT, now=TEXT,
       ws=st.integers(1, 10**6))
def test_a_run_written_at_once_is_what_writing_each_event_gives(
        rows: list[tuple[str, str, str | None, str | None]], seq: int, prev: str, now: str,
        ws: int) -> None:
    """``FreshKind.write_many`` (a run of new contacts, ``Ledger.record_new``) gives the rows,
    chained hashes and contact rows that ``write`` gives one event after another."""
    values = [list(c) for c in zip(*rows, strict=True)]
    form = fresh_form(SPEC)
    assert form is not None
    pieces = form.pieces_many(values)
    assert pieces is not None  # SPEC's state holds no data value: any row can be stencilled
    written = FreshKind(SPEC, ws, now).write_many(seq, prev, values, pieces)
    assert written is not None
    one, last = FreshKind(SPEC, ws, now), prev
    expected_rows, expected_contacts = [], []
    for n, row in enumerate(rows, seq + 1):
        made = one.write(n, last, row)
        assert made is not None
        expected_rows.append(made[0])
        expected_contacts.append(made[2])
        last = made[1]
    assert written == (expected_rows, last, expected_contacts)
