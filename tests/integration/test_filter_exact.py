"""``filter``'s fast path writes exactly what the generic path writes, on a varied ledger.

The generic path (``exact=True``) rebuilds every stored state and asks ``decide`` for each row;
the fast path memoises the gate on the decision-relevant part of a state. Both must give the
same sendable file, refused file and summary, byte for byte, whatever the file holds, and every
verdict must be the one ``check`` gives for that contact.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsconsent import services
from smsconsent.domain.gate import PURPOSES
from smsconsent.domain.phones import normalize_phone
from smsconsent.services import Store

OURS, OTHER = "+15557654321", "+15557654322"


def _contact(n: int) -> str:
    return f"+1555123{n:04d}"


def _ledger(store: Store) -> int:
    """Contacts in every state the gate tells apart; returns how many there are."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", OURS, campaign="C1")
    services.add_number(store, "default", OTHER, campaign="C2")
    services.add_list(store, "default", "deals", keyword="STOP DEALS")
    services.add_list(store, "default", "news")

    def inbound(n: int, to: str, body: str) -> None:
        services.handle_inbound(store, _contact(n), to, body)

    def subscribe(n: int, name: str = "deals") -> None:
        services.subscribe(store, "default", name, _contact(n), evidence="JOIN", by="a")

    def marketing(n: int) -> None:
        services.grant_consent(store, "default", _contact(n), type_="express_written",
                               purpose="marketing", evidence="web form", by="a")

    inbound(0, OURS, "STOP")                      # workspace scope
    services.update_workspace(store, "default", scope="number")
    inbound(1, OTHER, "STOP")                     # another number's scope: not ours
    inbound(2, OURS, "STOP")                      # our number's scope
    inbound(14, OURS, "STOP")
    services.update_workspace(store, "default", scope="campaign")
    inbound(3, OTHER, "STOP")                     # another campaign: not ours
    inbound(4, OURS, "STOP")                      # our campaign
    inbound(14, OURS, "STOP")                     # a second opt-out in force
    services.update_workspace(store, "default", scope="workspace")
    inbound(5, OURS, "STOP")
    inbound(5, OURS, "START")                     # back in
    services.block(store, "default", _contact(6), by="a")
    subscribe(7)
    subscribe(8)
    inbound(8, OURS, "STOP DEALS")                # left the list only
    marketing(9)
    services.send(store, OURS, _contact(10), "hello")
    subscribe(11)
    marketing(11)
    subscribe(11, "news")
    services.opt_out(store, "default", _contact(12), by="a")
    services.import_opt_outs(store, "default", io.BytesIO(
        f"phone,opted_out_at\n{_contact(13)},2023-05-01T00:00:00Z\n".encode()), io.StringIO(),
        by="tester")
    subscribe(15, "news")
    marketing(15)
    services.block(store, "default", _contact(16), by="a")
    services.unblock(store, "default", _contact(16), by="a")
    return 17


def _written(n: int, form: int) -> str:
    """A number the ways people write them."""
    digits = _contact(n)[2:]
    return [f"+1{digits}", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            f" 1-{digits[:3]}-{digits[3:6]}-{digits[6:]} ", f"{digits}"][form]


_field = st.text(alphabet="ab ,\"\n\u00e9", max_size=6)
_number = st.one_of(
    st.tuples(st.integers(0, 20), st.integers(0, 3)).map(lambda t: _written(*t)),  # 17-20 new
    st.sampled_from(["", "12", "not-a-number", "+44 20 7946 0958", "555-0100", "+1555"]),
)
_row = st.one_of(
    st.tuples(_field, _number, _field).map(list),
    st.tuples(_field, _number, _field, _field).map(list),  # more fields than the header
    st.tuples(_field, _number).map(list),                  # fewer
    st.tuples(_field).map(list),                           # too few to hold the number
    st.just([]),                                          # a blank line
)


def _file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "phone", "note"])
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def _run(store: Store, data: bytes, purpose: str, list_name: str | None, chunk: int,
         exact: bool) -> tuple[str, str, dict[str, Any]]:
    sendable, refused = io.StringIO(), io.StringIO()
    summary = services.filter_recipients(store, io.BytesIO(data), sendable, refused,
                                         sender=OURS, purpose=purpose, list_name=list_name,
                                         chunk=chunk, exact=exact)
    summary.pop("seconds")
    return sendable.getvalue(), refused.getvalue(), summary


@pytest.fixture
def ledger(store: Store) -> Store:
    _ledger(store)
    return store


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, max_size=40), chunk=st.integers(1, 12))
def test_fast_path_writes_what_the_generic_path_writes(ledger: Store, rows: list[list[str]],
                                                        chunk: int) -> None:
    """Every purpose, with and without a list, on both policies for transactional messages."""
    data = _file(rows)
    for essential in (False, True):
        services.update_workspace(ledger, "default", essential_after_stop=essential)
        for purpose in PURPOSES:
            for list_name in (None, "deals", "news"):
                fast = _run(ledger, data, purpose, list_name, chunk, exact=False)
                assert fast == _run(ledger, data, purpose, list_name, 10_000, exact=True)


def test_every_verdict_is_the_gates(ledger: Store) -> None:
    """On each contact of the ledger and a new one, each row's fate is what ``check`` says,
    and the opt-out detail names the opt-out in force."""
    rows = [["x", _written(n, n % 4), "y"] for n in range(18)]
    for purpose in PURPOSES:
        for list_name in (None, "deals"):
            sendable, refused, summary = _run(ledger, _file(rows), purpose, list_name, 5,
                                              exact=False)
            fates: dict[str, str] = {}
            for row in csv.DictReader(io.StringIO(sendable)):
                fates[row["phone"]] = "sendable"
            for row in csv.DictReader(io.StringIO(refused)):
                fates[normalize_phone(row["phone"])] = row["reason"]
            assert len(fates) == 18
            for phone, fate in fates.items():
                decision = services.check(ledger, OURS, phone, purpose=purpose,
                                          list_name=list_name)
                assert fate == ("sendable" if decision.allowed else decision.reason), phone
            assert summary["sendable"] + summary["refused"] == 18
    _, refused, _ = _run(ledger, _file(rows), "informational", None, 5, exact=False)
    details = {normalize_phone(r["phone"]): r["detail"]
               for r in csv.DictReader(io.StringIO(refused))}
    assert details[_contact(13)] == ("the contact opted out of SMS from this number "
                                     "(sms:workspace, import, 2023-05-01T00:00:00.000000Z)")
    assert details[_contact(2)].startswith(f"the contact opted out of SMS from this number "
                                           f"(sms:number:{OURS}, inbound_sms_keyword, ")
    assert _contact(1) not in details and _contact(3) not in details



def test_a_row_too_short_to_hold_the_number_is_refused(ledger: Store) -> None:
    """A row that ends before the phone column has an empty number, like any missing field."""
    data = b"name,phone,note\nalice\nbob,+15551230017,x\n"
    sendable, refused, summary = _run(ledger, data, "informational", None, 10, exact=False)
    assert summary["by_reason"] == {"invalid_phone": 1}
    assert refused.splitlines()[1] == "alice,,,invalid_phone,phone number is empty"
    assert sendable.splitlines() == ["name,phone,note", "bob,+15551230017,x"]
