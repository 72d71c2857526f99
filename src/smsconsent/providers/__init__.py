"""Provider adapters (Twilio, Telnyx): parse an inbound text, check its signature, reply.

Each turns the provider's wire format into an ``InboundMessage`` for
``services.handle_inbound`` and knows nothing of consent rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InboundMessage:
    """One inbound text as every provider delivers it."""

    sender: str
    to: str
    body: str
    provider_id: str | None
    at: str | None = None
    provider_handled: bool = False
    handled_as: str | None = None  # what the provider did (Twilio's OptOutType: STOP, ...)


class DeliveryFailed(Exception):
    """The provider did not take a reply; the outbox will try again later."""
