"""web/fastpath.py answers exactly as the FastAPI routes do, byte for byte.

Two apps on two databases set up alike (same workspaces, numbers, lists, secrets; keys of the
same roles): one with the fast routes, one without. Every request of the matrix goes to both
in the same order, and the status, the headers that matter and the body must be the same,
then the ledgers and the metrics too. The matrix holds plain requests and every kind of
trouble the fast path must hand back to FastAPI (malformed, unexpected, unauthorised, badly
signed, oversized) or answer after the commit (duplicates).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from nacl.signing import SigningKey
from twilio.request_validator import RequestValidator

from smsconsent import services
from smsconsent.services import Store, apikeys
from smsconsent.settings import Settings
from smsconsent.storage.database import ensure_schema, make_engine
from smsconsent.web import webhooks
from smsconsent.web.app import create_app
from smsconsent.web.fastpath import FastRoutes
from tests.conftest import drop_pg_schema, new_pg_schema

OURS, TOLL_FREE, OTHERS = "+15557654321", "+18005550123", "+15557650000"
TOKEN = "matrix-token"
TELNYX_KEY = SigningKey(b"k" * 32)
BASE = "http://testserver"
HEADERS = ("content-type", "content-length", "www-authenticate")
ROLES = ("owner", "manager", "member", "revoked")


def prepare(url: str) -> tuple[Store, dict[str, str]]:
    """Workspaces ``acme`` (two numbers, a list, both providers' secrets), ``other`` and
    ``bare`` (no secrets); a key of each role of acme's, one of them revoked."""
    store = Store(make_engine(url))
    ensure_schema(store.engine)
    for name, number in (("acme", OURS), ("other", OTHERS), ("bare", None)):
        services.create_workspace(store, name, business_name=f"Biz {name}",
                                  contact="help@biz.test")
        if number:
            services.add_number(store, name, number, campaign="C1")
    services.add_number(store, "acme", TOLL_FREE)
    services.add_list(store, "acme", "deals", keyword="STOP DEALS")
    public = base64.b64encode(bytes(TELNYX_KEY.verify_key)).decode()
    services.set_secrets(store, "acme", twilio_auth_token=TOKEN, telnyx_public_key=public)
    keys = {role: apikeys.create_api_key(store, "acme", "member" if role == "revoked" else role)
            for role in ROLES}
    apikeys.revoke_api_key(store, "acme", keys["revoked"]["key_id"])
    return store, {role: made["key"] for role, made in keys.items()}


@dataclass
class Side:
    app: Any
    keys: dict[str, str]
    store: Store
    client: httpx.AsyncClient | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[httpx.AsyncClient]:
        """The app started (its lifespan: the group commit) and a client talking to it."""
        async with self.app.router.lifespan_context(self.app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url=BASE) as client:
            self.client = client
            yield client


@dataclass
class Call:
    path: str
    content: bytes
    headers: dict[str, str]

    async def send(self, side: Side) -> httpx.Response:
        headers = {k: v.format(**side.keys) for k, v in self.headers.items()}
        assert side.client is not None
        return await side.client.post(self.path, content=self.content, headers=headers)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'plain.db'}"
        return
    base = request.getfixturevalue("pg_server")
    (one, fast), (two, plain) = new_pg_schema(base), new_pg_schema(base)
    try:
        yield fast, plain
    finally:
        drop_pg_schema(base, one)
        drop_pg_schema(base, two)


@pytest.fixture
def sides(urls: tuple[str, str]) -> Iterator[tuple[Side, Side]]:
    """The app with the fast routes and the app without, each on its own database."""
    made = []
    for url, fast in zip(urls, (True, False), strict=True):
        store, keys = prepare(url)
        app = create_app(Settings(db_url=url, outbox_worker=False, max_body=8 * 1024),
                         store=store, fast_routes=fast)
        made.append(Side(app, keys, store))
    yield made[0], made[1]
    for side in made:
        side.store.engine.dispose()


def run(sides: tuple[Side, Side], body: Callable[[Side, Side], Awaitable[None]]) -> None:
    """``body`` on one event loop with both apps running."""
    async def main() -> None:
        async with AsyncExitStack() as stack:
            for side in sides:
                await stack.enter_async_context(side.running())
            await body(*sides)

    asyncio.run(main())


def json_call(path: str, body: Any, key: str | None = "{member}", *,
              kind: str | None = "application/json", raw: bytes | None = None) -> Call:
    headers = {} if key is None else {"Authorization": key if " " in key else f"Bearer {key}"}
    if kind is not None:
        headers["Content-Type"] = kind
    return Call(path, raw if raw is not None else json.dumps(body).encode(), headers)


def check_calls() -> list[Call]:
    good = {"from": OURS, "to": "+15551230001", "purpose": "marketing"}
    calls = [json_call("/v1/check", {**good, "purpose": p}) for p in
             ("marketing", "informational", "transactional")]
    calls += [
        json_call("/v1/check", {"from": OURS, "to": "+15551230001"}),
        json_call("/v1/check", {**good, "list": "deals"}),
        json_call("/v1/check", {**good, "list": None}),
        json_call("/v1/check", {**good, "list": "nolist"}),
        json_call("/v1/check", {**good, "to": "(555) 123-0001"}),
        json_call("/v1/check", {**good, "from": "555-765-4321"}),
        json_call("/v1/check", good, "{owner}"),
        json_call("/v1/check", good, "{manager}"),
        json_call("/v1/check", good, kind="application/json; charset=utf-8"),
        json_call("/v1/check", good, kind="Application/JSON"),
        # unusual: FastAPI answers
        json_call("/v1/check", good, kind=None),
        json_call("/v1/check", good, kind="text/plain"),
        json_call("/v1/check", good, kind="application/vnd.api+json"),
        json_call("/v1/check", None, raw=b"{not json"),
        json_call("/v1/check", None, raw=b""),
        json_call("/v1/check", None, raw=b"\xff\xfe{}"),
        json_call("/v1/check", [good]),
        json_call("/v1/check", {**good, "extra": 1}),
        json_call("/v1/check", {"sender": OURS, "to": "+15551230001"}),
        json_call("/v1/check", {**good, "to": 15551230001}),
        json_call("/v1/check", {**good, "purpose": "spam"}),
        json_call("/v1/check", {**good, "purpose": None}),
        json_call("/v1/check", {**good, "list": 3}),
        json_call("/v1/check", {"to": "+15551230001"}),
        json_call("/v1/check", {**good, "to": "not a number"}),
        json_call("/v1/check", {**good, "to": "+1555\ud800"}),
        json_call("/v1/check", {**good, "from": OTHERS}),
        json_call("/v1/check", {**good, "from": "+15550009999"}),
        json_call("/v1/check", None, raw=b'{"from": "' + OURS.encode() + b'", "to": NaN}'),
        json_call("/v1/check", {**good, "to": "x" * 10_000}),  # over the body limit
    ]
    calls += [json_call("/v1/check", good, key) for key in (
        None, "Basic abc", "bearer {member}", "Bearer ", "Bearer  {member} ", "{revoked}",
        "sk_0123456789abcdef_nope", "sk_short", "Token {member}")]
    return calls


def inbound_calls() -> list[Call]:
    def text(body: Any, n: int, **more: Any) -> dict[str, Any]:
        return {"from": f"+1555123{n:04d}", "to": OURS, "body": body, **more}

    bodies = ("STOP", "stop", "Please stop texting me", "START", "HELP", "STOP DEALS",
              "PARE", "no más mensajes", "Is my appointment still on?", "STOPPP", "YES",
              "UNSUSCRIBE", "ayuda", "   ")
    calls = [json_call("/v1/inbound", text(b, i), "{manager}") for i, b in enumerate(bodies)]
    calls += [json_call("/v1/inbound", text(b, 100 + i, id=f"SMR{i}"), "{owner}")
              for i, b in enumerate(("STOP", "START", "HELP", "hi"))]
    calls += [json_call("/v1/inbound", text("STOP", 100, id="SMR0"), "{owner}")]  # replay
    calls += [json_call("/v1/inbound", {**text("YES", 200), "to": TOLL_FREE}, "{manager}"),
              json_call("/v1/inbound", text("STOP", 201, at="2026-11-20T10:00:00Z"),
                        "{manager}"),
              json_call("/v1/inbound", text("STOP", 202, at=None, id=None), "{manager}"),
              json_call("/v1/inbound", text("STOP", 203, at="yesterday"), "{manager}"),
              json_call("/v1/inbound", text("STOP", 204, id="x" * 200), "{manager}"),
              json_call("/v1/inbound", text("x" * 5001, 205), "{manager}"),
              json_call("/v1/inbound", text("", 206), "{manager}"),
              json_call("/v1/inbound", text("bad\x00text", 207), "{manager}"),
              json_call("/v1/inbound", text(5, 208), "{manager}"),
              json_call("/v1/inbound", text("STOP", 209, extra=True), "{manager}"),
              json_call("/v1/inbound", {**text("STOP", 210), "to": OTHERS}, "{manager}"),
              json_call("/v1/inbound", {**text("STOP", 211), "from": "nope"}, "{manager}"),
              json_call("/v1/inbound", text("STOP", 212)),  # a member key: 403
              json_call("/v1/inbound", text("STOP", 213), "{revoked}"),
              json_call("/v1/inbound", text("STOP", 214), None),
              json_call("/v1/inbound", text("STOP", 215), "{manager}", kind="text/plain")]
    return calls


def twilio_call(params: dict[str, str] | None, workspace: str = "acme", *,
                signature: str | None = None, sign_for: str | None = None,
                raw: bytes | None = None) -> Call:
    path = f"/webhooks/twilio/{workspace}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    elif params is not None:
        headers["X-Twilio-Signature"] = RequestValidator(TOKEN).compute_signature(
            sign_for or f"{BASE}{path}", params)
    return Call(path, raw if raw is not None else urlencode(params or {}).encode(), headers)


def twilio_calls() -> list[Call]:
    def sms(body: str, n: int, **more: str) -> dict[str, str]:
        return {"MessageSid": f"SM{n:06d}", "AccountSid": "AC1", "From": f"+1555234{n:04d}",
                "To": OURS, "Body": body, "NumMedia": "0", **more}

    bodies = ("STOP", "Stop.", "STOP DEALS", "START", "HELP", "info", "cancel", "hello there",
              "stop means stop", "STPO", "", "YES", "<b>&amp;</b>")
    calls = [twilio_call(sms(b, i)) for i, b in enumerate(bodies)]
    calls += [twilio_call(sms("STOP", 0)),  # the same MessageSid again: a duplicate
              twilio_call(sms("STOP", 50, OptOutType="STOP")),
              twilio_call({**sms("YES", 51), "To": TOLL_FREE}),
              twilio_call(sms("STOP", 52), sign_for=f"{BASE}/elsewhere"),
              twilio_call(sms("STOP", 53), signature="bm9wZQ=="),
              twilio_call(sms("STOP", 54), signature=""),
              twilio_call({k: v for k, v in sms("STOP", 55).items() if k != "From"}),
              twilio_call({**sms("STOP", 56), "To": OTHERS}),
              twilio_call({**sms("STOP", 57), "To": "+15550009999"}),
              twilio_call({**sms("STOP", 58), "From": "garbage"}),
              twilio_call(sms("x" * 5001, 59)),
              twilio_call(None, raw=b"%zz=&&=", signature="abc"),
              twilio_call(None, raw=b"\xff\xfe", signature="abc"),
              twilio_call(sms("STOP", 60), "nobody"),
              twilio_call(sms("STOP", 61), "bare"),
              twilio_call(sms("STOP", 62), "other"),
              twilio_call(sms("y" * 9000, 63))]  # over the body limit
    return calls


def telnyx_call(event: Any, workspace: str = "acme", *, at: float | None = None,
                key: SigningKey = TELNYX_KEY, raw: bytes | None = None,
                headers: dict[str, str] | None = None) -> Call:
    body = raw if raw is not None else json.dumps(event).encode()
    stamp = str(int(at if at is not None else time.time()))
    signature = base64.b64encode(key.sign(stamp.encode() + b"|" + body).signature).decode()
    sent = headers if headers is not None else {
        "telnyx-timestamp": stamp, "telnyx-signature-ed25519": signature}
    return Call(f"/webhooks/telnyx/{workspace}", body,
                {"Content-Type": "application/json", **sent})


def telnyx_calls() -> list[Call]:
    def event(text: Any, n: int, kind: str = "message.received", to: str = OURS
              ) -> dict[str, Any]:
        return {"data": {"event_type": kind, "id": f"ev{n}",
                         "occurred_at": "2026-11-20T10:00:00.000+00:00",
                         "payload": {"id": f"tx{n}", "text": text,
                                     "from": {"phone_number": f"+1555345{n:04d}"},
                                     "to": [{"phone_number": to}]}}}

    calls = [telnyx_call(event(b, i)) for i, b in enumerate(
        ("STOP", "START", "HELP", "STOP DEALS", "what time?", "", "PARAR"))]
    calls += [telnyx_call(event("STOP", 0)),  # duplicate
              telnyx_call(event("STOP", 20, kind="message.sent")),
              telnyx_call(event(None, 21)),
              telnyx_call(event("STOP", 22, to=OTHERS)),
              telnyx_call(event("STOP", 23), at=time.time() - 3600),
              telnyx_call(event("STOP", 24), key=SigningKey(b"z" * 32)),
              telnyx_call(event("STOP", 25), headers={}),
              telnyx_call(event("STOP", 26), headers={"telnyx-timestamp": "soon",
                                                     "telnyx-signature-ed25519": "AAAA"}),
              telnyx_call(None, raw=b"{broken"),
              telnyx_call({"data": {"event_type": "message.received", "payload": {}}}),
              telnyx_call(event("STOP", 27), "bare"),
              telnyx_call(event("STOP", 28), "nobody")]
    return calls


def answer(response: Any) -> tuple[int, dict[str, str | None], bytes]:
    return (response.status_code, {h: response.headers.get(h) for h in HEADERS},
            response.content)


METRIC_LINE = re.compile(r"^smsconsent_(inbound_total|sends_total|request_seconds_count)")


async def metrics(side: Side) -> list[str]:
    """Counters of the app: inbound by intent, decisions, requests by route and status."""
    assert side.client is not None
    text = (await side.client.get("/metrics")).text
    return sorted(line for line in text.splitlines() if METRIC_LINE.match(line))


@pytest.mark.parametrize("calls", [check_calls, inbound_calls, twilio_calls, telnyx_calls],
                         ids=["check", "inbound", "twilio", "telnyx"])
def test_fast_routes_answer_as_fastapi(sides: tuple[Side, Side], calls: Any) -> None:
    """Every request of the matrix gets the same status, headers and body both ways, and
    both apps end with the same ledger counts and metrics."""
    async def body(fast: Side, plain: Side) -> None:
        for call in calls():
            assert answer(await call.send(fast)) == answer(await call.send(plain)), call
        assert await metrics(fast) == await metrics(plain)

    run(sides, body)
    audits = [services.verify(side.store, "acme") for side in sides]
    for audit in audits:  # the hashes differ: times and key ids are each database's own
        assert audit.pop("head_hash") and audit["ok"]
    assert audits[0] == audits[1]


def test_fast_path_answers_the_plain_requests(sides: tuple[Side, Side]) -> None:
    """The fast path really answers the well-formed requests (FastAPI never sees them)."""
    seen: list[str] = []

    async def body(fast: Side, _plain: Side) -> None:
        layer = fast.app.front  # in front of FastAPI's stack (web/app.App)
        while not isinstance(layer, FastRoutes):
            layer = layer.app
        inner = layer.app

        async def spy(scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["path"])
            await inner(scope, receive, send)

        layer.app = spy
        good = {"from": OURS, "to": "+15551230001"}
        for call in (json_call("/v1/check", good), json_call("/v1/check", {**good, "x": 1}),
                     twilio_call({"MessageSid": "SMx", "From": "+15551230002", "To": OURS,
                                  "Body": "STOP"})):
            assert (await call.send(fast)).status_code in (200, 422)

    run(sides, body)
    assert seen == ["/v1/check"]  # only the request with an unknown field fell back


@pytest.mark.parametrize("where", ["before", "after"])
def test_unexpected_errors_answered_as_fastapi(sides: tuple[Side, Side], where: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error before the hand-over (reading the text) or after it (in the
    group commit): the app's own 500 both ways, the same metrics, and the error goes on up
    to the server (which logs it) both ways."""
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(*(webhooks, "read_text") if where == "before"
                        else (services, "record_inbound"), broken)
    text = {"from": "+15551239001", "to": OURS, "body": "STOP"}
    calls = [twilio_call({"MessageSid": "SM900001", "AccountSid": "AC1", "To": OURS,
                          "From": "+15551239002", "Body": "STOP"}),
             json_call("/v1/inbound", text, "{manager}")]

    async def body(fast: Side, plain: Side) -> None:
        for call in calls:
            answers = []
            for side in (fast, plain):
                with pytest.raises(RuntimeError, match="boom"):  # on up to the server
                    await call.send(side)
                async with httpx.AsyncClient(base_url=BASE, transport=httpx.ASGITransport(
                        app=side.app, raise_app_exceptions=False)) as client:
                    answers.append(answer(await client.post(
                        call.path, content=call.content,
                        headers={k: v.format(**side.keys) for k, v in call.headers.items()})))
            assert answers[0] == answers[1]
            assert answers[0][0] == 500, answers[0]
        assert await metrics(fast) == await metrics(plain)

    run(sides, body)


def test_what_the_parser_or_database_cannot_take_is_refused(sides: tuple[Side, Side]) -> None:
    """JSON nested past the parser, a lone surrogate or NUL in ``list``, a time with no UTC
    equivalent: the documented 4xx both ways (each was a 500, NUL on PostgreSQL)."""
    text = {"from": "+15551230001", "to": OURS, "body": "STOP", "at": "0001-01-01T00:00+05:00"}
    cases = [(json_call("/v1/check", None, raw=b"[" * 3000 + b"]" * 3000), "malformed_json"),
             *((json_call("/v1/check", {"from": OURS, "to": OURS, "list": f"a{bad}"}),
                "bad_text") for bad in ("\ud800", "\x00")),
             (json_call("/v1/inbound", text, "{manager}"), "bad_input")]
    async def body(fast: Side, plain: Side) -> None:
        for call, code in cases:
            got = answer(await call.send(fast))
            assert got == answer(await call.send(plain)) and got[0] in (400, 422), call
            assert json.loads(got[2])["error"]["code"] == code
    run(sides, body)
