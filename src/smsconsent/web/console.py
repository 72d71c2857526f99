"""The web console under ``/console``: server-rendered pages over the same services as the API.

Every page reads the session (``console_session``); every POST checks its CSRF token, then the
role the API would demand for the same action (``domain/roles.NEEDED``), then calls one service.
A service's refusal (Refused, BadInput, ...) is shown on the page with its message, with the
HTTP status the API would answer. Pages: sign-in, contacts, a contact, plus the send box,
settings, audit and import of ``console_admin``.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from smsconsent import services
from smsconsent.errors import BadInput, NotFound, SmsConsentError
from smsconsent.services.apikeys import authenticate
from smsconsent.web import console_admin
from smsconsent.web.auth import store_of
from smsconsent.web.console_session import LOGIN, ConsoleRoute, load, render, save
from smsconsent.web.errors import status_of

router = APIRouter(prefix="/console", include_in_schema=False, route_class=ConsoleRoute)
router.include_router(console_admin.router)

ACTIONS = ("opt-out", "opt-in", "block", "unblock", "subscribe", "unsubscribe")
# What an action's redirect may announce (``?done=``); any other value is not echoed back, so a
# crafted link cannot put words of its own on the page.
DONE = frozenset(f"{pre}{verb}" for pre in ("", "already_") for verb in (
    "opted_out", "opted_in", "blocked", "unblocked", "subscribed", "unsubscribed"))
TIMELINE = 200


def redirect(request: Request, to: str, session: Any = None) -> Response:
    response = RedirectResponse(to, status_code=303)
    return save(request, response, session) if session is not None else response


def contact_url(phone: str) -> str:
    return f"/console/contacts/{quote(phone, safe='')}"


@router.get("")
def home() -> Response:
    return RedirectResponse("/console/contacts", status_code=303)


@router.get("/static/console.css")
def stylesheet() -> Response:
    css = files("smsconsent.web").joinpath("static/console.css").read_text()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


# -- signing in and out ----------------------------------------------------------------------

@router.get("/login")
def login_page(request: Request) -> Response:
    session = load(request)
    if session.principal is not None:
        return redirect(request, "/console/contacts", session)
    return render(request, session, "login.html")


@router.post("/login")
def login(request: Request, key: str = Form(""), csrf: str = Form("")) -> Response:
    session = load(request)
    try:
        session.check_csrf(csrf)
        principal = authenticate(store_of(request), key)
    except SmsConsentError as exc:
        return render(request, session, "login.html", status=status_of(exc), error=exc.message)
    session.sign_in(key.strip(), principal)
    return redirect(request, "/console/contacts", session)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    session = load(request)
    if session.principal is None:  # already out (expired, revoked, signed out elsewhere)
        return redirect(request, LOGIN, session)
    try:
        session.check_csrf(csrf)
    except SmsConsentError as exc:  # a stale tab: say so on a page, still signed in
        return render(request, session, "message.html", status=status_of(exc),
                      error=exc.message)
    session.sign_out()
    return redirect(request, LOGIN, session)


# -- contacts --------------------------------------------------------------------------------

@router.get("/contacts")
def contacts(request: Request, q: str = "", status: str = "", list_name: str = Query("",
             alias="list"), page: int = Query(1, ge=1, le=100_000)) -> Response:
    session = load(request)
    who = session.needs("read")
    blocked = True if status == "blocked" else None
    wanted = status if status in services.queries.CONTACT_STATUSES else None
    found = services.list_contacts(store_of(request), who.workspace_name, status=wanted,
                                   blocked=blocked, list_name=list_name or None, q=q or None,
                                   page=page)
    lists = services.show_workspace(store_of(request), who.workspace_name)["lists"]
    filters = {"q": q, "status": status, "list": list_name}
    # The search reads digits only: a name typed in would silently match everyone.
    ignored = bool(q.strip()) and not any(ch in "0123456789" for ch in q)
    return render(request, session, "contacts.html", found=found, lists=lists,
                  filters=filters, contact_url=contact_url,
                  notice="The search is by number and this one holds no digits: showing "
                         "every contact." if ignored else None,
                  query=lambda p: "&".join(f"{k}={quote(str(v))}" for k, v in
                                           {**filters, "page": p}.items() if v))


def _contact_page(request: Request, session: Any, number: str, status: int = 200,
                  **extra: Any) -> Response:
    who = session.needs("read")
    store = store_of(request)
    state = services.status(store, who.workspace_name, number)
    if not state["known"]:
        raise NotFound(f"{state['contact']} is not a contact of this workspace",
                       code="unknown_contact")
    events = services.history(store, who.workspace_name, number, limit=TIMELINE)
    shown = services.show_workspace(store, who.workspace_name)
    outs = [(k, c) for k, c in sorted(state["consents"].items()) if c["status"] == "opted_out"]
    return render(request, session, "contact.html", status=status, state=state, outs=outs,
                  events=events["events"], more=events["next_after"], lists=shown["lists"],
                  numbers=shown["numbers"], url=contact_url(state["contact"]), **extra)


@router.get("/contacts/{number}")
def contact(request: Request, number: str, done: str = "") -> Response:
    session = load(request)
    try:
        notice = None
        if done:
            notice = f"Done: {done.replace('_', ' ')}." if done in DONE else "Done."
        return _contact_page(request, session, number, notice=notice)
    except SmsConsentError as exc:
        return render(request, session, "message.html", status=status_of(exc),
                      error=exc.message)


@router.post("/contacts/{number}/{action}")
def act(request: Request, number: str, action: str, csrf: str = Form(""),
        evidence: str = Form(""), confirm: str = Form(""), list_name: str = Form("",
        alias="list")) -> Response:
    """One consent action on a contact, confirmed, as the role allows; refusals are shown."""
    session = load(request)
    if action not in ACTIONS:
        raise NotFound(f"no console action {action!r}", code="not_found")
    try:
        session.check_csrf(csrf)
        who = session.needs("opt_out" if action == "unsubscribe" else action.replace("-", "_"))
        if confirm != "yes":
            raise BadInput("tick the box to confirm the action first",
                                         code="not_confirmed")
        store, ws, by = store_of(request), who.workspace_name, who.key_id
        proof = evidence or None
        if action == "opt-out":
            result = services.opt_out(store, ws, number, by=by, evidence=proof)
        elif action == "opt-in":
            result = services.opt_in(store, ws, number, by=by, evidence=proof)
        elif action == "block":
            result = services.block(store, ws, number, by=by, evidence=proof)
        elif action == "unblock":
            result = services.unblock(store, ws, number, by=by, evidence=proof)
        elif action == "subscribe":
            result = services.subscribe(store, ws, list_name, number, evidence=proof, by=by)
        else:
            result = services.unsubscribe(store, ws, list_name, number, evidence=proof, by=by)
    except SmsConsentError as exc:
        if session.principal is None:
            raise
        try:
            return _contact_page(request, session, number, status=status_of(exc),
                                 error=exc.message, refused_action=action)
        except SmsConsentError:  # no page to show it on (a malformed number): say it alone
            return render(request, session, "message.html", status=status_of(exc),
                          error=exc.message)
    return redirect(request, f"{contact_url(result['contact'])}?done={result['action']}",
                    session)
