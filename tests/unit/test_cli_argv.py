"""``hoist_globals``: where the shared options may stand on the command line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smsconsent.cli import hoist_globals

words = st.lists(st.sampled_from(["status", "check", "+15551234567", "--from", "--to", "x",
                                  "--db", "sqlite:///a.db", "--workspace", "w", "--body",
                                  "--format", "table", "--jsonl", "--format=json"]),
                 max_size=12)


@given(words)
def test_nothing_is_lost_or_added(argv: list[str]) -> None:
    assert sorted(hoist_globals(argv)) == sorted(argv)


@given(st.sampled_from([["--format", "table"], ["--format=table"]]), words)
def test_a_format_before_the_command_goes_after_it(fmt: list[str], after: list[str]) -> None:
    argv = ["--db", "sqlite:///a.db", *fmt, "status", *after]
    out = hoist_globals(argv)
    assert out[-len(fmt):] == fmt  # after everything: the command's own option
    assert out.index("status") < len(out) - len(fmt)


def test_a_format_that_is_an_option_value_stays_put() -> None:
    argv = ["inbound", "--body", "--format", "--to", "x"]
    assert hoist_globals(argv) == argv
