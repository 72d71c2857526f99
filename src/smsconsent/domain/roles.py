"""Who may do what through an API key: the three roles of the seeds, each a superset of the last.

Members read, check, send and opt contacts out; managers may also opt in with evidence,
block and unblock, record consent and edit lists; owners also edit the policy, templates,
numbers and keys.
"""

from __future__ import annotations

from enum import StrEnum

from smsconsent.errors import BadInput


class Role(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        """True when this role may do what ``needed`` may."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(text.strip().lower())
        except (ValueError, AttributeError):
            raise BadInput(f"role must be owner, manager or member, not {text!r}",
                           code="bad_role") from None


_RANKS = {Role.MEMBER: 0, Role.MANAGER: 1, Role.OWNER: 2}


# The least role for each action, read by the REST API and the console alike (docs/http.md).
NEEDED: dict[str, Role] = {
    "read": Role.MEMBER,
    "send": Role.MEMBER,
    "opt_out": Role.MEMBER,
    "opt_in": Role.MANAGER,
    "consent": Role.MANAGER,
    "block": Role.MANAGER,
    "unblock": Role.MANAGER,
    "lists": Role.MANAGER,
    "subscribe": Role.MANAGER,
    "inbound": Role.MANAGER,
    "import_opt_outs": Role.MEMBER,  # opting contacts out: any key may
    "import_contacts": Role.MANAGER,  # opting them in
    "settings": Role.OWNER,
    "numbers": Role.OWNER,
    "keys": Role.OWNER,
}


def may(role: Role, action: str) -> bool:
    """True when ``role`` may do ``action`` (a key of ``NEEDED``)."""
    return role.allows(NEEDED[action])
