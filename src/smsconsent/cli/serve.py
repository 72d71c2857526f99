"""Commands of the HTTP service: ``serve``, API keys, provider secrets, outbox delivery."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from typing import Any

import typer

from smsconsent.cli.admin import workspace_app
from smsconsent.cli.app import app
from smsconsent.cli.common import FormatOption, emit, os_user, run, store_for
from smsconsent.domain.events import agent
from smsconsent.services import Store, apikeys
from smsconsent.services.workspaces import secrets_status, workspace_secrets
from smsconsent.settings import DEFAULT_TELNYX_API, Settings
from smsconsent.storage.database import ensure_schema, make_engine

apikey_app = typer.Typer(help="API keys of a workspace (for the HTTP service).",
                         no_args_is_help=True)
outbox_app = typer.Typer(help="Replies owed through a provider's API (Telnyx).",
                         no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
app.add_typer(outbox_app, name="outbox")

MAX_WORKERS = 64

TELNYX_API = typer.Option(DEFAULT_TELNYX_API, "--telnyx-api-base",
                          envvar="SMSCONSENT_TELNYX_API_BASE",
                          help="Base URL of the Telnyx API (replies are POSTed to /v2/messages).")


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    public_url: str = typer.Option(
        None, "--public-url", envvar="SMSCONSENT_PUBLIC_URL",
        help="The URL Twilio calls (e.g. https://sms.example.com); needed behind a proxy for "
        "Twilio signatures. Default: the request's own URL."),
    telnyx_api_base: str = TELNYX_API,
    max_body: int = typer.Option(65536, "--max-body", help="Largest request body, in bytes."),
    max_upload: int = typer.Option(50 * 1024 * 1024, "--max-upload",
                                   help="Largest CSV upload (imports, filter), in bytes."),
    outbox_interval: float = typer.Option(2.0, "--outbox-interval",
                                          help="Seconds between outbox delivery passes."),
    outbox_backoff: float = typer.Option(5.0, "--outbox-backoff",
                                         help="First retry delay (doubles up to an hour)."),
    outbox_worker: bool = typer.Option(True, "--outbox-worker/--no-outbox-worker",
                                       help="Deliver the outbox in the background."),
    console_secret: str = typer.Option(
        None, "--console-secret", envvar="SMSCONSENT_CONSOLE_SECRET",
        help="Signs the web console's session cookies (at least 16 characters). Default: a "
        "random one per process, so sign-ins end when the server restarts."),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log",
                                    help="Log every request (off: /metrics counts them)."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=MAX_WORKERS,
        help="Server processes sharing the port (one core each, at most "
        f"{MAX_WORKERS}). They share nothing but the database, so every guarantee holds "
        "across them; /metrics counts per process."),
) -> None:
    """Run the HTTP service (REST API, webhooks, /metrics) on --db.

    Refuses an out-of-date schema (run `smsconsent db upgrade`); a new database is built.

    Example: smsconsent --db sqlite:///sms.db serve --port 8000 --public-url
    https://sms.example.com

    Example, one process per core: smsconsent --db sqlite:///sms.db serve --workers 2
    """
    import uvicorn

    from smsconsent.web.app import SETTINGS_VARIABLE, create_app, tune_process

    settings = run(lambda: Settings(
        db_url=ctx.obj.db, public_url=public_url, telnyx_api_base=telnyx_api_base,
        max_body=max_body, max_upload=max_upload, outbox_worker=outbox_worker,
        outbox_interval=outbox_interval, outbox_backoff=outbox_backoff,
        console_secret=console_secret))
    engine = run(lambda: make_engine(settings.db_url))
    run(lambda: ensure_schema(engine))
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info",
                               "proxy_headers": False, "access_log": access_log}
    if workers == 1:
        tune_process()
        uvicorn.run(create_app(settings, store=Store(engine)), **options)
        return
    engine.dispose()
    if settings.console_secret is None:  # one secret for all, or a sign-in works in one only
        settings = replace(settings, console_secret=secrets.token_urlsafe(32))
    # The workers are new interpreters (spawned, never forked): they read the settings from
    # the environment this process hands down, which only its own user can read.
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    uvicorn.run("smsconsent.web.app:app_from_environment", factory=True, workers=workers,
                **options)


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="owner, manager or member."),
    label: str = typer.Option(None, "--label", help="What the key is for."),
    fmt: str = FormatOption,
) -> None:
    """Make an API key for the workspace (--workspace); prints it once, only a hash is kept.

    Example: smsconsent --workspace acme apikey create --role manager --label "web app"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: apikeys.create_api_key(store, ctx.obj.workspace, role, label=label,
                                                  actor=agent(os_user()))), fmt)


@apikey_app.command("list")
def apikey_list(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """List the workspace's keys: ids, roles, labels (never the keys).

    Example: smsconsent --workspace acme apikey list
    """
    store = run(lambda: store_for(ctx))
    emit({"keys": run(lambda: apikeys.list_api_keys(store, ctx.obj.workspace))}, fmt)


@apikey_app.command("revoke")
def apikey_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="The key id."),
                  fmt: str = FormatOption) -> None:
    """Revoke a key by its id (the part after ``sk_``).

    Example: smsconsent --workspace acme apikey revoke 3f2a9c0d1e4b5a6f
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: apikeys.revoke_api_key(store, ctx.obj.workspace, key_id,
                                                  actor=agent(os_user()))), fmt)


@workspace_app.command("secrets")
def workspace_secrets_cmd(ctx: typer.Context,
                          name: str = typer.Argument(None, help="Workspace name."),
                          fmt: str = FormatOption) -> None:
    """Show which provider secrets are set ("set"), never their values.

    Set them with `smsconsent workspace set NAME --twilio-auth-token T --telnyx-public-key K
    --telnyx-api-key A`.

    Example: smsconsent workspace secrets acme
    """
    store = run(lambda: store_for(ctx))
    workspace = name or ctx.obj.workspace
    emit({"workspace": workspace,
          "secrets": secrets_status(run(lambda: workspace_secrets(store, workspace)))}, fmt)


@outbox_app.command("deliver")
def outbox_deliver(ctx: typer.Context, telnyx_api_base: str = TELNYX_API,
                   fmt: str = FormatOption) -> None:
    """Deliver the replies that are due, once (`serve` does this in the background).

    Example: smsconsent outbox deliver
    """
    import httpx

    from smsconsent.outbox_worker import deliver_once

    store = run(lambda: store_for(ctx))
    settings = run(lambda: Settings(db_url=ctx.obj.db, telnyx_api_base=telnyx_api_base))
    with httpx.Client(timeout=settings.outbox_timeout) as client:
        emit(deliver_once(store, settings, client).to_dict(), fmt)
