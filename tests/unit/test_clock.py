"""Ledger timestamps (domain/clock.py) are ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.domain.clock import format_ts

zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                         timezone(-timedelta(hours=11)), timezone(timedelta(hours=14))])


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                           timezones=zones))
def test_format_ts_is_the_utc_strftime(moment: datetime) -> None:
    """Any moment in any offset, years of one to four digits, any microseconds (zero too)."""
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert format_ts(moment) == expected
