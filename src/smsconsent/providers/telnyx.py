"""Telnyx: signed JSON webhooks (ed25519) and replies sent later through its messages API.

Telnyx signs ``f"{timestamp}|{raw_body}"`` with its ed25519 key; a request older or newer than
the replay window is refused even with a good signature, so a captured request cannot be
played again later.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import httpx
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from smsconsent.errors import BadInput, Forbidden
from smsconsent.providers import DeliveryFailed, InboundMessage

RECEIVED = "message.received"


def verify(public_key: str, signature: str, timestamp: str, raw: bytes, now: float,
           window: int) -> None:
    """Raise Forbidden unless the request was signed by ``public_key`` within the window."""
    if not signature or not timestamp:
        raise Forbidden("missing Telnyx signature headers", code="bad_signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise Forbidden("the Telnyx timestamp is not a number", code="bad_signature") from None
    if abs(now - sent) > window:
        raise Forbidden("the Telnyx timestamp is outside the replay window",
                        code="stale_signature")
    try:
        VerifyKey(base64.b64decode(public_key)).verify(
            timestamp.encode() + b"|" + raw, base64.b64decode(signature, validate=True))
    except (BadSignatureError, binascii.Error, ValueError):
        raise Forbidden("the Telnyx signature does not match", code="bad_signature") from None


def _field(data: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            data = data[step] if isinstance(data, list) and len(data) > step else None
        else:
            data = data.get(step) if isinstance(data, dict) else None
    return data


def parse_event(raw: bytes) -> InboundMessage | None:
    """The inbound text of a ``message.received`` event; None for any other event type."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested past the parser
        raise BadInput("the body is not JSON", code="malformed_json") from None
    kind = _field(doc, "data", "event_type")
    if not isinstance(kind, str):  # not an event at all: say so rather than ignore it
        raise BadInput("the body is not a Telnyx event (no data.event_type)",
                       code="malformed_event")
    if kind != RECEIVED:
        return None
    payload = _field(doc, "data", "payload")
    values = {
        "from": _field(payload, "from", "phone_number"),
        "to": _field(payload, "to", 0, "phone_number"),
        "id": _field(payload, "id"),
    }
    missing = [k for k, v in values.items() if not isinstance(v, str) or not v]
    if missing:
        raise BadInput(f"the Telnyx event lacks payload {', '.join(missing)}",
                       code="malformed_event")
    text = _field(payload, "text")
    at = _field(doc, "data", "occurred_at")
    return InboundMessage(values["from"], values["to"], text if isinstance(text, str) else "",
                          values["id"], at if isinstance(at, str) else None)


def deliver(client: httpx.Client, base: str, api_key: str, sender: str, to: str,
            text: str) -> None:
    """Hand one reply to Telnyx; raise DeliveryFailed unless it was accepted."""
    try:
        response = client.post(f"{base}/v2/messages", json={"from": sender, "to": to,
                                                             "text": text},
                               headers={"Authorization": f"Bearer {api_key}"})
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"Telnyx unreachable: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise DeliveryFailed(f"Telnyx answered {response.status_code}: {response.text[:300]}")
