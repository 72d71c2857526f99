"""Ledger timestamps: UTC, ISO 8601, microseconds, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime

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
    return format_ts(moment)
