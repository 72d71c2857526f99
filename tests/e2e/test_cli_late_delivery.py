"""Texts a provider delivers late (``--at`` before what the ledger already holds), on both backends.

The ledger folds events in the order they happened, so a late text can leave the present state
as it was: the contact's newer wish wins. The answer must then say so (action ``superseded``)
and owe no reply: a "resubscribed" text to a contact whose STOP came later would be a message
after STOP, and an "unsubscribed" text to a contact who has since texted START is false.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Cli

OURS, ALICE = "+15557654321", "+15551234567"
EARLY, LATE = "2026-11-24T02:50:00Z", "2026-11-24T03:00:00Z"


@pytest.fixture
def acme(cli: Cli) -> Cli:
    assert cli("workspace", "create", "default", "--business-name", "Acme Jobs",
               "--contact", "help@acme.test").code == 0
    assert cli("number", "add", OURS).code == 0
    return cli


def _text(cli: Cli, body: str, at: str, provider_id: str) -> dict[str, object]:
    run = cli("inbound", "--from", ALICE, "--to", OURS, "--body", body, "--at", at,
              "--id", provider_id)
    assert run.code == 0, run.err
    out: dict[str, object] = run.json()
    return out


def test_late_start_after_a_later_stop_is_superseded_and_unanswered(acme: Cli) -> None:
    stop = _text(acme, "STOP", LATE, "SM1")
    assert (stop["action"], stop["reply"] is not None) == ("opted_out", True)
    start = _text(acme, "START", EARLY, "SM2")
    assert (start["intent"], start["action"], start["reply"]) == ("opt_in", "superseded", None)
    assert acme("check", "--from", OURS, "--to", ALICE).json()["reason"] == "opted_out"
    assert acme("status", ALICE).json()["status"] == "opted_out"
    kinds = [e["type"] for e in acme("history", ALICE).json()["events"]]
    assert kinds.count("reply_sent") == 1  # the STOP's confirmation only
    assert acme("audit", "verify").json()["ok"] is True


def test_late_stop_before_a_later_start_is_superseded_and_unanswered(acme: Cli) -> None:
    assert _text(acme, "STOP", "2026-11-24T02:40:00Z", "SM0")["action"] == "opted_out"
    assert _text(acme, "START", LATE, "SM1")["action"] == "opted_in"
    stop = _text(acme, "STOP", EARLY, "SM2")
    assert (stop["intent"], stop["action"], stop["reply"]) == ("opt_out", "superseded", None)
    assert acme("check", "--from", OURS, "--to", ALICE).json()["allowed"] is True
    assert acme("audit", "verify").json()["ok"] is True


def test_late_texts_that_still_change_the_present_are_answered(acme: Cli) -> None:
    """Late but not overtaken: a STOP older than an unrelated HELP still opts out, with its
    confirmation (the fold puts it first; nothing after it undoes it)."""
    assert _text(acme, "HELP", LATE, "SM1")["action"] == "help"
    stop = _text(acme, "STOP", EARLY, "SM2")
    assert stop["action"] == "opted_out"
    assert isinstance(stop["reply"], str) and "START" in stop["reply"]
    assert acme("check", "--from", OURS, "--to", ALICE).json()["reason"] == "opted_out"


def test_a_time_in_the_future_is_refused_and_records_nothing(acme: Cli) -> None:
    """A future ``--at`` would order the text after everything the contact does until then
    (a STOP dated 2099 would make every START until then 'superseded'): it is bad input, as
    in the imports (``future_time``); a provider clock a little ahead is taken as now."""
    before = acme("audit", "verify").json()["events"]
    run = acme("inbound", "--from", ALICE, "--to", OURS, "--body", "START",
               "--at", "2099-01-01T00:00:00Z")
    assert run.code == 2
    assert '"future_time"' in run.err
    assert acme("audit", "verify").json()["events"] == before
    soon = datetime.now(UTC) + timedelta(seconds=90)
    stop = _text(acme, "STOP", soon.isoformat(), "SM1")
    assert stop["action"] == "opted_out"
    start = _text(acme, "START", datetime.now(UTC).isoformat(), "SM2")
    assert start["action"] == "opted_in"  # the STOP was placed at its arrival, not after this
    assert acme("check", "--from", OURS, "--to", ALICE).json()["allowed"] is True
