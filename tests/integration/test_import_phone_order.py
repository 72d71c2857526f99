"""The opt-out import in phone order (``import_rows.in_phone_order``) means what the file's
order means: the same summary, rejects file, opted-out list and contact states, whatever the
file holds (repeats, numbers written several ways, older and newer times than the ledger's
own START/STOP, unreadable rows) and however small the windows.

Only the events' sequence order within a window may differ. Times the clock wrote (the
setup's events, rows without a time) are compared as ``NOW``; the file's own times as they are.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsconsent import services
from smsconsent.services import import_rows
from smsconsent.services.base import Store
from smsconsent.storage.database import ensure_schema, make_engine
from tests.integration.test_filter_exact import _contact, _ledger, _written

_when = st.sampled_from(["", "2020-01-01T00:00:00Z", "2021-06-01T12:00:00Z", "2024-05-05",
                         "2099-01-01T00:00:00Z", "garbage"])


@st.composite
def _lines(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Rows about a few of the ledger's contacts (so numbers repeat, at different times)."""
    few = draw(st.lists(st.integers(0, 22), min_size=1, max_size=4, unique=True))
    number = st.tuples(st.sampled_from(few), st.integers(0, 3)).map(lambda t: _written(*t))
    return draw(st.lists(st.tuples(number | st.just("not-a-number"), _when), max_size=30))

_DAYS = "|".join((datetime.now(UTC) + timedelta(days=d)).strftime("%Y-%m-%d") for d in (-1, 0, 1))
_NOW = re.compile(rf"(?:{_DAYS})T\d\d:\d\d:\d\d\.\d{{6}}Z")  # written by the clock, not the file


def _imported(folder: Path, lines: list[tuple[str, str]], window: int, ordered: bool) -> str:
    engine = make_engine(f"sqlite:///{folder / f'{window}-{ordered}.db'}")
    try:
        ensure_schema(engine)
        store = Store(engine)
        _ledger(store)
        data = ("phone,opted_out_at\n" + "".join(f"{p},{w}\n" for p, w in lines)).encode()
        rejects = io.StringIO()
        with mock.patch.object(import_rows, "WINDOW", window), \
                mock.patch.object(import_rows.RowReader, "order_free",
                                  property(lambda self: ordered)):
            summary = services.import_opt_outs(store, "default", io.BytesIO(data), rejects,
                                               by="t", batch=3)
        summary.pop("seconds")
        opted_out = "".join(services.export_opt_outs(store, "default"))
        states = {_contact(n): services.status(store, "default", _contact(n))
                  for n in range(23)}
        assert services.verify(store, "default")["ok"]
    finally:
        engine.dispose()
    return _NOW.sub("NOW", repr((summary, rejects.getvalue(), opted_out, states)))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_lines(), window=st.integers(1, 10))
def test_phone_order_changes_nothing_but_the_sequence(tmp_path_factory: object,
                                                      lines: list[tuple[str, str]],
                                                      window: int) -> None:
    folder = Path(tmp_path_factory.mktemp("order"))  # type: ignore[attr-defined]
    assert _imported(folder, lines, window, True) == _imported(folder, lines, window, False)
