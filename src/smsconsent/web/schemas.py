"""Request bodies of the REST API; field names mirror the CLI's options.

Every model forbids unknown fields (a typo is an error, not a silent default) and carries an
example for ``/openapi.json``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Purpose = Literal["marketing", "informational", "transactional"]
FROM = Field(alias="from", description="Our sending number (E.164, or national in the US).")
TO = Field(description="The contact's number (E.164, or national in the workspace's region).")


def _config(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", populate_by_name=True,
                      json_schema_extra={"examples": [example]})


class CheckBody(BaseModel):
    model_config = _config({"from": "+15557654321", "to": "+15551234567",
                            "purpose": "marketing", "list": "deals"})
    sender: str = FROM
    to: str = TO
    purpose: Purpose = "informational"
    list: str | None = Field(None, description="The contact list the message is for.")


class MessageBody(CheckBody):
    model_config = _config({"from": "+15557654321", "to": "+15551234567",
                            "body": "Your order shipped", "purpose": "transactional"})
    body: str = Field(description="The message; the opt-out footer is added when owed.")


class InboundBody(BaseModel):
    model_config = _config({"from": "+15551234567", "to": "+15557654321", "body": "STOP",
                            "id": "SM123", "at": "2026-11-20T10:00:00Z"})
    sender: str = Field(alias="from", description="The contact's number.")
    to: str = Field(description="Our number the text was sent to.")
    body: str = Field(description="The text as received.")
    id: str | None = Field(None, description="Provider message id; a replay changes nothing.")
    at: str | None = Field(None, description="When it was sent (ISO 8601; default now).")


class AgentBody(BaseModel):
    model_config = _config({"by": "alice", "evidence": "asked on a call 2026-11-20"})
    by: str | None = Field(None, description="Who does this; default: the API key's id.")
    evidence: str | None = Field(None, description="What proves the contact's wish.")


class OptOutBody(AgentBody):
    model_config = _config({"by": "alice", "evidence": "asked on a call", "channel": "sms"})
    channel: Literal["sms", "voice", "email"] = "sms"


class ConsentBody(BaseModel):
    model_config = _config({"contact": "+15551234567", "type": "express_written",
                            "purpose": "marketing",
                            "evidence": "web form 2026-11-20 10:02 UTC, IP 203.0.113.9"})
    contact: str
    type: Literal["express", "express_written", "implied"]
    purpose: Purpose
    evidence: str
    by: str | None = None


class ListBody(BaseModel):
    model_config = _config({"name": "deals", "keyword": "STOP DEALS"})
    name: str
    keyword: str | None = Field(None, description="A keyword that leaves this list only.")


class SubscriptionBody(BaseModel):
    model_config = _config({"contact": "+15551234567", "evidence": "keyword JOIN 2026-11-20"})
    contact: str
    evidence: str
    by: str | None = None


class UnsubscribeBody(BaseModel):
    model_config = _config({"contact": "+15551234567", "evidence": "asked on a call"})
    contact: str
    evidence: str | None = Field(None, description="Why, e.g. the contact asked by phone.")
    by: str | None = None


class NumberBody(BaseModel):
    model_config = _config({"number": "+15557654321", "campaign": "C123"})
    number: str
    campaign: str | None = Field(None, description="A2P campaign id.")


class KeyBody(BaseModel):
    model_config = _config({"role": "member", "label": "web app"})
    role: Literal["owner", "manager", "member"]
    label: str | None = None


class WorkspacePatch(BaseModel):
    model_config = _config({"scope": "campaign", "reopt_on_message": True,
                            "help_text": "{business}: help at {contact}. Msg&Data rates may "
                                         "apply. Reply STOP to opt out."})
    business_name: str | None = None
    contact: str | None = None
    scope: Literal["workspace", "campaign", "number"] | None = None
    matching: Literal["standard", "strict"] | None = None
    reopt_on_message: bool | None = None
    essential_after_stop: bool | None = None
    help_text: str | None = None
    stop_text: str | None = None
    start_text: str | None = None
    keywords: dict[str, Any] | None = Field(
        None, description="The workspace's own keyword sets and phrases, replacing the "
                          "current ones: the format of a `--keywords` file (docs/keywords.md).")
