"""A workspace's consent policy: the choices the seeds leave to each business."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from smsconsent.domain.classification import KeywordPolicy
from smsconsent.domain.scopes import Scope
from smsconsent.errors import BadInput


@dataclass(frozen=True)
class WorkspacePolicy:
    """``reopt_on_message``: any new inbound message opts a contact back in (seed 002), off by
    default. ``essential_after_stop``: transactional messages may still go after STOP (seed 003),
    off by default: the strict TCPA reading sends nothing after the confirmation.
    """

    scope: Scope = Scope.WORKSPACE
    reopt_on_message: bool = False
    essential_after_stop: bool = False
    keywords: KeywordPolicy = field(default_factory=KeywordPolicy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope.value,
            "reopt_on_message": self.reopt_on_message,
            "essential_after_stop": self.essential_after_stop,
            "keywords": _keywords_to_dict(self.keywords),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkspacePolicy:
        unknown = set(data) - {"scope", "reopt_on_message", "essential_after_stop", "keywords"}
        if unknown:
            raise BadInput(f"unknown policy fields: {', '.join(sorted(unknown))}")
        try:
            scope = Scope(data.get("scope", "workspace"))
        except ValueError:
            raise BadInput(
                f"scope must be workspace, campaign or number, not {data.get('scope')!r}"
            ) from None
        for flag in ("reopt_on_message", "essential_after_stop"):
            if not isinstance(data.get(flag, False), bool):
                raise BadInput(f"{flag} must be true or false")
        return cls(
            scope=scope,
            reopt_on_message=data.get("reopt_on_message", False),
            essential_after_stop=data.get("essential_after_stop", False),
            keywords=_keywords_from_dict(data.get("keywords") or {}),
        )

    def with_matching(self, matching: str) -> WorkspacePolicy:
        if matching not in ("standard", "strict"):
            raise BadInput(f"matching must be standard or strict, not {matching!r}")
        return replace(self, keywords=replace(self.keywords, matching=matching))  # type: ignore[arg-type]


def _keywords_to_dict(policy: KeywordPolicy) -> dict[str, Any]:
    return policy.to_dict()


def _keywords_from_dict(data: dict[str, Any]) -> KeywordPolicy:
    return KeywordPolicy.from_dict(data)
