"""The composition root of the HTTP service: ``create_app(settings)`` builds everything.

Nothing happens at import. Other routers join through ``OPTIONAL_ROUTERS``: a module listed
there that exists (the web console, say) is imported and its ``router`` included.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from smsconsent import __version__
from smsconsent.outbox_worker import OutboxWorker
from smsconsent.services import Store
from smsconsent.services.group_commit import GroupCommit
from smsconsent.services.pinned import PinnedStore
from smsconsent.settings import Settings
from smsconsent.storage.database import make_engine
from smsconsent.web import bulk, errors, rest, webhooks
from smsconsent.web.fastpath import FastRoutes
from smsconsent.web.limits import BodyLimitMiddleware
from smsconsent.web.metrics import LatencyMiddleware, Metrics
from smsconsent.web.shared_reads import SharedReads

# Routers included when their module is present; each module exposes ``router``.
OPTIONAL_ROUTERS = ("smsconsent.web.console",)

DESCRIPTION = """SMS consent and opt-out engine over HTTP.

Authenticate with an API key of a workspace: `Authorization: Bearer sk_...`
(`smsconsent apikey create --role owner|manager|member`). Every error has the shape
`{"error": {"code": "...", "message": "..."}}`. See docs/http.md.
"""

ops = APIRouter(tags=["operations"])


@ops.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Liveness and database reachability."""
    store: Store = request.app.state.store

    def ping() -> None:
        with store.engine.connect() as conn:
            conn.execute(text("select 1"))

    await run_in_threadpool(ping)
    return {"status": "ok"}


@ops.get("/metrics", response_class=Response,
         responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: inbound by intent, gate decisions by reason, request latency."""
    return Response(request.app.state.metrics.render(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


def include_optional(app: FastAPI, modules: tuple[str, ...] = OPTIONAL_ROUTERS) -> None:
    for name in modules:
        if importlib.util.find_spec(name) is not None:
            app.include_router(importlib.import_module(name).router)


SETTINGS_VARIABLE = "SMSCONSENT_SERVE_SETTINGS"
"""Where ``serve --workers N`` hands its settings to the worker processes (Settings.to_json)."""


def tune_process() -> None:
    """Process-wide settings of a server process.

    Threads (the group commit, the outbox worker, sync routes) hand the GIL back and forth
    around every database call; the default 5 ms switch interval let a thread holding the
    SQLite writer wait that long for it.
    """
    sys.setswitchinterval(0.0005)


def app_from_environment() -> FastAPI:
    """The app of one ``serve --workers N`` process, from the settings ``serve`` handed down."""
    tune_process()
    return create_app(Settings.from_json(os.environ[SETTINGS_VARIABLE]))


class App(FastAPI):
    """The service's FastAPI app, with what every request passes through in front of
    FastAPI's own stack: the latency metric, the body limit, then the fast routes
    (web/fastpath.py), which hand everything they do not answer to FastAPI.

    In front, not among FastAPI's middlewares, so that a hot route's request skips FastAPI's
    outer layers (its telemetry check, the server-error and body-size layers), a cost of
    every request that no answer depends on: the fast routes answer an unexpected error with
    the app's own 500 handler as FastAPI's server-error layer would (web/fastpath.py). The
    one thing they skip is FastAPI's OpenTelemetry instrumentation, when a process
    configures it: their requests are counted by the latency metric only.
    """

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # as Starlette does first: routes and handlers read request.app
        await self.front(scope, receive, send)

    async def fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own stack: middlewares, exception handlers, routes."""
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, store: Store | None = None,
               fast_routes: bool = True) -> App:
    """The FastAPI app on ``settings``; the outbox worker runs while the app does.

    ``store`` lets a caller that already opened (and checked) the database hand it over.
    ``fast_routes=False`` leaves the hot routes to FastAPI alone (web/fastpath.py), for the
    tests proving both answer alike.
    """
    store = store or Store(make_engine(settings.db_url))
    loop_store = PinnedStore(make_engine(store.engine.url.render_as_string(hide_password=False),
                                         connections=1), store.clock)
    app_metrics = Metrics()
    worker = OutboxWorker(store, settings, app_metrics) if settings.outbox_worker else None
    group_commit = GroupCommit(store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        group_commit.start()
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop)
            await run_in_threadpool(group_commit.stop)
            store.engine.dispose()
            loop_store.close()
            loop_store.engine.dispose()

    app = App(title="smsconsent", version=__version__, description=DESCRIPTION,
              lifespan=lifespan)
    app.state.settings, app.state.store, app.state.metrics = settings, store, app_metrics
    app.state.loop_store, app.state.group_commit = loop_store, group_commit
    app.state.shared_reads = SharedReads(loop_store)
    errors.install(app)
    app.include_router(ops)
    for router in (rest.router, bulk.router, webhooks.router):
        app.include_router(router)
    include_optional(app)
    inner: ASGIApp = FastRoutes(app.fastapi, app) if fast_routes else app.fastapi
    app.front = LatencyMiddleware(
        BodyLimitMiddleware(inner, limit=settings.max_body, upload_limit=settings.max_upload,
                            upload_paths=bulk.UPLOAD_PATHS),
        metrics=app_metrics)
    return app

