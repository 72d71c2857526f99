"""Provider webhooks end to end: Twilio (TwiML, signatures) and Telnyx (ed25519, outbox)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from urllib.parse import quote
from xml.sax.saxutils import escape

from nacl.signing import SigningKey

from smsconsent.services import Store
from smsconsent.storage import outbox
from tests.e2e.conftest import FakeProvider, Server, Tenant, telnyx_event

CONTACT = "+15551230002"
PATH = f"/v1/contacts/{quote(CONTACT, safe='')}"


def _sms(t: Tenant, body: str, sid: str, **extra: str) -> dict[str, str]:
    return {"From": CONTACT, "To": t.number, "Body": body, "MessageSid": sid,
            "AccountSid": "AC123", "NumMedia": "0", **extra}


def _events(t: Tenant) -> int:
    return int(t.get("/v1/audit/verify").json()["events"])


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- Twilio --------------------------------------------------------------------------------------

def test_twilio_stop_start_help(tenant: Tenant) -> None:
    """Signed STOP, START and HELP are acted on and answered with escaped TwiML."""
    stop = tenant.twilio(_sms(tenant, "STOP", "SM1"))
    assert stop.status_code == 200
    assert stop.headers["content-type"].startswith("application/xml")
    assert "<Response><Message>You have been unsubscribed" in stop.text
    assert tenant.get(PATH).json()["status"] == "opted_out"
    start = tenant.twilio(_sms(tenant, "START", "SM2"))
    assert "You have been resubscribed" in start.text
    assert "Msg&amp;Data Rates May Apply" in start.text
    helped = tenant.twilio(_sms(tenant, "HELP", "SM3"))
    assert f"Biz {tenant.name}: for help, contact help@biz.test. Msg&amp;Data" in helped.text
    plain = tenant.twilio(_sms(tenant, "see you at 5", "SM4"))
    assert plain.text.endswith("<Response/>")
    assert tenant.get("/v1/audit/verify").json()["ok"] is True


def test_twilio_unsigned_or_wrongly_signed_records_nothing(tenant: Tenant) -> None:
    """No signature, a wrong one, or one for another URL: 403 and nothing recorded."""
    before = _events(tenant)
    answers = [
        tenant.twilio(_sms(tenant, "STOP", "SMu1"), signed=False),
        tenant.server.client.post(f"/webhooks/twilio/{tenant.name}",
                                  data=_sms(tenant, "STOP", "SMu2"),
                                  headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
        tenant.twilio(_sms(tenant, "STOP", "SMu3"), url="https://elsewhere.test/hook"),
    ]
    for answer in answers:
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "bad_signature"
    assert _events(tenant) == before
    assert tenant.get(PATH).status_code == 404


def test_a_reply_template_that_cannot_be_stored_is_refused(tenant: Tenant) -> None:
    """A STOP or START text holding NUL or a lone surrogate escape is 422 ``bad_text`` (the
    surrogate was a 500) and changes nothing: the webhook still answers the stored text."""
    before = tenant.get("/v1/workspace").json()["templates"]
    for field, text in (("stop_text", "Bye\ud800"), ("start_text", "Hi\ud800"),
                        ("stop_text", "Bye\x00")):
        answer = tenant.server.client.patch(
            "/v1/workspace", content=json.dumps({field: text}),
            headers={**tenant.auth(), "Content-Type": "application/json"})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["error"]["code"] == "bad_text"
    assert tenant.get("/v1/workspace").json()["templates"] == before
    stop = tenant.twilio(_sms(tenant, "STOP", "SMtpl"))
    assert escape(before["stop"]) in stop.text


def test_twilio_retry_is_a_no_op(tenant: Tenant) -> None:
    """A retried MessageSid changes nothing and gets an empty Response."""
    first = tenant.twilio(_sms(tenant, "STOP", "SMr1"))
    assert "<Message>" in first.text
    count = _events(tenant)
    again = tenant.twilio(_sms(tenant, "STOP", "SMr1"))
    assert again.status_code == 200 and again.text.endswith("<Response/>")
    assert _events(tenant) == count


def test_twilio_advanced_opt_out_is_not_answered_twice(tenant: Tenant) -> None:
    """With OptOutType set, the change is recorded and no second confirmation is sent."""
    answer = tenant.twilio(_sms(tenant, "STOP", "SMa1", OptOutType="STOP"))
    assert answer.text.endswith("<Response/>")
    assert tenant.get(PATH).json()["status"] == "opted_out"
    back = tenant.twilio(_sms(tenant, "START", "SMa2", OptOutType="START"))
    assert back.text.endswith("<Response/>")
    assert tenant.get(PATH).json()["status"] != "opted_out"


def test_twilio_advanced_opt_out_with_its_own_keywords_is_recorded(tenant: Tenant) -> None:
    """Twilio's Advanced Opt-Out may hold keywords of its own (a Messaging Service's custom
    list): when it says it opted the contact out (``OptOutType=STOP``) of a text we read
    otherwise, Twilio already refuses every send to them, so the ledger records that opt-out;
    likewise its START. Nothing is answered: Twilio did."""
    out = tenant.twilio(_sms(tenant, "NOMORE", "SMk1", OptOutType="STOP"))
    assert out.status_code == 200 and out.text.endswith("<Response/>")
    state = tenant.get(PATH).json()
    assert (state["status"], state["opted_out_scopes"]) == ("opted_out", ["sms:workspace"])
    gate = tenant.post("/v1/check", {"from": tenant.number, "to": CONTACT}).json()
    assert (gate["allowed"], gate["reason"]) == (False, "opted_out")
    back = tenant.twilio(_sms(tenant, "RESUME", "SMk2", OptOutType="START"))
    assert back.text.endswith("<Response/>")
    assert tenant.get(PATH).json()["status"] == "opted_in"
    events = tenant.get(f"{PATH}/events").json()["events"]
    read = [e["data"]["classification"] for e in events if e["type"] == "inbound_received"]
    assert [c["intent"] for c in read] == ["opt_out", "opt_in"]
    assert all("OptOutType" in c["explanation"] for c in read)
    assert tenant.get("/v1/audit/verify").json()["ok"] is True


def test_twilio_unknown_workspace_number_and_malformed(tenant: Tenant, server: Server) -> None:
    """Unknown workspace 404; a number of no workspace 404; a broken form 400."""
    lost = server.client.post("/webhooks/twilio/nobody", data=_sms(tenant, "STOP", "SMn1"))
    assert lost.status_code == 404 and lost.json()["error"]["code"] == "unknown_workspace"
    stray = tenant.twilio({**_sms(tenant, "STOP", "SMn2"), "To": "+15559999999"})
    assert stray.status_code == 404 and stray.json()["error"]["code"] == "unknown_number"
    broken = server.client.post(f"/webhooks/twilio/{tenant.name}", content=b"\xff\xfe=\x00",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "malformed_form"
    missing = tenant.twilio({"From": CONTACT, "Body": "STOP"})
    assert missing.status_code == 400


def test_twilio_signature_uses_the_public_url(e2e_db: str, e2e_store: Store,
                                              start_server: Callable[..., Server]) -> None:
    """Behind a proxy, the signature is checked against --public-url plus the path."""
    from tests.e2e.conftest import make_tenant

    public = "https://sms.example.test"
    running = start_server(e2e_db, "--public-url", public, "--no-outbox-worker")
    t = make_tenant(e2e_store, running)
    good = t.twilio(_sms(t, "STOP", "SMp1"), url=f"{public}/webhooks/twilio/{t.name}")
    assert good.status_code == 200 and "<Message>" in good.text
    local = t.twilio(_sms(t, "START", "SMp2"))
    assert local.status_code == 403


# -- Telnyx --------------------------------------------------------------------------------------

def test_telnyx_stop_is_delivered_once(tenant: Tenant, fake_telnyx: FakeProvider) -> None:
    """A signed STOP opts out and its confirmation reaches the provider API exactly once."""
    answer = tenant.telnyx(telnyx_event(CONTACT, tenant.number, "STOP", "tx1"))
    assert answer.status_code == 200
    assert answer.json()["action"] == "opted_out" and answer.json()["queued"] is True
    assert wait_for(lambda: len(fake_telnyx.sent(tenant.number, CONTACT)) >= 1)
    again = tenant.telnyx(telnyx_event(CONTACT, tenant.number, "STOP", "tx1"))
    assert again.json()["duplicate"] is True and again.json()["queued"] is False
    time.sleep(0.5)
    mine = fake_telnyx.sent(tenant.number, CONTACT)
    assert len(mine) == 1
    assert mine[0]["path"] == "/v2/messages"
    assert mine[0]["auth"] == f"Bearer KEY-{tenant.name}"
    assert mine[0]["json"]["text"].startswith("You have been unsubscribed")


def test_telnyx_bad_signature_stale_or_other_events(tenant: Tenant) -> None:
    """A wrong key or an old timestamp is 403 with nothing recorded; other events are ignored."""
    before = _events(tenant)
    event = telnyx_event(CONTACT, tenant.number, "STOP", "tx-bad")
    wrong = tenant.telnyx(event, key=SigningKey.generate())
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "bad_signature"
    stale = tenant.telnyx(event, at=time.time() - 3600)
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "stale_signature"
    unsigned = tenant.server.client.post(f"/webhooks/telnyx/{tenant.name}", json=event)
    assert unsigned.status_code == 403
    assert _events(tenant) == before
    other = tenant.telnyx(telnyx_event(CONTACT, tenant.number, "hi", "tx-o",
                                       event_type="message.finalized"))
    assert other.status_code == 200 and other.json() == {"ignored": True}
    assert _events(tenant) == before


def test_telnyx_signed_body_that_is_no_event_is_422(tenant: Tenant) -> None:
    """Signed JSON that is not a Telnyx event at all (no ``data`` object with an
    ``event_type``) is malformed (422 ``malformed_event``), not acknowledged as ignored: a
    misconfigured sender must hear of it. Nothing is recorded."""
    before = _events(tenant)
    for doc in ([1, 2], {}, {"data": {}}, {"data": []}, {"data": {"event_type": 5}}):
        answer = tenant.telnyx(doc)  # type: ignore[arg-type]
        assert answer.status_code == 422, (doc, answer.text)
        assert answer.json()["error"]["code"] == "malformed_event"
    assert _events(tenant) == before


def test_telnyx_signed_body_the_parser_raises_on_or_a_time_out_of_range(tenant: Tenant) -> None:
    """A signed body nested past the JSON parser's depth is 400 ``malformed_json``, and an
    ``occurred_at`` with no UTC equivalent is 422 (both were a 500); nothing is recorded."""
    before = _events(tenant)
    raw = b"[" * 30000 + b"]" * 30000
    stamp = str(int(time.time()))
    signature = tenant.telnyx_key.sign(stamp.encode() + b"|" + raw).signature
    deep = tenant.server.client.post(
        f"/webhooks/telnyx/{tenant.name}", content=raw,
        headers={"Content-Type": "application/json", "telnyx-timestamp": stamp,
                 "telnyx-signature-ed25519": base64.b64encode(signature).decode()})
    assert deep.status_code == 400, deep.text
    assert deep.json()["error"]["code"] == "malformed_json"
    event = telnyx_event(CONTACT, tenant.number, "STOP", "tx-year1")
    event["data"]["occurred_at"] = "0001-01-01T00:00:00+05:00"
    year1 = tenant.telnyx(event)
    assert year1.status_code == 422, year1.text
    assert _events(tenant) == before
    assert tenant.get(PATH).status_code == 404


def test_telnyx_reply_survives_a_provider_outage(tenant: Tenant, fake_telnyx: FakeProvider,
                                                 e2e_store: Store) -> None:
    """Provider down: the reply waits and is retried with backoff; back up: sent once."""
    contact = "+15551230003"
    fake_telnyx.status = 500
    try:
        help_ = tenant.telnyx(telnyx_event(contact, tenant.number, "HELP", "tx-down"))
        assert help_.json()["queued"] is True
        ws_id = _workspace_id(e2e_store, tenant.name)
        assert wait_for(lambda: outbox.rows(e2e_store.engine, ws_id)[0]["attempts"] >= 2)
        rows = outbox.rows(e2e_store.engine, ws_id)
        assert len(rows) == 1 and rows[0]["delivered_at"] is None
        assert "500" in rows[0]["last_error"]
        assert fake_telnyx.sent(tenant.number, contact) == []
    finally:
        fake_telnyx.status = 200
    assert wait_for(lambda: len(fake_telnyx.sent(tenant.number, contact)) == 1)
    assert wait_for(lambda: outbox.rows(e2e_store.engine, ws_id)[0]["delivered_at"] is not None)
    time.sleep(0.6)
    assert len(fake_telnyx.sent(tenant.number, contact)) == 1


def _workspace_id(store: Store, name: str) -> int:
    from smsconsent.services.base import load_workspace

    with store.read() as conn:
        return load_workspace(conn, name).id


def test_a_nul_in_a_path_name_is_answered_not_a_500(tenant: Tenant) -> None:
    """A workspace, key or list name in the URL holding NUL (%00), which PostgreSQL cannot
    compare with (each was a 500 there): 404 for the webhooks' workspace and the key, 422
    ``bad_text`` for the list, as for its name in a body. Nothing is recorded."""
    before = _events(tenant)
    client = tenant.server.client
    for provider in ("twilio", "telnyx"):
        hook = client.post(f"/webhooks/{provider}/{tenant.name}%00", content=b"{}",
                           headers={"X-Twilio-Signature": "x", "telnyx-timestamp": "1",
                                    "telnyx-signature-ed25519": "x"})
        assert hook.status_code == 404, hook.text
        assert hook.json()["error"]["code"] == "unknown_workspace"
    key = client.delete("/v1/keys/ab%00cd", headers=tenant.auth())
    assert key.status_code == 404 and key.json()["error"]["code"] == "unknown_key"
    for action in ("subscriptions", "unsubscribe"):
        answer = tenant.post(f"/v1/lists/a%00b/{action}", {"contact": CONTACT, "evidence": "x"})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "bad_text"
    assert _events(tenant) == before
