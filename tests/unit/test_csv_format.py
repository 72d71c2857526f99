"""Chunks of CSV a column at a time: formatted exactly as ``csv.writer`` writes them, and
checked for blank rows exactly as a row at a time."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.csvformat import QUOTED, format_rows
from smsconsent.csvio import _blank, _none_blank

_FIELD = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t\x00é\u2028')) | st.characters(),
                 max_size=6)


def _writer(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


@settings(max_examples=500, deadline=None)
@given(data=st.data(), width=st.integers(1, 5), count=st.integers(0, 12),
       extra=st.integers(0, 2))
def test_same_text_as_the_writer(data: st.DataObject, width: int, count: int,
                                 extra: int) -> None:
    """Any fields (quotes, commas, line breaks, empty, non-ASCII), any width, with and
    without extra fields per row: the text ``writerows`` writes of the whole rows."""
    rows = data.draw(st.lists(st.lists(_FIELD, min_size=width, max_size=width),
                              min_size=count, max_size=count))
    ends = data.draw(st.lists(st.lists(_FIELD, min_size=extra, max_size=extra),
                              min_size=count, max_size=count))
    whole = [[*row, *end] for row, end in zip(rows, ends, strict=True)]
    assert format_rows(rows, ends) == _writer(whole)
    assert format_rows(rows) == _writer(rows)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(_FIELD, min_size=0, max_size=4), max_size=8))
def test_rows_of_unequal_width(rows: list[list[str]]) -> None:
    """Rows of different widths (and empty rows) are the writer's text too."""
    assert format_rows(rows) == _writer(rows)


def test_a_lone_empty_field_is_quoted() -> None:
    """A one-column row with nothing in it is written ``""``, as the writer does."""
    assert format_rows([[""], ["a"], [""]]) == '""\na\n""\n'


def test_quoted_characters_are_the_writers() -> None:
    """The characters that make a field quoted are asked of the writer (3.11: no ``\\r``)."""
    assert {",", '"', "\n"} <= set(QUOTED)
    assert format_rows([["a\rb", "c"]]) == _writer([["a\rb", "c"]])


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(st.text(alphabet=" \t\u3000a,", max_size=3), max_size=3),
                     max_size=6))
def test_blank_rows_are_found_a_chunk_at_a_time(rows: list[list[str]]) -> None:
    """The reader's chunk check finds a blank row (no fields, or whitespace alone) exactly
    where the row-by-row test does."""
    assert _none_blank(rows) == (not any(map(_blank, rows)))
