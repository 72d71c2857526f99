"""Ledger timestamps (domain/clock.py) are ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.domain.clock import CLOCK_SKEW, arrival_time, format_ts
from smsconsent.errors import BadInput

zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                         timezone(-timedelta(hours=11)), timezone(timedelta(hours=14))])


@settings(max_examples=500, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                           timezones=zones))
def test_format_ts_is_the_utc_strftime(moment: datetime) -> None:
    """Any moment in any offset, years of one to four digits, any microseconds (zero too)."""
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert format_ts(moment) == expected


def test_arrival_time_past_kept_slightly_ahead_now_far_ahead_refused() -> None:
    """``arrival_time``: a past time is kept; one within ``CLOCK_SKEW`` ahead is now; further
    ahead is ``future_time``."""
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert arrival_time("2026-11-24T03:59:00Z", now) == "2026-11-24T03:59:00.000000Z"
    assert arrival_time(format_ts(now + CLOCK_SKEW), now) == format_ts(now)
    with pytest.raises(BadInput) as refused:
        arrival_time(format_ts(now + CLOCK_SKEW + timedelta(microseconds=1)), now)
    assert refused.value.code == "future_time"
