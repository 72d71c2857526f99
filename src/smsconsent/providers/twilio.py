"""Twilio: form-encoded inbound webhooks, ``X-Twilio-Signature``, replies as TwiML.

The signature is checked with the twilio package's own ``RequestValidator`` against the URL
Twilio called (the public URL when the service sits behind a proxy).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from urllib.parse import unquote, urlparse
from xml.sax.saxutils import escape

from twilio.request_validator import RequestValidator

from smsconsent.errors import BadInput
from smsconsent.providers import InboundMessage

# Twilio's Advanced Opt-Out says which keyword it already answered.
HANDLED_TYPES = ("STOP", "START", "HELP")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


MAX_FIELDS = 200


def parse_form(raw: bytes) -> dict[str, str]:
    """The webhook's fields; a repeated field keeps its last value, as Twilio never repeats.

    What ``dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True,
    max_num_fields=MAX_FIELDS))`` gives, or refuses, for the UTF-8 text of ``raw`` (tested
    against it), in a loop of its own: ``parse_qsl`` calls ``unquote`` twice a field even where
    there is nothing to unquote, and that cost more than the rest of reading the form.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed() from None
    if not text:
        return {}
    pieces = text.split("&")
    if len(pieces) > MAX_FIELDS:
        raise _malformed()
    fields: dict[str, str] = {}
    for piece in pieces:
        name, equals, value = piece.partition("=")
        if not equals:  # strict: every field is name=value, none empty
            raise _malformed()
        fields[_unquoted(name)] = _unquoted(value)
    return fields


def _unquoted(text: str) -> str:
    """``parse_qsl``'s decoding of a name or value: ``+`` is a space, then %-escapes."""
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    return _short_unquoted(text) if len(text) <= SHORT_ESCAPED else unquote(text)


SHORT_ESCAPED = 40  # an escaped E.164 number ("%2B1555..."), a keyword with a space


@lru_cache(maxsize=4096)
def _short_unquoted(text: str) -> str:
    """``unquote``, remembered for short texts: the same numbers come back on every text
    (``From``, ``To``), and ``unquote`` is Python, ~1.5 us an escaped number."""
    return unquote(text)


def _malformed() -> BadInput:
    return BadInput("the body is not a well-formed form (application/x-www-form-urlencoded)",
                    code="malformed_form")


def signature_valid(auth_token: str, url: str, params: dict[str, str], signature: str) -> bool:
    """Whether Twilio signed ``params`` for ``url`` with ``auth_token``: the library's answer.

    The library computes the HMAC twice, for the URL with and without its port; the URL as
    parsed is always one of the two, so a signature matching it is one the library accepts,
    and only a signature that does not falls through to the library, which decides.
    """
    if not signature:
        return False
    if _signed(auth_token, url, params, signature):
        return True
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def _signed(auth_token: str, url: str, params: dict[str, str], signature: str) -> bool:
    signed = _parsed_url(url) + "".join(name + params[name] for name in sorted(params))
    mac = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(mac),
                               signature.encode("utf-8", "surrogatepass"))


@lru_cache(maxsize=256)
def _parsed_url(url: str) -> str:
    """The URL as the library rebuilds it (``urlparse(url).geturl()``)."""
    return urlparse(url).geturl()


def inbound(params: dict[str, str]) -> InboundMessage:
    missing = [f for f in ("From", "To", "MessageSid") if not params.get(f)]
    if missing:
        raise BadInput(f"the Twilio webhook lacks {', '.join(missing)}", code="malformed_form")
    kind = params.get("OptOutType", "").strip().upper()
    handled = kind in HANDLED_TYPES
    return InboundMessage(params["From"], params["To"], params.get("Body", ""),
                          params["MessageSid"], None, handled, kind if handled else None)


def twiml(reply: str | None) -> str:
    """TwiML answering with ``reply``, or an empty Response when no reply is owed."""
    if not reply:
        return EMPTY_TWIML
    return (f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(reply)}'
            "</Message></Response>")
