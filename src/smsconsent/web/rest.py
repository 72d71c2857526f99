"""The REST API under ``/v1``: each route checks the key's role, then calls one service.

Every call is scoped to the key's workspace: a contact, number or list of another workspace
is answered as unknown (404), never with that workspace's data.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request

from smsconsent import services
from smsconsent.domain.events import agent
from smsconsent.domain.gate import Decision
from smsconsent.domain.roles import NEEDED
from smsconsent.errors import NotFound
from smsconsent.services import apikeys
from smsconsent.web import schemas as s
from smsconsent.web.auth import Principal, require_role, store_of
from smsconsent.web.errors import ERROR_RESPONSES
from smsconsent.web.webhooks import record_inbound

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


def needs(action: str) -> Any:
    """The dependency admitting the roles that may do ``action`` (domain/roles.NEEDED)."""
    return Depends(require_role(NEEDED[action]))


NUMBER_PATH = "The contact's number, URL-encoded E.164 (%2B15551234567) or national."


def _by(given: str | None, who: Principal) -> str:
    return given or who.key_id


# -- the gate ----------------------------------------------------------------------------------

@router.post("/check", tags=["gate"])
async def check(body: s.CheckBody, request: Request, who: Principal = needs("send")
                ) -> dict[str, Any]:
    """May we text this contact now? 200 whether allowed or refused; records nothing."""
    return check_answer(request.app.state, who, body.sender, body.to, body.purpose, body.list)


def check_answer(state: Any, who: Principal, sender: str, to: str, purpose: str,
                 list_: str | None) -> dict[str, Any]:
    """``POST /v1/check``'s answer (also web/fastpath.py's); raises before counting anything."""
    # A few indexed reads that take no lock: on the event loop, like the key lookup.
    return decision_answer(state, services.check(state.loop_store, sender, to, purpose, list_,
                                                 workspace=who.workspace_name))


def decision_answer(state: Any, decision: Decision) -> dict[str, Any]:
    """``POST /v1/check``'s answer of ``decision``, counted in the metrics."""
    state.metrics.decision("check", decision.allowed, decision.reason)
    out = decision.to_dict()
    out.pop("body")
    return out


@router.post("/messages", tags=["gate"])
def send(body: s.MessageBody, request: Request, who: Principal = needs("send"),
         idempotency_key: str | None = Header(
             None, alias="Idempotency-Key",
             description="Your id for this message: a retry with the same key gets the first "
                         "answer back and records nothing; the same key for another message "
                         "is 409 idempotency_key_reused.")) -> dict[str, Any]:
    """Run the gate and record the send; ``body`` is the final text (footer added when owed).

    200 whether allowed or refused (``allowed``, ``reason``); smsconsent does not deliver it.
    """
    decision = services.send(store_of(request), body.sender, body.to, body.body, body.purpose,
                             body.list, agent(who.key_id), workspace=who.workspace_name,
                             idempotency_key=idempotency_key)
    request.app.state.metrics.decision("send", decision.allowed, decision.reason)
    return decision.to_dict()


@router.post("/inbound", tags=["inbound"])
async def inbound(body: s.InboundBody, request: Request, who: Principal = needs("inbound")
                  ) -> dict[str, Any]:
    """Record an inbound text from any provider and act on it (STOP, START, HELP, ...).

    Returns the reply owed (send it yourself), or null. Needs a manager key: a text can opt
    a contact back in.
    """
    result = await record_inbound(request, "rest", body.sender, body.to, body.body,
                                  provider_id=body.id, at=body.at, workspace=who.workspace_name)
    return result.to_dict()


# -- contacts ----------------------------------------------------------------------------------

def _known_contact(request: Request, who: Principal, number: str) -> dict[str, Any]:
    found = services.status(store_of(request), who.workspace_name, number)
    if not found["known"]:
        raise NotFound(f"{found['contact']} is not a contact of this workspace",
                       code="unknown_contact")
    return found


@router.get("/contacts/{number}", tags=["contacts"])
def contact(number: str, request: Request, who: Principal = needs("read")) -> dict[str, Any]:
    """The contact's consent: status, opted-out scopes, lists, consents, blocked.

    404 for a number this workspace has never recorded anything about.
    """
    return _known_contact(request, who, number)


@router.get("/contacts/{number}/events", tags=["contacts"])
def events(number: str, request: Request, who: Principal = needs("read"),
           after: int = Query(0, ge=0, description="Start after this sequence number."),
           limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """The contact's ledger, a page at a time: pass ``next_after`` as ``after`` for more."""
    _known_contact(request, who, number)
    return services.history(store_of(request), who.workspace_name, number, after=after,
                            limit=limit)


@router.post("/contacts/{number}/opt-out", tags=["contacts"])
def opt_out(number: str, body: s.OptOutBody, request: Request, who: Principal = needs("opt_out")
            ) -> dict[str, Any]:
    """Opt the contact out of the workspace's texts (always allowed, always logged)."""
    return services.opt_out(store_of(request), who.workspace_name, number,
                            by=_by(body.by, who), evidence=body.evidence, channel=body.channel)


@router.post("/contacts/{number}/opt-in", tags=["contacts"])
def opt_in(number: str, body: s.AgentBody, request: Request, who: Principal = needs("opt_in")
           ) -> dict[str, Any]:
    """Opt the contact back in; 409 evidence_required or blocked when a guardrail says no."""
    return services.opt_in(store_of(request), who.workspace_name, number,
                           by=_by(body.by, who), evidence=body.evidence)


@router.post("/contacts/{number}/block", tags=["contacts"])
def block(number: str, body: s.AgentBody, request: Request, who: Principal = needs("block")
          ) -> dict[str, Any]:
    """Block the contact: opted out, their texts dropped (but logged), sends refused."""
    return services.block(store_of(request), who.workspace_name, number,
                          by=_by(body.by, who), evidence=body.evidence)


@router.post("/contacts/{number}/unblock", tags=["contacts"])
def unblock(number: str, body: s.AgentBody, request: Request, who: Principal = needs("unblock")
            ) -> dict[str, Any]:
    """Unblock the contact; they stay opted out until opted in with evidence."""
    return services.unblock(store_of(request), who.workspace_name, number,
                            by=_by(body.by, who), evidence=body.evidence)


@router.post("/consents", tags=["contacts"])
def consent(body: s.ConsentBody, request: Request, who: Principal = needs("consent")
            ) -> dict[str, Any]:
    """Record consent with its evidence; marketing needs express_written."""
    return services.grant_consent(store_of(request), who.workspace_name, body.contact,
                                  type_=body.type, purpose=body.purpose,
                                  evidence=body.evidence, by=_by(body.by, who))


# -- lists -------------------------------------------------------------------------------------

@router.get("/lists", tags=["lists"])
def lists(request: Request, who: Principal = needs("read")) -> dict[str, Any]:
    shown = services.show_workspace(store_of(request), who.workspace_name)
    return {"workspace": shown["name"], "lists": shown["lists"]}


@router.post("/lists", tags=["lists"], status_code=201)
def add_list(body: s.ListBody, request: Request, who: Principal = needs("lists")) -> dict[str, Any]:
    """Create a contact list; its keyword (e.g. "STOP DEALS") leaves that list only."""
    return services.add_list(store_of(request), who.workspace_name, body.name,
                             keyword=body.keyword, actor=agent(who.key_id))


@router.post("/lists/{name}/subscriptions", tags=["lists"])
def subscribe(name: str, body: s.SubscriptionBody, request: Request,
              who: Principal = needs("subscribe")) -> dict[str, Any]:
    """Subscribe a contact to the list, with evidence."""
    return services.subscribe(store_of(request), who.workspace_name, name, body.contact,
                              evidence=body.evidence, by=_by(body.by, who))


@router.post("/lists/{name}/unsubscribe", tags=["lists"])
def unsubscribe(name: str, body: s.UnsubscribeBody, request: Request,
                who: Principal = needs("opt_out")) -> dict[str, Any]:
    """Take a contact off the list (an opt-out from that list only: any role may)."""
    return services.unsubscribe(store_of(request), who.workspace_name, name, body.contact,
                                evidence=body.evidence, by=_by(body.by, who))


# -- workspace, numbers, campaigns, keys, audit ------------------------------------------------

@router.get("/workspace", tags=["workspace"])
def workspace(request: Request, who: Principal = needs("read")) -> dict[str, Any]:
    """The workspace: policy, templates, numbers, lists, which provider secrets are set."""
    return services.show_workspace(store_of(request), who.workspace_name)


@router.patch("/workspace", tags=["workspace"])
def patch_workspace(body: s.WorkspacePatch, request: Request, who: Principal = needs("settings")
                    ) -> dict[str, Any]:
    """Change the policy, templates or business details; HELP is validated as in the CLI."""
    return services.update_workspace(store_of(request), who.workspace_name,
                                     actor=agent(who.key_id), **body.model_dump())


@router.get("/numbers", tags=["workspace"])
def numbers(request: Request, who: Principal = needs("read")) -> dict[str, Any]:
    shown = services.show_workspace(store_of(request), who.workspace_name)
    return {"workspace": shown["name"], "numbers": shown["numbers"]}


@router.post("/numbers", tags=["workspace"])
def add_number(body: s.NumberBody, request: Request, who: Principal = needs("numbers")
               ) -> dict[str, Any]:
    """Add a sending number (or move it to another campaign); 409 when another workspace has it."""
    return services.add_number(store_of(request), who.workspace_name, body.number,
                               campaign=body.campaign, actor=agent(who.key_id))


@router.get("/campaigns", tags=["workspace"])
def campaigns(request: Request, who: Principal = needs("read")) -> dict[str, Any]:
    """The workspace's A2P campaigns and their numbers (a number's campaign scopes a STOP)."""
    shown = services.show_workspace(store_of(request), who.workspace_name)
    found: dict[str, list[str]] = {}
    for n in shown["numbers"]:
        if n["campaign"]:
            found.setdefault(n["campaign"], []).append(n["number"])
    return {"workspace": shown["name"],
            "campaigns": [{"campaign": c, "numbers": ns} for c, ns in sorted(found.items())]}


@router.get("/keys", tags=["keys"])
def keys(request: Request, who: Principal = needs("keys")) -> dict[str, Any]:
    """The workspace's API keys (ids and roles; a key itself is shown only when made)."""
    return {"workspace": who.workspace_name,
            "keys": apikeys.list_api_keys(store_of(request), who.workspace_name)}


@router.post("/keys", tags=["keys"], status_code=201)
def create_key(body: s.KeyBody, request: Request, who: Principal = needs("keys")) -> dict[str, Any]:
    """Make an API key; the ``key`` in the answer is the only copy."""
    return apikeys.create_api_key(store_of(request), who.workspace_name, body.role,
                                  label=body.label, actor=agent(who.key_id))


@router.delete("/keys/{key_id}", tags=["keys"])
def revoke_key(key_id: str, request: Request, who: Principal = needs("keys")) -> dict[str, Any]:
    return apikeys.revoke_api_key(store_of(request), who.workspace_name, key_id,
                                  actor=agent(who.key_id))


@router.get("/audit/verify", tags=["audit"])
def verify(request: Request, who: Principal = needs("read")) -> dict[str, Any]:
    """Recompute the hash chain and refold every contact; ``ok`` false lists the problems."""
    return services.verify(store_of(request), who.workspace_name)
