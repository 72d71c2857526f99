"""``import_rows.in_phone_order``: the opt-out import's rows regrouped in phone order.

What must hold for the import to mean the same thing: every row comes out exactly once, a
number's own rows keep their order and each sits in a later run than the one before it (so
each is decided against the state its earlier rows left), no run holds a number twice or more
than ``size`` rows, refusals come out in the file's order, the read counts add up, and within
a window the numbers really are in order (the point of it).
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.services.import_rows import Batch, Row, in_phone_order, parsed_batches

PHONES = st.sampled_from([f"+1202555{n:04d}" for n in range(12)])


def runs_of(lines: list[str | None], size: int) -> Iterator[Batch]:
    """The file's runs as ``parsed_batches`` gives them; None is an unreadable line."""
    def parse(fields: list[str]) -> Row:
        if fields[0] == "bad":
            from smsconsent.errors import BadInput
            raise BadInput("unreadable", code="bad")
        return Row([], fields[0], fields[1], None, None)

    chunks = [[[phone, str(i)] if phone is not None else ["bad", str(i)]
               for i, phone in enumerate(lines)]]
    return parsed_batches(chunks, parse, 2, size)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.one_of(PHONES, st.none()), max_size=60),
       size=st.integers(1, 7), window=st.integers(1, 25))
def test_the_order_changes_nothing_the_import_means(lines: list[str | None], size: int,
                                                     window: int) -> None:
    out = list(in_phone_order(runs_of(lines, size), window, size))
    rows = [row for run, _, _ in out for row in run]
    file_rows = [(phone, str(i)) for i, phone in enumerate(lines) if phone is not None]
    assert sorted((r.phone, r.at) for r in rows) == sorted(file_rows)
    for phone in set(p for p, _ in file_rows):
        assert [r.at for r in rows if r.phone == phone] == \
            [at for p, at in file_rows if p == phone]
    where: dict[str, int] = {}
    for n, (run, _, _) in enumerate(out):
        assert len(run) <= size
        assert len({r.phone for r in run}) == len(run)
        for r in run:
            assert where.get(r.phone, -1) < n
            where[r.phone] = n
    assert [f[1] for _, refused, _ in out for f, _, _ in refused] == \
        [str(i) for i, phone in enumerate(lines) if phone is None]
    assert sum(read for _, _, read in out) == len(lines)


def test_a_window_comes_out_in_phone_order() -> None:
    lines: list[str | None] = [f"+1202555{n:04d}" for n in (7, 3, 9, 1, 3, 5, 8, 2)]
    out = list(in_phone_order(runs_of(lines, 100), 100, 100))
    firsts, seconds = ([r.phone[-1] for r in run] for run, _, _ in out)
    assert firsts == ["1", "2", "3", "5", "7", "8", "9"]
    assert seconds == ["3"]  # the repeat after every first, as in the file


def test_windows_follow_each_other_in_the_files_order() -> None:
    lines: list[str | None] = [f"+1202555{n:04d}" for n in (9, 8, 2, 1)]
    out = list(in_phone_order(runs_of(lines, 2), 2, 2))
    assert [[r.phone[-1] for r in run] for run, _, _ in out] == [["8", "9"], ["1", "2"]]
