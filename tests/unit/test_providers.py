"""Provider adapters and settings without a server: signatures, TwiML, parsing, repr."""

from __future__ import annotations

import base64
import json

import pytest
from nacl.signing import SigningKey
from twilio.request_validator import RequestValidator

from smsconsent.domain.roles import Role
from smsconsent.errors import BadInput, Forbidden
from smsconsent.providers import telnyx, twilio
from smsconsent.settings import Settings


def test_twiml_escapes_the_reply() -> None:
    """A reply holding & and < is escaped; no reply is an empty Response."""
    assert twilio.twiml("Msg&Data <rates>").endswith(
        "<Response><Message>Msg&amp;Data &lt;rates&gt;</Message></Response>")
    assert twilio.twiml(None).endswith("<Response/>")


def test_twilio_signature_round_trip() -> None:
    """A signature made by the twilio package validates; any change to the params does not."""
    url, params = "https://sms.example.test/webhooks/twilio/acme", {"From": "+1", "Body": "STOP"}
    sig = RequestValidator("tok").compute_signature(url, params)
    assert twilio.signature_valid("tok", url, params, sig)
    assert not twilio.signature_valid("tok", url, {**params, "Body": "START"}, sig)
    assert not twilio.signature_valid("other", url, params, sig)
    assert not twilio.signature_valid("tok", url, params, "")


def test_twilio_form_and_opt_out_type() -> None:
    """The form is parsed; OptOutType marks the keyword as already handled by Twilio."""
    form = twilio.parse_form(b"From=%2B15551234567&To=%2B15557654321&Body=STOP&MessageSid=SM1"
                             b"&OptOutType=STOP")
    msg = twilio.inbound(form)
    assert (msg.sender, msg.body, msg.provider_id, msg.provider_handled) == (
        "+15551234567", "STOP", "SM1", True)
    with pytest.raises(BadInput):
        twilio.parse_form(b"\xff")
    with pytest.raises(BadInput):
        twilio.inbound({"From": "+1"})


def test_telnyx_signature_window_and_key() -> None:
    """A good signature passes inside the window; stale, altered or foreign ones raise."""
    key = SigningKey.generate()
    public = base64.b64encode(bytes(key.verify_key)).decode()
    raw, stamp = b'{"data": {}}', "1700000000"
    sig = base64.b64encode(key.sign(stamp.encode() + b"|" + raw).signature).decode()
    telnyx.verify(public, sig, stamp, raw, 1700000100, 300)
    now = 1700000000
    for args in ((public, sig, stamp, raw, now + 400), (public, sig, stamp, raw + b" ", now),
                 (public, "", stamp, raw, now), (public, sig, "x", raw, now)):
        with pytest.raises(Forbidden):
            telnyx.verify(*args, 300)  # type: ignore[arg-type]


def test_telnyx_event_parsing() -> None:
    """message.received becomes an InboundMessage; other events None; missing fields 400."""
    event = {"data": {"event_type": "message.received", "occurred_at": "2026-11-20T10:00:00Z",
                      "payload": {"id": "m1", "text": "STOP", "from": {"phone_number": "+1a"},
                                  "to": [{"phone_number": "+1b"}]}}}
    msg = telnyx.parse_event(json.dumps(event).encode())
    assert msg is not None and (msg.sender, msg.to, msg.body, msg.at) == (
        "+1a", "+1b", "STOP", "2026-11-20T10:00:00Z")
    assert telnyx.parse_event(b'{"data": {"event_type": "message.sent"}}') is None
    with pytest.raises(BadInput):
        telnyx.parse_event(b"not json")
    event["data"]["payload"]["to"] = []  # type: ignore[index]
    with pytest.raises(BadInput):
        telnyx.parse_event(json.dumps(event).encode())


def test_settings_hide_the_database_password() -> None:
    """repr(settings) never shows the database password; bad values are refused."""
    s = Settings(db_url="postgresql+psycopg://app:hunter2@db/sms", public_url="https://x.test/")
    assert "hunter2" not in repr(s) and "***" in repr(s) and s.public_url == "https://x.test"
    with pytest.raises(BadInput):
        Settings(db_url="sqlite://", public_url="ftp://x")
    with pytest.raises(BadInput):
        Settings(db_url="sqlite://", max_body=10)


def test_roles_are_ordered() -> None:
    """Owner allows everything a manager may, a manager everything a member may."""
    assert Role.OWNER.allows(Role.MANAGER) and Role.MANAGER.allows(Role.MEMBER)
    assert not Role.MEMBER.allows(Role.MANAGER) and not Role.MANAGER.allows(Role.OWNER)
    assert Role.parse(" Owner ") is Role.OWNER
    with pytest.raises(BadInput):
        Role.parse("admin")
