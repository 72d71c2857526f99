"""A contact state's plain-data form is exactly what dataclasses.asdict would give."""

from __future__ import annotations

from dataclasses import asdict

from smsconsent.domain.consent import ContactState


def test_to_dict_equals_asdict() -> None:
    """The hand-built ``to_dict`` (fast, for bulk imports) matches ``asdict`` on a full state."""
    state = ContactState("+15551234567")
    state.apply("opted_in", "2024-01-01T00:00:00.000000Z", "agent:a",
                {"keys": ["sms:workspace"], "type": "express", "source": "import"})
    state.apply("consent_granted", "2024-01-02T00:00:00.000000Z", "agent:a",
                {"purpose": "marketing", "type": "express_written", "evidence": "form"})
    state.apply("list_subscribed", "2024-01-03T00:00:00.000000Z", "agent:a",
                {"list": "deals", "evidence": "JOIN"})
    state.apply("send_allowed", "2024-01-04T00:00:00.000000Z", "system", {})
    state.apply("opted_out", "2024-01-05T00:00:00.000000Z", "contact",
                {"keys": ["sms:number:+15557654321"], "method": "inbound_sms_keyword"})
    assert state.to_dict() == asdict(state)
    assert ContactState.from_dict(state.to_dict()) == state


def test_stored_form_leaves_out_only_what_from_dict_restores() -> None:
    """``to_stored`` drops the phone, None, False and empty maps, nothing else, and reads
    back equal with the row's phone; the older stored form (``to_dict``) reads back too."""
    import json

    state = ContactState("+15551234567")
    state.apply("opted_out", "2024-01-05T00:00:00.000000Z", "agent:root",
                {"keys": ["sms:workspace"], "method": "import", "source": "import"})
    assert state.to_stored() == {
        "consents": {"sms:workspace": {"status": "opted_out", "source": "import",
                                       "method": "import",
                                       "opted_out_at": "2024-01-05T00:00:00.000000Z",
                                       "by": "agent:root"}},
        "last_at": "2024-01-05T00:00:00.000000Z"}
    assert ContactState.from_dict(json.loads(json.dumps(state.to_stored())),
                                  "+15551234567") == state
    assert ContactState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert ContactState.from_dict({}, "+15551230000") == ContactState("+15551230000")
    assert ContactState("+1").to_stored() == {}
