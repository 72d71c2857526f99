"""Ledger timestamps: UTC, ISO 8601, microseconds, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsconsent.errors import BadInput


def format_ts(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    if utc.year >= 1000:  # the same text as strftime's below, at half the cost (every event)
        return f"{utc.isoformat(timespec='microseconds')[:-6]}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # a year of fewer digits: not zero-padded


def parse_ts(text: str) -> str:
    """Read an ISO 8601 time from outside; one without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise BadInput(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return format_ts(moment)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it: no UTC time
        raise BadInput(f"not an ISO 8601 time: {text!r} (out of range)") from None


# How far ahead of ours a provider's clock may run: a text stamped that little ahead is taken
# as arriving now.
CLOCK_SKEW = timedelta(minutes=5)


def arrival_time(text: str, now: datetime) -> str:
    """When an inbound text happened, from the caller's or provider's time, checked against
    ``now``: a time further ahead than ``CLOCK_SKEW`` is refused (``future_time``, as in the
    imports), since the fold would place the text after everything the contact does until
    then; a time a little ahead is now, so that the text is never ordered after a later one.
    """
    at = parse_ts(text)
    if at <= format_ts(now):
        return at
    if at <= format_ts(now + CLOCK_SKEW):
        return format_ts(now)
    raise BadInput(f"the time {text!r} is in the future", code="future_time")
