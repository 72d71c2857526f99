"""The console's sign-in: one signed cookie holding the API key used to sign in and a CSRF token.

The key is checked again on every request (``apikeys.authenticate``), so revoking it ends the
session at once. The cookie is signed with itsdangerous (tamper-proof, not secret: it holds
the key its own browser typed in), HttpOnly and SameSite=Strict; every POST form must also echo
the cookie's CSRF token. The signing secret comes from the settings, or is made per app.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, PackageLoader, StrictUndefined

from smsconsent.domain.roles import NEEDED, may
from smsconsent.errors import Forbidden, SmsConsentError, Unauthorized
from smsconsent.services.apikeys import Principal, authenticate
from smsconsent.web.auth import check_role, store_of
from smsconsent.web.errors import status_of

COOKIE = "smsconsent_console"
MAX_AGE = 8 * 3600
LOGIN = "/console/login"


@dataclass
class Session:
    """What the cookie says, and whether it must be (re)sent with the response."""

    csrf: str
    key: str | None = None
    principal: Principal | None = None
    changed: bool = False

    def signed_in(self) -> Principal:
        """The principal, or a redirect to the sign-in page."""
        if self.principal is None:
            raise HTTPException(303, "sign in first", headers={"Location": LOGIN})
        return self.principal

    def needs(self, action: str) -> Principal:
        """The principal when its role may do ``action`` (the API's own rule); else Forbidden."""
        return check_role(self.signed_in(), NEEDED[action])

    def check_csrf(self, token: str | None) -> None:
        if not token or not hmac.compare_digest(token, self.csrf):
            raise Forbidden("the form is stale or forged (CSRF token missing or wrong); "
                            "reload the page and try again", code="bad_csrf")

    def sign_in(self, key: str, principal: Principal) -> None:
        self.key, self.principal = key, principal
        self.csrf, self.changed = secrets.token_urlsafe(24), True

    def sign_out(self) -> None:
        self.key, self.principal = None, None
        self.csrf, self.changed = secrets.token_urlsafe(24), True


def _serializer(request: Request) -> URLSafeTimedSerializer:
    state = request.app.state
    found: URLSafeTimedSerializer | None = getattr(state, "console_serializer", None)
    if found is None:
        secret = getattr(state.settings, "console_secret", None) or secrets.token_urlsafe(32)
        found = URLSafeTimedSerializer(secret, salt="smsconsent-console")
        state.console_serializer = found
    return found


def load(request: Request) -> Session:
    """The request's session: a fresh anonymous one when the cookie is absent, bad or old."""
    data: Any = None
    raw = request.cookies.get(COOKIE)
    if raw:
        try:
            data = _serializer(request).loads(raw, max_age=MAX_AGE)
        except BadSignature:
            data = None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return Session(secrets.token_urlsafe(24), changed=True)
    session = Session(data["csrf"], key=data.get("key") or None)
    if session.key:
        try:
            session.principal = authenticate(store_of(request), session.key)
        except Unauthorized:
            session.key, session.changed = None, True
    return session


def _https(request: Request) -> bool:
    """Served over HTTPS, directly or behind the proxy named by ``--public-url``."""
    public = getattr(request.app.state.settings, "public_url", None) or ""
    return request.url.scheme == "https" or public.startswith("https://")


def save(request: Request, response: Response, session: Session) -> Response:
    """Send the cookie when the session changed."""
    if session.changed:
        value = _serializer(request).dumps({"csrf": session.csrf, "key": session.key})
        response.set_cookie(COOKIE, value, max_age=MAX_AGE, path="/console", httponly=True,
                            samesite="strict", secure=_https(request))
    return response


_templates = Jinja2Templates(env=Environment(
    loader=PackageLoader("smsconsent.web", "templates"), autoescape=True,
    undefined=StrictUndefined))


def render(request: Request, session: Session, name: str, status: int = 200,
           **context: Any) -> Response:
    """A page of the console, with what every page needs: the CSRF token and role checks."""
    who = session.principal

    def can(action: str) -> bool:
        return who is not None and may(who.role, action)

    page = _templates.TemplateResponse(request, name, {
        "who": who, "csrf": session.csrf, "can": can, "error": None, "notice": None,
        **context}, status_code=status)
    # Pages hold contacts' data: never kept by the browser, so Back after "Sign out" on a
    # shared computer asks the server again (and is sent to the sign-in page).
    page.headers["Cache-Control"] = "no-store"
    return save(request, page, session)


def _error_page(request: Request, exc: Exception) -> Response:
    """A refusal nothing else caught, as a console page with the status the API would give."""
    if isinstance(exc, SmsConsentError):
        status, message = status_of(exc), exc.message
    else:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        status = 422
        message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                            for e in errors) or "the request is not valid"
    return render(request, load(request), "message.html", status=status, error=message)


class ConsoleRoute(APIRoute):
    """A console route: a refusal (a role too low, a bad number or page in the URL) answers an
    HTML page with the reason (``role="alert"``), never the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (SmsConsentError, RequestValidationError) as exc:
                return await run_in_threadpool(_error_page, request, exc)

        return route
