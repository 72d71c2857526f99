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
