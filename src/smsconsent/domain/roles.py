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
