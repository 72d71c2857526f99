"""The filter's memoised verdicts are the gate's own, on any state the state machine can reach."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import EventType
from smsconsent.domain.gate import PURPOSES, decide
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.scopes import keys_covering
from smsconsent.services.verdicts import Judge, _detail
from smsconsent.storage.chain import canonical

SENDER = "+15557654321"
KEYS = ["sms:workspace", f"sms:number:{SENDER}", "sms:number:+15557654322", "sms:campaign:C1",
        "sms:campaign:C2", "voice:workspace", "email:workspace"]
LISTS = ["deals", "news"]

_keys = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True)
_event = st.one_of(
    st.tuples(st.just(EventType.OPTED_OUT.value), st.fixed_dictionaries({
        "keys": _keys, "method": st.sampled_from(["inbound_sms_keyword", "import", "agent", None]),
        "source": st.sampled_from(["import", "agent"])})),
    st.tuples(st.just(EventType.OPTED_IN.value), st.fixed_dictionaries({
        "keys": _keys, "method": st.just("agent")})),
    st.tuples(st.just(EventType.BLOCKED.value), st.just({})),
    st.tuples(st.just(EventType.UNBLOCKED.value), st.just({})),
    st.tuples(st.just(EventType.LIST_SUBSCRIBED.value), st.fixed_dictionaries({
        "list": st.sampled_from(LISTS), "evidence": st.sampled_from([None, "", "JOIN"])})),
    st.tuples(st.just(EventType.LIST_OPTED_OUT.value), st.fixed_dictionaries({
        "list": st.sampled_from(LISTS)})),
    st.tuples(st.just(EventType.CONSENT_GRANTED.value), st.fixed_dictionaries({
        "purpose": st.sampled_from(["marketing", "informational"]),
        "type": st.just("express_written")})),
    st.tuples(st.just(EventType.SEND_ALLOWED.value), st.just({})),
)


def _state(events: list[tuple[str, dict[str, Any]]]) -> ContactState:
    state = ContactState("+15551230001")
    for n, (type_, data) in enumerate(events):
        state.apply(type_, f"2024-01-01T00:00:{n:02d}Z", "agent:a", data)
    return state


@settings(max_examples=600, deadline=None)
@given(events=st.lists(_event, max_size=8), campaign=st.sampled_from([None, "C1", "C2"]),
       purpose=st.sampled_from(PURPOSES), list_name=st.sampled_from([None, "", *LISTS]),
       essential=st.booleans())
def test_memoised_verdict_is_the_gates(events: list[tuple[str, dict[str, Any]]],
                                       campaign: str | None, purpose: str,
                                       list_name: str | None, essential: bool) -> None:
    """Stored as the ledger stores it, any reachable state gets from the memoising judge the
    answer ``decide`` gives on the whole state, with the same detail; asked twice (the second
    from the memo), and after other states have filled the memo."""
    policy = WorkspacePolicy(essential_after_stop=essential)
    fast = Judge(SENDER, campaign, purpose, policy, list_name)
    exact = Judge(SENDER, campaign, purpose, policy, list_name, exact=True)
    states = [_state(events[:n]) for n in range(len(events) + 1)]
    for folded in states + states[::-1]:
        # as the ledger stores it now (to_stored), and as rows written before 0004 hold it
        for text in (canonical(folded.to_stored()), canonical(folded.to_dict())):
            state = ContactState.from_dict(json.loads(text), folded.phone)
            assert state == folded
            decision = decide(state, SENDER, campaign, purpose, policy, list_name)
            covering = keys_covering(SENDER, campaign)
            consents = {k: c.__dict__ for k, c in state.consents.items()}
            expected = (decision.allowed, decision.reason,
                        "" if decision.allowed else _detail(decision.reason, consents, covering))
            assert exact.stored(text) == expected
            assert fast.stored(text) == expected


def test_never_seen_is_the_empty_states_verdict() -> None:
    for purpose in PURPOSES:
        for list_name in (None, "deals"):
            judge = Judge(SENDER, "C1", purpose, WorkspacePolicy(), list_name)
            decision = decide(ContactState("+15551230009"), SENDER, "C1", purpose,
                              WorkspacePolicy(), list_name)
            assert judge.unseen[:2] == (decision.allowed, decision.reason)


def test_opted_out_detail_names_the_first_opt_out_in_force() -> None:
    """The detail names the state's first covering opt-out: its key, method and time."""
    state = _state([(EventType.OPTED_OUT.value, {"keys": [f"sms:number:{SENDER}"],
                                                 "method": "import"}),
                    (EventType.OPTED_OUT.value, {"keys": ["sms:workspace"], "method": None})])
    judge = Judge(SENDER, None, "informational", WorkspacePolicy(), None)
    assert judge.stored(canonical(state.to_dict())) == (
        False, "opted_out", "the contact opted out of SMS from this number "
        f"(sms:number:{SENDER}, import, 2024-01-01T00:00:00Z)")


@settings(max_examples=200, deadline=None)
@given(histories=st.lists(st.lists(_event, max_size=5), min_size=1, max_size=6),
       picks=st.lists(st.lists(st.integers(-1, 5), max_size=12), max_size=5),
       texts_kept=st.integers(1, 4))
def test_many_is_stored_text_by_text(histories: list[list[tuple[str, dict[str, Any]]]],
                                     picks: list[list[int]], texts_kept: int) -> None:
    """Chunk after chunk of stored texts (repeated, new, and None for no stored state),
    ``many`` gives each text ``stored``'s verdict and None the empty state's, however few
    texts it may keep between chunks."""
    texts = [canonical(_state(events).to_stored()) for events in histories]
    judge = Judge(SENDER, "C1", "marketing", WorkspacePolicy(), "deals")
    reference = Judge(SENDER, "C1", "marketing", WorkspacePolicy(), "deals")
    with patch("smsconsent.services.verdicts.TEXTS", texts_kept):
        for chunk in picks:
            asked = [None if i < 0 else texts[i % len(texts)] for i in chunk]
            assert judge.many(asked) == [reference.unseen if text is None
                                         else reference.stored(text) for text in asked]


def _imported(key: str, at: str, last: str, method: str = "import", by: str = "agent:root",
              status: str = "opted_out") -> str:
    return canonical({"consents": {key: {"by": by, "method": method, "opted_out_at": at,
                                          "source": "import", "status": status}},
                      "last_at": last})


_time = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T00:00:0\"Z", "2024-01-01T00:00:0\\Z",
                     "2024-01-01T00:00:0\nZ", "x024-01-01T00:00:00.000000Z", "", "Z"]))
_imports = st.builds(_imported, key=st.sampled_from(KEYS), at=_time, last=_time,
                     method=st.sampled_from(["import", "agent", ""]),
                     by=st.sampled_from(["agent:root", "agent:a\"b"]),
                     status=st.sampled_from(["opted_out", "opted_out", "opted_in"]))


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.lists(st.one_of(_imports, _imports.map(lambda t: t.replace(
    '"last_at"', '"blocked":true,"last_at"')), _imports.map(lambda t: t[:-1] + ',"x":1}')),
    max_size=12), max_size=6),
    campaign=st.sampled_from([None, "C1"]), purpose=st.sampled_from(PURPOSES),
    list_name=st.sampled_from([None, "deals"]), essential=st.booleans())
def test_imported_opt_outs_by_shape_are_stored_text_by_text(
        chunks: list[list[str]], campaign: str | None, purpose: str, list_name: str | None,
        essential: bool) -> None:
    """Imported opt-outs of many times and keys, methods, statuses, with quotes, escapes and
    line breaks where a time is, other lengths, and near misses (blocked, another field):
    ``many``, which judges texts of a learnt shape without reading them, gives each text
    what ``stored`` gives it."""
    policy = WorkspacePolicy(essential_after_stop=essential)
    judge = Judge(SENDER, campaign, purpose, policy, list_name)
    reference = Judge(SENDER, campaign, purpose, policy, list_name)
    for chunk in chunks:
        assert judge.many(list(chunk)) == [reference.stored(text) for text in chunk]


def test_a_shape_is_learnt_and_used() -> None:
    """After one imported opt-out, others of the same import are judged by its shape."""
    judge = Judge(SENDER, None, "informational", WorkspacePolicy(), None)
    first = [_imported("sms:workspace", f"2024-01-0{n}T00:00:00.000000Z",
                       "2024-02-01T00:00:00.000000Z") for n in range(1, 3)]
    judge.many(first)
    assert len(judge._shapes) == 1
    later = [_imported("sms:workspace", f"2023-0{n}-01T10:00:00.000000Z",
                       f"2023-0{n}-02T10:00:00.000000Z") for n in range(1, 10)]
    with patch.object(Judge, "stored", side_effect=AssertionError):
        verdicts = judge.many(later)
    assert verdicts[0] == (False, "opted_out", "the contact opted out of SMS from this number "
                           "(sms:workspace, import, 2023-01-01T10:00:00.000000Z)")
