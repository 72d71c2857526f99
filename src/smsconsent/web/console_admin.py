"""The console's workspace pages: the send box, settings, audit (verify, export) and import.

Same pattern as the contact pages: CSRF, then the API's role for the action, then one service;
a refusal is shown on the page it came from.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse, StreamingResponse

from smsconsent import services
from smsconsent.domain.events import agent
from smsconsent.domain.gate import PURPOSES
from smsconsent.errors import SmsConsentError
from smsconsent.web.auth import store_of
from smsconsent.web.console_session import ConsoleRoute, Session, load, render, save
from smsconsent.web.errors import status_of

router = APIRouter(route_class=ConsoleRoute)
REJECTS_SHOWN = 20
# The console imports opt-outs only, with the role POST /v1/imports/opt-outs needs (issue #7:
# the console asks of a key exactly what the API does).
IMPORT = "import_opt_outs"


def _done(request: Request, session: Session, to: str) -> Response:
    return save(request, RedirectResponse(to, status_code=303), session)


# -- the send box ----------------------------------------------------------------------------

def _send_page(request: Request, session: Session, status: int = 200, **extra: Any
               ) -> Response:
    who = session.needs("send")
    shown = services.show_workspace(store_of(request), who.workspace_name)
    form = {"sender": "", "to": "", "body": "", "purpose": "informational", "list": "",
            **extra.pop("form", {})}
    # Each form carries a one-time key: sending it again (a refresh, the back button, a double
    # click) answers the first decision and records nothing (``services.send``'s idempotency).
    return render(request, session, "send.html", status=status, numbers=shown["numbers"],
                  lists=shown["lists"], purposes=PURPOSES, form=form,
                  once=secrets.token_urlsafe(18),
                  **{"decision": None, **extra})


@router.get("/send")
def send_page(request: Request, to: str = "") -> Response:
    return _send_page(request, load(request), form={"to": to})


@router.post("/send")
def send(request: Request, csrf: str = Form(""), sender: str = Form(""), to: str = Form(""),
         body: str = Form(""), purpose: str = Form("informational"),
         list_name: str = Form("", alias="list"), once: str = Form("")) -> Response:
    """Run the send gate and record the outcome; smsconsent itself delivers nothing."""
    session = load(request)
    form = {"sender": sender, "to": to, "body": body, "purpose": purpose, "list": list_name}
    try:
        session.check_csrf(csrf)
        who = session.needs("send")
        decision = services.send(store_of(request), sender, to, body, purpose,
                                 list_name or None, agent(who.key_id),
                                 workspace=who.workspace_name,
                                 idempotency_key=once or None)
    except SmsConsentError as exc:
        if session.principal is None:
            raise
        message = exc.message
        if exc.code == "idempotency_key_reused":
            message = ("this form was already sent with another message; nothing was "
                       "recorded now: check the message and send it again")
        return _send_page(request, session, status=status_of(exc), error=message, form=form)
    request.app.state.metrics.decision("send", decision.allowed, decision.reason)
    return _send_page(request, session, decision=decision, form=form)


# -- settings --------------------------------------------------------------------------------

def _settings_page(request: Request, session: Session, status: int = 200, **extra: Any
                   ) -> Response:
    who = session.needs("read")
    shown = services.show_workspace(store_of(request), who.workspace_name)
    campaigns: dict[str, list[str]] = {}
    for n in shown["numbers"]:
        campaigns.setdefault(n["campaign"] or "(none)", []).append(n["number"])
    form = {**shown["templates"], **extra.pop("form", {})}
    return render(request, session, "settings.html", status=status, ws=shown,
                  campaigns=sorted(campaigns.items()), form=form, **extra)


@router.get("/settings")
def settings_page(request: Request, done: str = "") -> Response:
    return _settings_page(request, load(request),
                          notice="Saved." if done else None)


def _change(request: Request, csrf: str, action: str, form: dict[str, str],
            change: Any) -> Response:
    session = load(request)
    try:
        session.check_csrf(csrf)
        who = session.needs(action)
        change(who)
    except SmsConsentError as exc:
        if session.principal is None:
            raise
        return _settings_page(request, session, status=status_of(exc), error=exc.message,
                              form=form)
    return _done(request, session, "/console/settings?done=1")


@router.post("/settings/templates")
def save_templates(request: Request, csrf: str = Form(""), help_text: str = Form(""),
                   stop_text: str = Form(""), start_text: str = Form("")) -> Response:
    """HELP must name the business and its contact: the service checks, the page shows why."""
    form = {"help": help_text, "stop": stop_text, "start": start_text}

    def change(who: Any) -> None:
        # Only texts edited on the page become the workspace's own; the others keep following
        # the defaults (and the business name) as before.
        now = services.show_workspace(store_of(request), who.workspace_name)["templates"]
        edited = {f"{kind}_text": text for kind, text in form.items()
                  if text.strip() and text != now[kind]}
        services.update_workspace(store_of(request), who.workspace_name,
                                  actor=agent(who.key_id), **edited)

    return _change(request, csrf, "settings", form, change)


@router.post("/settings/policy")
def save_policy(request: Request, csrf: str = Form(""), scope: str = Form(""),
                matching: str = Form(""), reopt_on_message: str = Form(""),
                essential_after_stop: str = Form("")) -> Response:
    return _change(request, csrf, "settings", {}, lambda who: services.update_workspace(
        store_of(request), who.workspace_name, actor=agent(who.key_id), scope=scope or None,
        matching=matching or None, reopt_on_message=reopt_on_message == "on",
        essential_after_stop=essential_after_stop == "on"))


@router.post("/settings/numbers")
def add_number(request: Request, csrf: str = Form(""), number: str = Form(""),
               campaign: str = Form("")) -> Response:
    return _change(request, csrf, "numbers", {}, lambda who: services.add_number(
        store_of(request), who.workspace_name, number, campaign=campaign or None,
        actor=agent(who.key_id)))


# -- audit -----------------------------------------------------------------------------------

@router.get("/audit")
def audit(request: Request) -> Response:
    session = load(request)
    who = session.needs("read")
    return render(request, session, "audit.html",
                  result=services.verify(store_of(request), who.workspace_name))


@router.get("/audit/export")
def export(request: Request, fmt: str = "jsonl") -> Response:
    """The whole ledger, streamed (``services.export_ledger``) as a download."""
    session = load(request)
    who = session.needs("read")
    lines = services.export_ledger(store_of(request), who.workspace_name, fmt=fmt)
    kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
    name = f"{who.workspace_name}-ledger.{fmt}"
    return StreamingResponse(lines, media_type=f"{kind}; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


# -- import ----------------------------------------------------------------------------------

@router.get("/import")
def import_page(request: Request) -> Response:
    session = load(request)
    session.needs(IMPORT)
    return render(request, session, "import.html", summary=None, rejects=[])


@router.post("/import")
def import_opt_outs(request: Request, csrf: str = Form(""),
                    upload: UploadFile = File(...)) -> Response:
    """Import a CSV of opt-outs; the page then shows the summary (no live progress)."""
    session = load(request)
    rejects = io.StringIO()
    try:
        session.check_csrf(csrf)
        who = session.needs(IMPORT)
        summary = services.import_opt_outs(
            store_of(request), who.workspace_name, upload.file, rejects, by=who.key_id,
            name=upload.filename or "upload.csv")
    except SmsConsentError as exc:
        if session.principal is None:
            raise
        return render(request, session, "import.html", status=status_of(exc),
                      error=exc.message, summary=None, rejects=[])
    shown = rejects.getvalue().splitlines()[: REJECTS_SHOWN + 1]
    return render(request, session, "import.html", summary=summary, rejects=shown)
