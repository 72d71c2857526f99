"""The send gate: may this workspace text this contact now, for this purpose?

Refusal reasons form a fixed vocabulary (docs/gate.md):

    unknown_sender        the sending number belongs to no workspace here
    blocked               the contact is blocked (seed 002)
    opted_out             an SMS opt-out covers the sending number (seed 004 scopes)
    list_opted_out        the contact left the list the message is for (seed 002)
    not_subscribed        the message is for a list the contact never joined
    no_marketing_consent  marketing without express written consent or list evidence (seed 003)

Allowed decisions carry reason ``ok``, or ``essential_after_stop`` when the workspace lets
transactional messages through an opt-out (seed 003's "non-essential" wording).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smsconsent.domain.consent import OPTED_OUT, SUBSCRIBED, ContactState
from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.replies import with_footer
from smsconsent.domain.scopes import keys_covering

PURPOSES = ("marketing", "informational", "transactional")
REASONS = (
    "unknown_sender",
    "blocked",
    "opted_out",
    "list_opted_out",
    "not_subscribed",
    "no_marketing_consent",
)


@dataclass(frozen=True)
class Decision:
    """The gate's answer; ``body`` is the text to send (footer added when owed)."""

    allowed: bool
    reason: str
    first_message: bool = False
    footer_added: bool = False
    body: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "first_message": self.first_message,
            "footer_added": self.footer_added,
            "body": self.body,
        }


def decide(
    state: ContactState,
    sender: str,
    campaign: str | None,
    purpose: str,
    policy: WorkspacePolicy,
    list_name: str | None = None,
    body: str | None = None,
) -> Decision:
    """Apply every rule in order; the first that refuses gives the reason."""
    if state.blocked:
        return Decision(False, "blocked")
    reason = "ok"
    if state.is_opted_out(keys_covering(sender, campaign)):
        if purpose == "transactional" and policy.essential_after_stop and list_name is None:
            reason = "essential_after_stop"
        else:
            return Decision(False, "opted_out")
    sub = state.lists.get(list_name) if list_name else None
    if list_name is not None:
        if sub is not None and sub.status == OPTED_OUT:
            return Decision(False, "list_opted_out")
        if sub is None and purpose != "marketing":
            return Decision(False, "not_subscribed")
    if purpose == "marketing":
        by_list = sub is not None and sub.status == SUBSCRIBED and bool(sub.evidence)
        if not by_list and "marketing" not in state.grants:
            return Decision(False, "no_marketing_consent")
    first = state.first_sent_at is None
    final, footer = (body, False) if body is None or not first else with_footer(body)
    return Decision(True, reason, first_message=first, footer_added=footer, body=final)
