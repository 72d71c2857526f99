"""The REST API end to end: a real server process, real HTTP, both backends."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx

from smsconsent.services import Store
from tests.e2e.conftest import Server, Tenant, new_number

CONTACT = "+15551230001"
PATH = f"/v1/contacts/{quote(CONTACT, safe='')}"


def _inbound(t: Tenant, body: str, msg_id: str, contact: str = CONTACT) -> httpx.Response:
    return t.post("/v1/inbound", {"from": contact, "to": t.number, "body": body, "id": msg_id},
                  role="manager")


def test_health_and_openapi(server: Server) -> None:
    """/healthz answers, and /openapi.json lists every route with request examples."""
    assert server.client.get("/healthz").json() == {"status": "ok"}
    spec = server.client.get("/openapi.json").json()
    for path in ("/v1/check", "/v1/messages", "/v1/inbound", "/v1/contacts/{number}",
                 "/v1/contacts/{number}/events", "/v1/contacts/{number}/opt-in",
                 "/v1/consents", "/v1/lists", "/v1/lists/{name}/subscriptions",
                 "/v1/lists/{name}/unsubscribe",
                 "/v1/workspace", "/v1/numbers", "/v1/campaigns", "/v1/audit/verify",
                 "/webhooks/twilio/{workspace}", "/webhooks/telnyx/{workspace}"):
        assert path in spec["paths"], path
    assert spec["components"]["schemas"]["CheckBody"]["examples"][0]["from"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_stop_refuses_then_start_allows(tenant: Tenant) -> None:
    """Inbound STOP over REST refuses later sends (200, reason opted_out); START allows."""
    check = {"from": tenant.number, "to": CONTACT, "purpose": "informational"}
    assert tenant.post("/v1/check", check, role="member").json()["allowed"] is True
    stop = _inbound(tenant, "STOP", "r1")
    assert stop.status_code == 200
    assert stop.json()["action"] == "opted_out" and stop.json()["reply"]
    refused = tenant.post("/v1/check", check, role="member")
    assert refused.status_code == 200
    assert refused.json() == {"allowed": False, "reason": "opted_out", "first_message": False,
                              "footer_added": False}
    sent = tenant.post("/v1/messages", {**check, "body": "hello"}, role="member")
    assert sent.status_code == 200 and sent.json()["allowed"] is False
    assert _inbound(tenant, "STOP", "r1").json()["duplicate"] is True
    assert _inbound(tenant, "START", "r2").json()["action"] == "opted_in"
    ok = tenant.post("/v1/messages", {**check, "body": "Your order shipped"}, role="member")
    assert ok.json()["allowed"] is True
    assert ok.json()["body"] == "Your order shipped. Reply STOP to opt out."


def test_send_with_an_idempotency_key_is_recorded_once(tenant: Tenant) -> None:
    """A retried POST /v1/messages with the same Idempotency-Key gets the first answer (the
    footer of the first message included) and records nothing more; the key reused for
    another message is 409; a refusal replays as a refusal even after the contact changed."""
    client = tenant.server.client
    headers = {**tenant.auth("member"), "Idempotency-Key": "order-77"}
    message = {"from": tenant.number, "to": CONTACT, "body": "Your order shipped"}
    first = client.post("/v1/messages", json=message, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["body"] == "Your order shipped. Reply STOP to opt out."
    again = client.post("/v1/messages", json=message, headers=headers)
    assert again.json() == first.json()
    plain = tenant.post("/v1/messages", message, role="member").json()
    assert plain["footer_added"] is False  # the keyed send was the first message
    other = client.post("/v1/messages", json={**message, "body": "Another"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    _inbound(tenant, "STOP", "idem1")
    refused_key = {**tenant.auth("member"), "Idempotency-Key": "order-78"}
    refused = client.post("/v1/messages", json=message, headers=refused_key).json()
    assert (refused["allowed"], refused["reason"]) == (False, "opted_out")
    _inbound(tenant, "START", "idem2")
    assert client.post("/v1/messages", json=message, headers=refused_key).json() == refused
    sends = [e for e in tenant.get(f"{PATH}/events", params={"limit": 100}).json()["events"]
             if e["type"] in ("send_allowed", "send_refused")]
    assert [e["data"].get("idempotency_key") for e in sends] == ["order-77", None, "order-78"]
    too_long = client.post("/v1/messages", json=message,
                        headers={**tenant.auth("member"), "Idempotency-Key": "k" * 101})
    assert too_long.status_code == 422


def test_contact_state_events_and_audit(tenant: Tenant) -> None:
    """A contact's state, its paginated ledger and the audit check read back what happened."""
    _inbound(tenant, "STOP", "e1")
    _inbound(tenant, "HELP", "e2")
    state = tenant.get(PATH, role="member").json()
    assert state["contact"] == CONTACT and state["status"] == "opted_out"
    national = tenant.get("/v1/contacts/555-123-0001", role="member")
    assert national.json()["contact"] == CONTACT
    page = tenant.get(f"{PATH}/events", params={"limit": 2}, role="member").json()
    assert len(page["events"]) == 2 and page["next_after"] is not None
    rest = tenant.get(f"{PATH}/events", params={"after": page["next_after"]}).json()
    seqs = [e["seq"] for e in page["events"] + rest["events"]]
    assert seqs == sorted(set(seqs)) and len(seqs) >= 4
    for past in (2**63 - 1, 2**63, 10**30):  # past a BIGINT: nothing after it (was a 500)
        beyond = tenant.get(f"{PATH}/events", params={"after": past})
        assert beyond.json() == {**rest, "events": [], "next_after": None}, beyond.text
    assert tenant.get("/v1/audit/verify", role="member").json()["ok"] is True


def test_agent_actions_and_guardrails(tenant: Tenant) -> None:
    """Opt-out, evidence-less opt-in refused (409), opt-in with evidence, block, unblock."""
    _inbound(tenant, "STOP", "g1")
    refused = tenant.post(f"{PATH}/opt-in", {}, role="manager")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "evidence_required"
    done = tenant.post(f"{PATH}/opt-in", {"evidence": "signed form 2026-11-20"}, role="manager")
    assert done.status_code == 200 and done.json()["action"] == "opted_in"
    assert tenant.post(f"{PATH}/block", {"evidence": "abuse"}, role="manager").json()[
        "action"] == "blocked"
    blocked = tenant.post(f"{PATH}/opt-in", {"evidence": "x"}, role="manager")
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "blocked"
    assert tenant.post(f"{PATH}/unblock", {}, role="manager").json()["action"] == "unblocked"
    out = tenant.post(f"{PATH}/opt-out", {"by": "alice"}, role="member").json()
    assert out["action"] in ("opted_out", "already_opted_out")
    actors = {e["actor"] for e in tenant.get(f"{PATH}/events").json()["events"]}
    assert "agent:alice" in actors
    assert any(a.startswith("agent:") and a != "agent:alice" for a in actors)


def test_consents_lists_numbers_and_campaigns(tenant: Tenant) -> None:
    """Consent with evidence, lists with subscriptions, numbers and campaigns round-trip."""
    consent = {"contact": CONTACT, "type": "express_written", "purpose": "marketing",
               "evidence": "web form 2026-11-20"}
    assert tenant.post("/v1/consents", consent, role="manager").json()["action"] == \
        "consent_granted"
    weak = tenant.post("/v1/consents", {**consent, "type": "express"}, role="manager")
    assert weak.status_code == 422
    assert weak.json()["error"]["code"] == "marketing_needs_express_written"
    created = tenant.post("/v1/lists", {"name": "deals", "keyword": "STOP DEALS"},
                          role="manager")
    assert created.status_code == 201
    assert tenant.post("/v1/lists", {"name": "deals"}, role="manager").status_code == 409
    sub = tenant.post("/v1/lists/deals/subscriptions",
                      {"contact": CONTACT, "evidence": "keyword JOIN"}, role="manager")
    assert sub.json()["action"] == "subscribed"
    missing = tenant.post("/v1/lists/nope/subscriptions",
                          {"contact": CONTACT, "evidence": "x"}, role="manager")
    assert missing.status_code == 404
    assert tenant.get("/v1/lists", role="member").json()["lists"] == [
        {"name": "deals", "keyword": "STOP DEALS"}]
    extra = new_number()
    assert tenant.post("/v1/numbers", {"number": extra, "campaign": "C2"}).status_code == 200
    numbers = {n["number"] for n in tenant.get("/v1/numbers", role="member").json()["numbers"]}
    assert numbers == {tenant.number, extra}
    campaigns = tenant.get("/v1/campaigns", role="member").json()["campaigns"]
    assert campaigns == [{"campaign": "C1", "numbers": [tenant.number]},
                         {"campaign": "C2", "numbers": [extra]}]
    check = {"from": tenant.number, "to": CONTACT, "purpose": "marketing", "list": "deals"}
    assert tenant.post("/v1/check", check, role="member").json()["allowed"] is True
    off = tenant.post("/v1/lists/deals/unsubscribe", {"contact": CONTACT, "by": "ann"},
                      role="member")
    assert off.status_code == 200, off.text
    assert off.json() == {"action": "unsubscribed", "contact": CONTACT,
                          "workspace": tenant.name, "list": "deals"}
    refused = tenant.post("/v1/check", check, role="member").json()
    assert (refused["allowed"], refused["reason"]) == (False, "list_opted_out")
    assert tenant.post("/v1/lists/nope/unsubscribe", {"contact": CONTACT},
                       role="member").status_code == 404


def test_workspace_patch_validates_help(tenant: Tenant) -> None:
    """PATCH /v1/workspace changes the policy; a HELP text missing the rules' parts is 422."""
    bad = tenant.server.client.patch(
        "/v1/workspace", json={"help_text": "Call us"}, headers=tenant.auth())
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_help_text"
    good = tenant.server.client.patch("/v1/workspace", headers=tenant.auth(), json={
        "scope": "campaign",
        "help_text": "{business}: help at {contact}. Msg&Data rates may apply. Reply STOP to "
                     "opt out."})
    assert good.status_code == 200 and good.json()["policy"]["scope"] == "campaign"
    shown = tenant.get("/v1/workspace", role="member").json()
    assert shown["templates"]["help"].startswith(f"Biz {tenant.name}: help at")
    assert shown["secrets"] == {"twilio_auth_token": "set", "telnyx_public_key": "set",
                                "telnyx_api_key": "set"}
    assert tenant.twilio_token not in str(shown)


def test_workspace_patch_refuses_empty_business_details(tenant: Tenant) -> None:
    """An empty business name or contact line is refused (422) as on create, not ignored."""
    before = tenant.get("/v1/workspace").json()
    for field in ("business_name", "contact"):
        for blank in ("", "   "):
            answer = tenant.server.client.patch("/v1/workspace", json={field: blank},
                                                headers=tenant.auth())
            assert answer.status_code == 422, (field, blank, answer.text)
            assert answer.json()["error"]["code"] == "bad_input"
    assert tenant.get("/v1/workspace").json() == before


def test_workspace_patch_sets_keywords(tenant: Tenant) -> None:
    """PATCH /v1/workspace takes the workspace's own keywords (the --keywords file format):
    the next inbound is read with them; unreadable ones are 422 and change nothing."""
    patch = tenant.server.client.patch
    kept = tenant.get("/v1/workspace").json()["policy"]
    for bad in ({"opt_out": {"add": "HALT"}}, {"nonsense": 1}, ["HALT"],  # then lone surrogates:
                {"phrases": {"opt_out": {"add": [""]}}}, {"opt_out": {"add": ["HA\ud800"]}},
                {"lists": {"x\ud800": "x"}}, {"phrases": {"opt_out": {"add": ["no\udfff"]}}}):
        refused = patch("/v1/workspace", content=json.dumps({"keywords": bad, "scope": "number"}),
                        headers={**tenant.auth(), "Content-Type": "application/json"})
        assert refused.status_code == 422, (bad, refused.text)
    assert tenant.get("/v1/workspace").json()["policy"] == kept
    before = _inbound(tenant, "HALT", "kw1").json()
    assert before["intent"] == "none"
    good = patch("/v1/workspace", json={"keywords": {"opt_out": {"add": ["HALT"]}}},
                 headers=tenant.auth())
    assert good.status_code == 200, good.text
    assert "HALT" in good.json()["policy"]["keywords"]["opt_out"]["add"]
    after = _inbound(tenant, "halt", "kw2").json()
    assert (after["intent"], after["action"]) == ("opt_out", "opted_out")
    assert patch("/v1/workspace", json={"keywords": {}}, headers=tenant.auth(
        "manager")).status_code == 403


def test_roles(tenant: Tenant) -> None:
    """Members read, check and opt out; managers also opt in and edit lists; owners the rest."""
    assert _inbound(tenant, "HELP", "ro1").status_code == 200
    forbidden = [
        ("member", "post", f"{PATH}/opt-in", {"evidence": "x"}),
        ("member", "post", f"{PATH}/block", {}),
        ("member", "post", "/v1/lists", {"name": "x"}),
        ("member", "post", "/v1/inbound", {"from": CONTACT, "to": tenant.number, "body": "hi"}),
        ("manager", "patch", "/v1/workspace", {"scope": "number"}),
        ("manager", "post", "/v1/numbers", {"number": new_number()}),
        ("manager", "post", "/v1/keys", {"role": "member"}),
        ("manager", "get", "/v1/keys", None),
    ]
    for role, method, path, body in forbidden:
        answer = tenant.server.client.request(method, path, json=body, headers=tenant.auth(role))
        assert answer.status_code == 403, (role, path, answer.text)
        assert answer.json()["error"]["code"] == "role_too_low"
    assert tenant.get(PATH, role="member").status_code == 200
    assert tenant.post(f"{PATH}/opt-out", {}, role="member").status_code == 200
    assert tenant.post(f"{PATH}/block", {}, role="manager").status_code == 200
    made = tenant.post("/v1/keys", {"role": "member", "label": "app"})
    assert made.status_code == 201 and made.json()["key"].startswith("sk_")
    listed = tenant.get("/v1/keys").json()["keys"]
    assert made.json()["key_id"] in {k["key_id"] for k in listed}
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    fresh = {"Authorization": f"Bearer {made.json()['key']}"}
    assert tenant.server.client.get("/v1/workspace", headers=fresh).status_code == 200
    revoked = tenant.server.client.delete(f"/v1/keys/{made.json()['key_id']}",
                                          headers=tenant.auth())
    assert revoked.status_code == 200
    assert tenant.server.client.get("/v1/workspace", headers=fresh).status_code == 401


def test_a_key_never_reaches_another_workspace(tenant: Tenant, other_tenant: Tenant,
                                               e2e_store: Store) -> None:
    """A's key gets 404 for B's contacts and numbers and never changes B's ledger."""
    b = other_tenant
    b.post("/v1/inbound", {"from": CONTACT, "to": b.number, "body": "STOP", "id": "b1"},
           role="owner")
    before = b.get("/v1/audit/verify").json()["events"]
    assert tenant.get(PATH).status_code == 404
    assert tenant.get(f"{PATH}/events").status_code == 404
    for path, extra in (("/v1/check", {}), ("/v1/messages", {"body": "hi"})):
        answer = tenant.post(path, {"from": b.number, "to": CONTACT, **extra})
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "unknown_number"
        assert "STOP" not in answer.text and "opted_out" not in answer.text
    crossed = tenant.post("/v1/inbound", {"from": CONTACT, "to": b.number, "body": "START"})
    assert crossed.status_code == 404
    taken = tenant.post("/v1/numbers", {"number": b.number})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "number_taken"
    assert b.get("/v1/audit/verify").json()["events"] == before
    assert b.get(PATH).json()["status"] == "opted_out"
    assert tenant.twilio(
        {"From": CONTACT, "To": b.number, "Body": "START", "MessageSid": "SMx"}
    ).status_code == 404
    assert b.get(PATH).json()["status"] == "opted_out"


def test_error_shapes(tenant: Tenant, server: Server) -> None:
    """401, 400, 413, 415, 422 and 404 all answer {"error": {"code", "message"}}."""
    c = server.client
    cases = [
        (c.get("/v1/workspace"), 401, "missing_key"),
        (c.get("/v1/workspace", headers={"Authorization": "Bearer nope"}), 401, "invalid_key"),
        (c.get("/v1/workspace", headers={"Authorization": "Bearer sk_0123456789abcdef_x"}),
         401, "invalid_key"),
        (c.post("/v1/check", content=b'{"from": ', headers={
            **tenant.auth(), "Content-Type": "application/json"}), 400, "malformed_json"),
        (c.post("/v1/check", content=b"from=1", headers={
            **tenant.auth(), "Content-Type": "application/x-www-form-urlencoded"}),
         415, "unsupported_media_type"),
        (tenant.post("/v1/check", {"from": tenant.number}), 422, "invalid_request"),
        (tenant.post("/v1/check", {"from": tenant.number, "to": "not a phone"}), 422,
         "invalid_phone"),
        (tenant.post("/v1/check", {"from": tenant.number, "to": CONTACT, "extra": 1}), 422,
         "invalid_request"),
        (tenant.post("/v1/check", {"from": tenant.number, "to": CONTACT, "purpose": "x"}), 422,
         "invalid_request"),
        (tenant.post("/v1/check", {"x": "y" * 70000}), 413, "payload_too_large"),
        (c.get("/v1/nothing-here"), 404, "not_found"),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, (code, answer.text)
        assert answer.json()["error"]["code"] == code
        assert answer.json()["error"]["message"]
    assert cases[0][0].headers["www-authenticate"] == "Bearer"


def test_oversize_chunked_body_is_refused(tenant: Tenant, server: Server) -> None:
    """A body sent in chunks without Content-Length is counted as read: 413 past the limit."""

    def chunks() -> object:
        for _ in range(20):
            yield b"x" * 8192

    answer = server.client.post("/v1/inbound", content=chunks(),  # type: ignore[arg-type]
                                headers={**tenant.auth(), "Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_metrics(tenant: Tenant, server: Server) -> None:
    """/metrics counts inbound by intent, decisions by reason, and request latency."""
    _inbound(tenant, "STOP", "m1")
    tenant.post("/v1/messages", {"from": tenant.number, "to": CONTACT, "body": "x"})
    text = server.client.get("/metrics").text
    assert 'smsconsent_inbound_total{intent="opt_out",source="rest"}' in text
    assert 'smsconsent_sends_total{kind="send",outcome="refused",reason="opted_out"}' in text
    assert 'smsconsent_request_seconds_count{method="POST",route="/v1/inbound"' in text


def test_bodies_the_json_parser_raises_on_are_400(tenant: Tenant, server: Server) -> None:
    """JSON nested past the parser's depth, a number past its digit limit, bytes that are
    not UTF-8: 400 ``malformed_json`` on the hot routes and the others alike (they were a
    500 that dropped the connection, or a 400 with an undocumented code), nothing recorded."""
    before = tenant.get("/v1/audit/verify").json()["events"]
    json_type = {**tenant.auth(), "Content-Type": "application/json"}
    deep_list, deep_object = b"[" * 30000 + b"]" * 30000, b'{"a":' * 10000 + b"1" + b"}" * 10000
    long_number = b'{"from": "+15557654321", "to": "+15551230001", "list": ' + b"9" * 5000 + b"}"
    cases = [("POST", "/v1/check", deep_list), ("POST", "/v1/check", long_number),
             ("POST", "/v1/check", b'{"from": "\xff\xfe", "to": "x"}'),
             ("POST", "/v1/inbound", deep_object), ("POST", "/v1/messages", deep_list),
             ("PATCH", "/v1/workspace", deep_object)]
    for method, path, raw in cases:
        answer = server.client.request(method, path, content=raw, headers=json_type)
        assert answer.status_code == 400, (path, raw[:20], answer.text)
        assert answer.json()["error"]["code"] == "malformed_json"
    assert tenant.get("/v1/audit/verify").json()["events"] == before


def test_an_unknown_list_is_404_everywhere(tenant: Tenant) -> None:
    """A list the workspace does not have is 404 ``unknown_list`` (docs/http.md: unknown
    list -> 404) for the gate as for subscribing, not a 422; nothing is recorded."""
    before = tenant.get("/v1/audit/verify").json()["events"]
    check = {"from": tenant.number, "to": CONTACT, "purpose": "marketing", "list": "nope"}
    for path, body in (("/v1/check", check), ("/v1/messages", {**check, "body": "Sale"}),
                       ("/v1/lists/nope/subscriptions", {"contact": CONTACT, "evidence": "x"})):
        answer = tenant.post(path, body, role="manager")
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["error"]["code"] == "unknown_list"
    assert tenant.get("/v1/audit/verify").json()["events"] == before


def test_a_time_with_no_utc_equivalent_is_422(tenant: Tenant) -> None:
    """An ISO time whose offset takes it outside the years datetime holds (year 1 east of
    UTC, 9999-12-31 west of it) is a clear 422, not a 500: inbound ``at``, export ``since``."""
    before = tenant.get("/v1/audit/verify").json()["events"]
    for at in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        answer = tenant.post("/v1/inbound", {"from": CONTACT, "to": tenant.number,
                                             "body": "STOP", "id": f"t-{at}", "at": at},
                             role="manager")
        assert answer.status_code == 422, answer.text
        assert "ISO 8601" in answer.json()["error"]["message"]
        since = tenant.get("/v1/exports/ledger", params={"since": at})
        assert since.status_code == 422, since.text
    assert tenant.get("/v1/audit/verify").json()["events"] == before
    assert tenant.get(PATH).status_code == 404


def test_keywords_that_would_turn_stop_off_are_refused(tenant: Tenant) -> None:
    """Seed 002: STOP opts out of everything and cannot be disabled. A PATCH whose keywords
    empty or replace the opt-out set without STOP, or make STOP a list keyword, and a list
    whose keyword is STOP, are 422 ``stop_keyword`` and change nothing; STOP still opts out."""
    before = tenant.get("/v1/workspace").json()["policy"]
    for keywords in ({"opt_out": {"replace": []}}, {"opt_out": {"replace": ["END"]}},
                     {"lists": {"Stop": "deals"}}):
        answer = tenant.server.client.patch("/v1/workspace", json={"keywords": keywords},
                                            headers=tenant.auth())
        assert answer.status_code == 422, (keywords, answer.text)
        assert answer.json()["error"]["code"] == "stop_keyword"
    refused = tenant.post("/v1/lists", {"name": "deals", "keyword": "stop"}, role="manager")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "stop_keyword"
    assert tenant.get("/v1/workspace").json()["policy"] == before
    assert tenant.get("/v1/lists").json()["lists"] == []
    kept = {"opt_out": {"replace": ["STOP", "END"]}, "lists": {"STOP DEALS": "deals"}}
    assert tenant.server.client.patch("/v1/workspace", json={"keywords": kept},
                                      headers=tenant.auth()).status_code == 200
    stop = _inbound(tenant, "STOP", "stop-kept")
    assert (stop.json()["action"], stop.json()["classification"]["list"]) == ("opted_out", None)
