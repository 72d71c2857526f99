"""A workspace: one business, the tenant every number, contact and event belongs to."""

from __future__ import annotations

from dataclasses import dataclass, field

from smsconsent.domain.policy import WorkspacePolicy
from smsconsent.domain.replies import Templates


@dataclass(frozen=True)
class Workspace:
    id: int
    name: str
    business_name: str
    contact: str
    region: str = "US"
    policy: WorkspacePolicy = field(default_factory=WorkspacePolicy)
    templates: Templates = field(default_factory=Templates)

    def reply(self, kind: str, language: str | None) -> str:
        return self.templates.render(kind, language, self.business_name, self.contact)


@dataclass(frozen=True)
class Number:
    """A sending number of a workspace, optionally in an A2P campaign (seed 004)."""

    number: str
    workspace_id: int
    kind: str
    campaign: str | None = None
