"""The four hot routes answered without FastAPI's per-request work, byte for byte as FastAPI would.

``POST /v1/check``, ``POST /v1/inbound`` and the Twilio and Telnyx webhooks are most of the
service's traffic, and for them FastAPI's dependency solving, pydantic validation and routing
cost more than the work itself. ``FastRoutes`` sits in front of the app (inside the body limit
and the latency metrics) and answers exactly those method and path pairs when the request is
plain: a JSON object of the known fields and types, a bearer key that authenticates with the
role needed, a signature that verifies. It calls the same functions as the routes
(``rest.check_answer``, ``webhooks.twilio_message``, ``read_text``, ``commit_text``, ...).

Anything else goes to FastAPI unchanged, body replayed: malformed or unexpected JSON, another
content type, a missing, unknown or weak key, a bad signature, any domain error raised before
the ledger change is handed over (all of them reads, so running them again records nothing
twice). So every error body stays FastAPI's own. Once the change is handed to the group
commit there is no going back: its errors are answered with the same handler as a route's.
``tests/integration/test_fast_routes.py`` sends the same requests both ways and compares the
answers byte for byte; the OpenAPI document is the routes', untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsconsent.domain.free_text import holds_binary
from smsconsent.domain.roles import NEEDED
from smsconsent.errors import SmsConsentError
from smsconsent.providers.twilio import parse_form as twilio_form
from smsconsent.services import hot_reads
from smsconsent.services.apikeys import Principal, authenticate
from smsconsent.web import rest, webhooks
from smsconsent.web.auth import check_role
from smsconsent.web.errors import domain_response
from smsconsent.web.schemas import CheckBody, InboundBody, Purpose

TWILIO, TELNYX = "/webhooks/twilio/", "/webhooks/telnyx/"
JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})
PURPOSES = frozenset(get_args(Purpose))


def _fields(model: type[BaseModel]) -> frozenset[str]:
    """The JSON names a body model accepts: the routes' own, so a new field there is never
    answered here without it (an unknown field falls back to FastAPI)."""
    return frozenset(f.alias or name for name, f in model.model_fields.items())


CHECK_FIELDS = _fields(CheckBody)
INBOUND_FIELDS = _fields(InboundBody)

Handler = Callable[[Any, Scope, bytes], Awaitable[Response]]


class Fallback(Exception):
    """Not a request this module answers as the route would: FastAPI answers it."""


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case), as Starlette's ``Headers.get``."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def _text(scope: Scope, name: bytes) -> str:
    value = header(scope, name)
    return "" if value is None else value.decode("latin-1")


def bearer_key(scope: Scope) -> str:
    """The key of ``Authorization: Bearer KEY``."""
    value = header(scope, b"authorization")
    if value is None or not value.startswith(b"Bearer "):
        raise Fallback
    key = value[7:].decode("latin-1").strip()
    if not key:
        raise Fallback
    return key


def principal(state: Any, scope: Scope, action: str) -> Principal:
    """The caller, when ``Authorization: Bearer KEY`` holds a key of a role that may."""
    return check_role(authenticate(state.loop_store, bearer_key(scope)), NEEDED[action])


def json_object(scope: Scope, raw: bytes, fields: frozenset[str], required: tuple[str, ...]
                ) -> dict[str, Any]:
    """The body, when it is a JSON object of ``fields`` only, ``required`` among them, each
    of those a string."""
    kind = header(scope, b"content-type")
    if kind is None or kind.lower() not in JSON_TYPES:
        raise Fallback
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # FastAPI answers: 400 malformed_json
        raise Fallback from None
    if type(doc) is not dict or not doc.keys() <= fields:
        raise Fallback
    for name in required:
        if type(doc.get(name)) is not str:
            raise Fallback
    for value in doc.values():  # NUL, a lone surrogate: the route's own checks refuse them
        if type(value) is str and holds_binary(value):
            raise Fallback
    return doc


def optional_text(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is not None and type(value) is not str:
        raise Fallback
    return value


async def check(state: Any, scope: Scope, raw: bytes) -> Response:
    doc = json_object(scope, raw, CHECK_FIELDS, ("from", "to"))
    purpose = doc.get("purpose", "informational")
    if type(purpose) is not str or purpose not in PURPOSES:
        raise Fallback
    list_ = optional_text(doc, "list")
    # The key and the check in one statement; anything but the plain case in a read
    # transaction, as the route does (services/hot_reads.py).
    decision = hot_reads.check(state.loop_store, bearer_key(scope), doc["from"], doc["to"],
                               purpose, list_)
    if decision is not None:
        return JSONResponse(rest.decision_answer(state, decision))
    with state.loop_store.read():
        who = principal(state, scope, "send")
        answer = rest.check_answer(state, who, doc["from"], doc["to"], purpose, list_)
    return JSONResponse(answer)


async def inbound(state: Any, scope: Scope, raw: bytes) -> Response:
    doc = json_object(scope, raw, INBOUND_FIELDS, ("from", "to", "body"))
    provider_id, at = optional_text(doc, "id"), optional_text(doc, "at")
    with state.loop_store.read():
        who = principal(state, scope, "inbound")
        text = webhooks.read_text(state, doc["from"], doc["to"], doc["body"],
                                  provider_id=provider_id, at=at, workspace=who.workspace_name)
    return JSONResponse((await handed_over(webhooks.commit_text(state, "rest", text))).to_dict())


async def twilio(state: Any, scope: Scope, raw: bytes) -> Response:
    workspace = scope["path"][len(TWILIO):]
    if holds_binary(workspace):
        raise Fallback
    url = webhooks.scope_twilio_url(state.settings, scope, header(scope, b"host"))
    params = twilio_form(raw)
    # Secrets, number, workspace, lists: one statement (services/hot_reads.py), shared by the
    # webhooks of a loop turn (web/shared_reads.py).
    found = await state.shared_reads.inbound(workspace, params.get("To", ""))
    if found is None:
        raise Fallback
    msg = webhooks.twilio_verified(found.secrets, params, _text(scope, b"x-twilio-signature"),
                                   url)
    if not msg.body.strip():
        return _twilio_answer(None)
    text = webhooks.read_text(state, msg.sender, msg.to, msg.body, found=found.addressed,
                              **webhooks.message_options(workspace, msg))
    result = await handed_over(webhooks.commit_text(state, "twilio", text))
    return _twilio_answer(result.reply)


# The route's TwiML answer, made once per reply text (a few templates): every webhook has one,
# and a Response is sent by this module only, never changed. Only here: FastAPI sets
# ``background`` on the Response a route returns, so the route makes its own each time.
_twilio_answer = lru_cache(maxsize=256)(webhooks.twilio_answer)


async def telnyx(state: Any, scope: Scope, raw: bytes) -> Response:
    workspace = scope["path"][len(TELNYX):]
    with state.loop_store.read():
        msg = webhooks.telnyx_message(state, workspace, raw,
                                      _text(scope, b"telnyx-signature-ed25519"),
                                      _text(scope, b"telnyx-timestamp"))
        if msg is None:
            return JSONResponse({"ignored": True})
        if not msg.body.strip():
            return JSONResponse({"ignored": True, "reason": "no text"})
        text = webhooks.read_text(state, msg.sender, msg.to, msg.body,
                                  on_reply=webhooks.telnyx_reply_hook(state),
                                  **webhooks.message_options(workspace, msg))
    result = await handed_over(webhooks.commit_text(state, "telnyx", text))
    return JSONResponse(webhooks.telnyx_answer(result))


class Answered(Exception):
    """A domain error raised after the change was handed over: answered, never replayed."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def handed_over(commit: Awaitable[Any]) -> Any:
    try:
        return await commit
    except SmsConsentError as exc:
        raise Answered(domain_response(exc)) from exc


def route_of(path: str) -> tuple[str, Handler] | None:
    """The route template and handler of a POST to ``path``; None for every other path."""
    if path == "/v1/check":
        return path, check
    if path == "/v1/inbound":
        return path, inbound
    for prefix, handler in ((TWILIO, twilio), (TELNYX, telnyx)):
        if path.startswith(prefix):
            name = path[len(prefix):]
            return (f"{prefix}{{workspace}}", handler) if name and "/" not in name else None
    return None


class FastRoutes:
    """The ASGI middleware answering the hot routes (see the module's docstring), in front of
    ``owner``'s FastAPI stack (``app``), which answers the rest.

    An unexpected error (neither a fallback nor a domain error) is answered as FastAPI's
    server-error layer answers it in ``owner``: its 500 handler, then the error goes on up.
    """

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app, self.owner, self.state = app, owner, owner.state
        # The routes these requests would have matched, for the latency metric's label.
        self.routes = {route.path: route for route in (*rest.router.routes,
                                                        *webhooks.router.routes)
                       if isinstance(route, APIRoute) and "POST" in (route.methods or ())}

    @cached_property
    def _guarded(self) -> ServerErrorMiddleware:
        """``_answer`` inside the server-error layer FastAPI builds (Starlette's, with the 500
        or ``Exception`` handler the app installed): made once, at the first hot request, when
        the app's handlers are all installed."""
        handlers = self.owner.exception_handlers
        handler = handlers.get(500) or handlers.get(Exception)
        return ServerErrorMiddleware(self._answer, handler=handler, debug=self.owner.debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            matched = route_of(scope["path"])
        if matched is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                await self.app(scope, _replay(messages, receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        request = _Hot(*matched, b"".join(chunks))
        scope[_HOT] = request
        await self._guarded(scope, receive, send)
        if not request.answered:
            await self.app(scope, _replay(messages, receive), send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: _Hot = scope[_HOT]
        scope["route"] = self.routes[request.template]  # the route FastAPI matches, even for a 500
        try:
            response = await request.handler(self.state, scope, request.raw)
        except Answered as done:
            response = done.response
        except (Fallback, SmsConsentError):
            return  # FastAPI answers, in __call__: outside this server-error layer
        request.answered = True
        await response(scope, receive, send)


_HOT = "smsconsent.hot"  # the scope key of a hot request's _Hot


@dataclass
class _Hot:
    """A hot request on its way through the server-error layer."""

    template: str
    handler: Handler
    raw: bytes
    answered: bool = False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` giving ``messages`` again first (the body this module read)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
