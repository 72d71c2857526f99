"""A file read as lines (``csvlines``) gives the parser's rows, and a line kept as it came
is the text the writer writes of its row: on any lines, however the fields are quoted."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.csvio import ChunkReader, _blank
from smsconsent.csvlines import BLANK, LineChunks, with_field

_TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\n\t\x00é\u2028\u3000')), max_size=5)
# A field as people write them: bare, quoted (needed or not, quotes doubled or not), or
# with a stray quote.
_FIELD = st.one_of(
    st.text(alphabet="ab 1+()-é\x00\t", max_size=6),
    _TEXT.map(lambda t: '"' + t.replace('"', '""') + '"'),
    _TEXT.map(lambda t: '"' + t + '"'),
    _TEXT,
    st.sampled_from(["", " ", "\u3000", '""', '"a,b"', '"Lyon, FR"', '"x"y', 'x"y"',
                     'x"a,b"', '"a,b"x', '"a,"b', '","']),
)
_END = st.sampled_from(["\n", "\r\n", "\r"])


def _writer(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()[:-1]


def _parser_rows(data: bytes) -> tuple[list[str] | None, list[list[str]]]:
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    rows = [row for row in csv.reader(text) if not _blank(row)]
    return (rows[0], rows[1:]) if rows else (None, [])


def _read(data: bytes, width: int, at: int, size: int) -> tuple[list[object], list[str]]:
    reader = ChunkReader(io.BytesIO(data))
    records: list[object] = []
    phones: list[str] = []
    for chunk, texts in LineChunks(reader, width, at).chunks(size):
        assert len(chunk) == len(texts) and 0 < len(chunk) <= size
        records.extend(chunk)
        phones.extend(texts)
    reader.close()
    return records, phones


@settings(max_examples=600, deadline=None)
@given(data=st.data(), width=st.integers(1, 4), size=st.integers(1, 6),
       bom=st.booleans())
def test_records_are_the_parsers_rows(data: st.DataObject, width: int, size: int,
                                      bom: bool) -> None:
    """Lines of any fields and widths, blank lines, any line ends, a BOM: each record is the
    parser's row, a line kept as it came is exactly what the writer writes of that row (and
    has the header's width), and each phone field is the row's (empty when it is short)."""
    at = data.draw(st.integers(0, width - 1))
    lines = data.draw(st.lists(st.lists(_FIELD, min_size=0, max_size=width + 1)
                               .map(",".join), max_size=12))
    ends = data.draw(st.lists(_END, min_size=len(lines) + 1, max_size=len(lines) + 1))
    header = ",".join(f"h{i}" for i in range(width))
    text = header + ends[0] + "".join(line + end for line, end in zip(lines, ends[1:],
                                                                        strict=True))
    if data.draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line end at the end of the file
    raw = ("\ufeff" if bom else "") + text
    _, rows = _parser_rows(raw.encode())
    records, phones = _read(raw.encode(), width, at, size)
    assert len(records) == len(rows)
    for record, row, phone in zip(records, rows, phones, strict=True):
        if isinstance(record, str):
            assert record == _writer(row)
            assert len(row) == width
            assert record.split(",") == row or '"' in record
        else:
            assert record == row
        assert phone == (row[at] if at < len(row) else "")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), width=st.integers(1, 4), new=st.sampled_from(["+15551234567", "+1"]))
def test_a_field_replaced_is_the_writers_text(data: st.DataObject, width: int,
                                              new: str) -> None:
    """The phone field of a line kept as it came, replaced: the writer's text of the row
    with that field replaced, wherever quotes are."""
    at = data.draw(st.integers(0, width - 1))
    lines = data.draw(st.lists(st.lists(_FIELD, min_size=width, max_size=width)
                               .map(",".join), min_size=1, max_size=6))
    raw = ",".join(f"h{i}" for i in range(width)) + "\n" + "\n".join(lines) + "\n"
    _, rows = _parser_rows(raw.encode())
    records, phones = _read(raw.encode(), width, at, 100)
    for record, row, phone in zip(records, rows, phones, strict=True):
        if isinstance(record, str):
            row[at] = new
            assert with_field(record, width, at, phone, new) == _writer(row)


def test_blank_holds_what_strip_strips() -> None:
    """``BLANK`` is every character ``str.strip`` strips (none past U+3000), and the comma."""
    spaces = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(BLANK) == spaces | {","}


def test_a_quoted_line_break_hands_the_rest_to_the_parser() -> None:
    """A record across lines (and a bare CR) is read by the parser from its block on."""
    raw = b'n,phone\na,1\n"b\nc",2\nd,3\r\ne,"4\r5"\rf,6\n'
    _, rows = _parser_rows(raw)
    records, phones = _read(raw, 2, 1, 2)
    assert records == rows
    assert phones == ["1", "2", "3", "4\r5", "6"]
