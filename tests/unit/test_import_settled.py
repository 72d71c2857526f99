"""The re-import's shortcut: a stored state's JSON read as plain data settles a row exactly
when the full opt-out rule would answer unchanged because of a workspace-wide opt-out."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from smsconsent.domain.consent import OPTED_OUT, ContactState
from smsconsent.domain.events import EventType
from smsconsent.services.imports import (
    WORKSPACE_KEY,
    Row,
    _opt_out_decision,
    _opted_out_already,
)
from smsconsent.storage.chain import canonical
from smsconsent.storage.fresh import FreshSpec

KEYS = [WORKSPACE_KEY, "sms:number:+15557654321", "sms:list:deals"]
TIMES = [f"2024-01-0{d}T00:00:00.000000Z" for d in range(1, 10)]
TEXT = st.one_of(st.none(), st.text(max_size=5))

EVENTS = st.one_of(
    st.tuples(st.just("opted_out"), st.sampled_from(TIMES),
              st.fixed_dictionaries({"keys": st.lists(st.sampled_from(KEYS), min_size=1),
                                     "method": st.sampled_from(["import", "agent", None]),
                                     "source": TEXT})),
    st.tuples(st.just("opted_in"), st.sampled_from(TIMES),
              st.fixed_dictionaries({"keys": st.lists(st.sampled_from(KEYS), min_size=1),
                                     "type": st.sampled_from(["express", "implied"]),
                                     "source": TEXT})),
    st.tuples(st.sampled_from(["blocked", "unblocked", "send_allowed"]),
              st.sampled_from(TIMES), st.just({})),
    st.tuples(st.just("list_subscribed"), st.sampled_from(TIMES),
              st.fixed_dictionaries({"list": st.sampled_from(["deals", "news"]),
                                     "evidence": TEXT})),
    st.tuples(st.just("consent_granted"), st.sampled_from(TIMES),
              st.fixed_dictionaries({"purpose": st.just("marketing"),
                                     "type": st.just("express_written"), "evidence": TEXT})),
)
SPEC = FreshSpec(EventType.OPTED_OUT, "agent:t", lambda evidence, origin: {
    "keys": [WORKSPACE_KEY], "method": "import", "source": "import", "evidence": evidence,
    "origin": origin, "file": "f.csv"}, 2)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


@given(st.lists(EVENTS, max_size=8), st.sampled_from(TIMES), TEXT, TEXT)
def test_settled_equals_the_full_rule(events: list[tuple[str, str, dict[str, Any]]], at: str,
                                      evidence: str | None, origin: str | None) -> None:
    """Whatever the state, its stored JSON settles a row exactly when the state is opted out
    of the whole workspace, and the full rule then answers unchanged for any row; the same
    when the stored form drops nulls or the phone."""
    state = ContactState("+15551230001")
    for type_, occurred_at, data in events:
        state.apply(type_, occurred_at, "agent:a", data)
    stored = canonical(state.to_dict())
    settled = _opted_out_already(orjson.loads(stored))
    current = state.consents.get(WORKSPACE_KEY)
    assert settled == (current is not None and current.status == OPTED_OUT)
    leaner = _without_nulls(json.loads(stored))
    del leaner["phone"]
    assert _opted_out_already(orjson.loads(json.dumps(leaner))) == settled
    row = Row(["+15551230001"], "+15551230001", at, evidence, origin)
    if settled:
        assert _opt_out_decision(SPEC)(row, state, TIMES[-1]) is None
