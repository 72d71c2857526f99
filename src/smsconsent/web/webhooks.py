"""Provider webhooks: verify the signature first, then the same ``handle_inbound`` as the CLI.

A request whose signature does not verify gets 403 and records nothing. Twilio is answered
inline with TwiML; Telnyx has no inline reply, so its reply goes to the outbox in the same
transaction as the ledger change (``on_reply``) and the worker delivers it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection

from smsconsent import services
from smsconsent.domain.workspace import Workspace
from smsconsent.errors import Forbidden
from smsconsent.providers import InboundMessage, telnyx, twilio
from smsconsent.services import InboundResult, Store
from smsconsent.services.base import GroupCommit
from smsconsent.services.inbound import ReplyHook
from smsconsent.services.workspaces import workspace_secrets
from smsconsent.storage import outbox
from smsconsent.web.auth import loop_store_of, store_of
from smsconsent.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/webhooks", tags=["webhooks"],
                   responses={k: v for k, v in ERROR_RESPONSES.items() if k != 401})


async def record_inbound(request: Request, source: str, sender: str, to: str, body: str, *,
                         on_reply: ReplyHook | None = None, **options: Any) -> InboundResult:
    """``services.handle_inbound`` for the HTTP service: the text is read and classified on the
    event loop (reads that take no lock), and its ledger change goes to the group commit
    (services/base.GroupCommit); the result comes back once that change has committed."""
    inbound = services.read_inbound(loop_store_of(request), sender, to, body, on_reply=on_reply,
                                    **options)
    group: GroupCommit = request.app.state.group_commit
    result = await asyncio.wrap_future(
        group.submit(inbound.workspace.id, partial(services.record_inbound, inbound=inbound)))
    if not result.duplicate:
        request.app.state.metrics.inbound.labels(intent=result.intent, source=source).inc()
    return result


def _handle(request: Request, workspace: str, msg: InboundMessage, source: str,
            on_reply: ReplyHook | None = None) -> Awaitable[InboundResult]:
    return record_inbound(request, source, msg.sender, msg.to, msg.body,
                          provider_id=msg.provider_id, at=msg.at,
                          provider_handled=msg.provider_handled, on_reply=on_reply,
                          workspace=workspace)


def _twilio_url(request: Request) -> str:
    public = request.app.state.settings.public_url
    if public is None:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public}{request.url.path}{query}"


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
    raw = await request.body()
    secrets = workspace_secrets(loop_store_of(request), workspace)  # one read: on the loop
    token = secrets.get("twilio_auth_token")
    if not token:
        raise Forbidden("this workspace has no Twilio auth token set", code="no_auth_token")
    params = twilio.parse_form(raw)
    signature = request.headers.get("x-twilio-signature", "")
    if not twilio.signature_valid(token, _twilio_url(request), params, signature):
        raise Forbidden("the X-Twilio-Signature does not match", code="bad_signature")
    msg = twilio.inbound(params)
    if not msg.body.strip():  # a picture with no text: nothing to read, nothing owed
        return Response(twilio.EMPTY_TWIML, media_type="application/xml")
    result = await _handle(request, workspace, msg, "twilio")
    return Response(twilio.twiml(result.reply), media_type="application/xml")


def _enqueue(store: Store, conn: Connection, ws: Workspace, sender: str, to: str,
             text: str) -> None:
    outbox.enqueue(conn, ws.id, "telnyx", sender, to, text, store.now())


@router.post("/telnyx/{workspace}")
async def telnyx_inbound(workspace: str, request: Request) -> dict[str, Any]:
    """Telnyx's ``message.received`` webhook, signed (ed25519) with Telnyx's key.

    Other event types are acknowledged and ignored. The reply owed is queued for delivery
    through the Telnyx messages API.
    """
    raw = await request.body()
    store = store_of(request)
    secrets = workspace_secrets(loop_store_of(request), workspace)
    key = secrets.get("telnyx_public_key")
    if not key:
        raise Forbidden("this workspace has no Telnyx public key set", code="no_public_key")
    telnyx.verify(key, request.headers.get("telnyx-signature-ed25519", ""),
                  request.headers.get("telnyx-timestamp", ""), raw, time.time(),
                  request.app.state.settings.telnyx_replay_window)
    msg = telnyx.parse_event(raw)
    if msg is None:
        return {"ignored": True}
    if not msg.body.strip():
        return {"ignored": True, "reason": "no text"}
    result = await _handle(request, workspace, msg, "telnyx", partial(_enqueue, store))
    return {**result.to_dict(), "queued": result.reply is not None}
