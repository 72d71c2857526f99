"""API-key authentication and role checks, usable by any router (REST, console).

``require_role(Role.MANAGER)`` is a FastAPI dependency returning the caller's ``Principal``;
every query a route makes is then scoped to ``principal.workspace_name``.

The key is looked up on the event loop itself (``loop_store_of``): one indexed read that never
waits for a lock costs less than the hand-off to a worker thread and back, which was most of
a short request's time.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smsconsent.domain.roles import Role
from smsconsent.errors import Forbidden, Unauthorized
from smsconsent.services import Store
from smsconsent.services.apikeys import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sk_...`")

__all__ = ["Principal", "authenticate", "check_role", "current_principal", "loop_store_of",
           "require_role", "store_of"]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def loop_store_of(request: Request) -> Store:
    """The store for reads made on the event loop: its own single connection, so the loop
    never waits for a pooled connection held by a worker thread. Only for reads that take no
    lock (a read transaction never waits for the writer: WAL, or PostgreSQL's snapshots).
    """
    store: Store = request.app.state.loop_store
    return store


async def current_principal(request: Request,
                      credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                      ) -> Principal:
    """The principal of the request's bearer key; 401 without a valid one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an API key: Authorization: Bearer KEY", code="missing_key")
    return authenticate(loop_store_of(request), credentials.credentials)


def check_role(principal: Principal, role: Role) -> Principal:
    """``principal`` when its role is ``role`` or above; Forbidden (403) otherwise."""
    if not principal.role.allows(role):
        raise Forbidden(f"a {principal.role.value} key may not do this; it needs "
                        f"{role.value}", code="role_too_low")
    return principal


def require_role(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting keys of ``role`` or above; 403 for the others."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        return check_role(principal, role)

    return dependency
