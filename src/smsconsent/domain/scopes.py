"""Where an opt-out applies (seed 004): the whole workspace, one A2P campaign, or one number.

Consent is kept per channel and scope under a key such as ``sms:workspace``,
``sms:campaign:C123`` or ``sms:number:+15551234567``. STOP covers SMS and MMS (channel ``sms``),
never voice calls or email.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    WORKSPACE = "workspace"
    CAMPAIGN = "campaign"
    NUMBER = "number"


SMS = "sms"
CHANNELS = ("sms", "voice", "email")


def scope_key(scope: Scope, number: str, campaign: str | None, channel: str = SMS) -> str:
    """The key an opt-out received on ``number`` is recorded under, by the workspace's scope.

    A number in no campaign falls back to the whole workspace under campaign scope (Dialpad).
    """
    if scope is Scope.NUMBER:
        return f"{channel}:number:{number}"
    if scope is Scope.CAMPAIGN and campaign:
        return f"{channel}:campaign:{campaign}"
    return f"{channel}:workspace"


def keys_covering(number: str, campaign: str | None, channel: str = SMS) -> tuple[str, ...]:
    """Every key whose opt-out stops a send from ``number``, whatever the scope was when made."""
    keys = [f"{channel}:workspace", f"{channel}:number:{number}"]
    if campaign:
        keys.insert(1, f"{channel}:campaign:{campaign}")
    return tuple(keys)
