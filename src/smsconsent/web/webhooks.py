"""Provider webhooks: verify the signature first, then the same ``handle_inbound`` as the CLI.

A request whose signature does not verify gets 403 and records nothing. Twilio is answered
inline with TwiML; Telnyx has no inline reply, so its reply goes to the outbox in the same
transaction as the ledger change (``on_reply``) and the worker delivers it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from functools import lru_cache, partial
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import URL
from starlette.types import Scope

from smsconsent import services
from smsconsent.domain.workspace import Workspace
from smsconsent.errors import Forbidden
from smsconsent.providers import InboundMessage, telnyx, twilio
from smsconsent.services import InboundResult, Store
from smsconsent.services.group_commit import GroupCommit
from smsconsent.services.inbound import Inbound, ReplyHook
from smsconsent.services.workspaces import workspace_secrets
from smsconsent.settings import Settings
from smsconsent.storage import outbox
from smsconsent.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/webhooks", tags=["webhooks"],
                   responses={k: v for k, v in ERROR_RESPONSES.items() if k != 401})


def read_text(state: Any, sender: str, to: str, body: str, *,
              on_reply: ReplyHook | None = None, **options: Any) -> Inbound:
    """The first half of an inbound text for the HTTP service: read and classified on the
    event loop (reads that take no lock); raises before anything is recorded."""
    store: Store = state.loop_store
    return services.read_inbound(store, sender, to, body, on_reply=on_reply, **options)


async def commit_text(state: Any, source: str, inbound: Inbound) -> InboundResult:
    """The second half: the ledger change goes to the group commit
    (services/group_commit.py); the result comes back once that change has committed."""
    group: GroupCommit = state.group_commit
    result = await group.run(inbound.workspace.id,
                             partial(services.record_inbound, inbound=inbound),
                             reads=(inbound.provider_id, inbound.contact), number=inbound.our)
    if not result.duplicate:
        state.metrics.inbound_text(result.intent, source)
    return result


async def record_inbound(request: Request, source: str, sender: str, to: str, body: str, *,
                         on_reply: ReplyHook | None = None, **options: Any) -> InboundResult:
    """``services.handle_inbound`` for the HTTP service: ``read_text``, then ``commit_text``."""
    state = request.app.state
    return await commit_text(state, source, read_text(state, sender, to, body,
                                                      on_reply=on_reply, **options))


def message_options(workspace: str, msg: InboundMessage) -> dict[str, Any]:
    """``read_text``'s options for a provider's message to ``workspace``'s webhook."""
    return {"provider_id": msg.provider_id, "at": msg.at,
            "provider_handled": msg.provider_handled, "handled_as": msg.handled_as,
            "workspace": workspace}


def _handle(request: Request, workspace: str, msg: InboundMessage, source: str,
            on_reply: ReplyHook | None = None) -> Awaitable[InboundResult]:
    return record_inbound(request, source, msg.sender, msg.to, msg.body, on_reply=on_reply,
                          **message_options(workspace, msg))


def twilio_url(settings: Settings, url: URL) -> str:
    """The URL Twilio signed: the public URL when the service sits behind a proxy."""
    return _signed_url(settings.public_url, url)


def _signed_url(public: str | None, url: URL) -> str:
    if public is None:
        return str(url)
    query = f"?{url.query}" if url.query else ""
    return f"{public}{url.path}{query}"


def scope_twilio_url(settings: Settings, scope: Scope, host: bytes | None) -> str:
    """``twilio_url(settings, URL(scope=scope))`` for a request whose ``Host`` header is
    ``host``: remembered, as it is the same few URLs on every webhook and building a
    ``URL`` cost more than checking the signature."""
    server = scope.get("server")
    return _scope_twilio_url(settings.public_url, scope.get("scheme", "http"),
                             None if server is None else tuple(server), scope["path"],
                             scope.get("query_string", b""), host)


@lru_cache(maxsize=256)
def _scope_twilio_url(public: str | None, scheme: str, server: tuple[str, int] | None,
                      path: str, query_string: bytes, host: bytes | None) -> str:
    # All that URL(scope=...) reads of a scope.
    scope = {"type": "http", "scheme": scheme, "server": server, "path": path,
             "query_string": query_string, "headers": [] if host is None else [(b"host", host)]}
    return _signed_url(public, URL(scope=scope))


def twilio_message(state: Any, workspace: str, raw: bytes, signature: str, url: str
                   ) -> InboundMessage:
    """The text of a Twilio webhook whose signature verifies; Forbidden otherwise."""
    secrets = workspace_secrets(state.loop_store, workspace)  # one read: on the loop
    return twilio_verified(secrets, twilio.parse_form(raw), signature, url)


def twilio_verified(secrets: dict[str, str], params: dict[str, str], signature: str, url: str
                    ) -> InboundMessage:
    """The text of the Twilio webhook of ``params`` (its form), when signed with the
    workspace's auth token (in ``secrets``); Forbidden otherwise."""
    token = secrets.get("twilio_auth_token")
    if not token:
        raise Forbidden("this workspace has no Twilio auth token set", code="no_auth_token")
    if not twilio.signature_valid(token, url, params, signature):
        raise Forbidden("the X-Twilio-Signature does not match", code="bad_signature")
    return twilio.inbound(params)


def twilio_answer(reply: str | None) -> Response:
    return Response(twilio.twiml(reply), media_type="application/xml")


@router.post("/twilio/{workspace}", response_class=Response,
             responses={200: {"content": {"application/xml": {"example":
                        "<Response><Message>...</Message></Response>"}},
                        "description": "TwiML with the reply owed, or an empty Response"}})
async def twilio_inbound(workspace: str, request: Request) -> Response:
    """Twilio's inbound-message webhook (form-encoded), signed with the workspace's auth token.

    Replies with TwiML holding the confirmation or HELP text. When Twilio's Advanced Opt-Out
    already answered (``OptOutType``), the change is recorded and nothing more is sent; a
    retried ``MessageSid`` changes nothing and gets an empty Response.
    """
    msg = twilio_message(request.app.state, workspace, await request.body(),
                         request.headers.get("x-twilio-signature", ""),
                         twilio_url(request.app.state.settings, request.url))
    if not msg.body.strip():  # a picture with no text: nothing to read, nothing owed
        return twilio_answer(None)
    result = await _handle(request, workspace, msg, "twilio")
    return twilio_answer(result.reply)


def _enqueue(store: Store, conn: Connection, ws: Workspace, sender: str, to: str,
             text: str) -> None:
    outbox.enqueue(conn, ws.id, "telnyx", sender, to, text, store.now())


def telnyx_message(state: Any, workspace: str, raw: bytes, signature: str, timestamp: str
                   ) -> InboundMessage | None:
    """The text of a signed Telnyx ``message.received`` event; None for other events."""
    secrets = workspace_secrets(state.loop_store, workspace)
    key = secrets.get("telnyx_public_key")
    if not key:
        raise Forbidden("this workspace has no Telnyx public key set", code="no_public_key")
    telnyx.verify(key, signature, timestamp, raw, time.time(),
                  state.settings.telnyx_replay_window)
    return telnyx.parse_event(raw)


def telnyx_reply_hook(state: Any) -> ReplyHook:
    """Queues the reply owed for delivery, in the ledger change's own transaction."""
    return partial(_enqueue, state.store)


def telnyx_answer(result: InboundResult) -> dict[str, Any]:
    return {**result.to_dict(), "queued": result.reply is not None}


@router.post("/telnyx/{workspace}")
async def telnyx_inbound(workspace: str, request: Request) -> dict[str, Any]:
    """Telnyx's ``message.received`` webhook, signed (ed25519) with Telnyx's key.

    Other event types are acknowledged and ignored. The reply owed is queued for delivery
    through the Telnyx messages API.
    """
    state = request.app.state
    msg = telnyx_message(state, workspace, await request.body(),
                         request.headers.get("telnyx-signature-ed25519", ""),
                         request.headers.get("telnyx-timestamp", ""))
    if msg is None:
        return {"ignored": True}
    if not msg.body.strip():
        return {"ignored": True, "reason": "no text"}
    result = await _handle(request, workspace, msg, "telnyx", telnyx_reply_hook(state))
    return telnyx_answer(result)
