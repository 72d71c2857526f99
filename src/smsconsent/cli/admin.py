"""Commands that set things up: workspaces, numbers, contact lists, the database schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from smsconsent import services
from smsconsent.cli.app import app
from smsconsent.cli.classify import load_policy_file
from smsconsent.cli.common import FormatOption, emit, os_user, run, store_for
from smsconsent.domain.events import agent
from smsconsent.storage import database

workspace_app = typer.Typer(help="Create and change workspaces (one per business).",
                            no_args_is_help=True)
number_app = typer.Typer(help="Sending numbers of a workspace.", no_args_is_help=True)
list_app = typer.Typer(help="Contact lists and their opt-out keywords.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(number_app, name="number")
app.add_typer(list_app, name="list")
app.add_typer(db_app, name="db")

SCOPE = typer.Option(None, "--scope", help="Opt-out scope: workspace (default), campaign, number.")
MATCHING = typer.Option(None, "--matching", help="Keyword matching: standard (default) or strict.")
HELP_TEXT = typer.Option(None, "--help-text", help="HELP reply; must hold the business name, a "
                         "contact line, 'Msg&Data rates may apply' and how to opt out.")
STOP_TEXT = typer.Option(None, "--stop-text", help="STOP confirmation (no marketing).")
START_TEXT = typer.Option(None, "--start-text", help="START confirmation.")
KEYWORDS = typer.Option(None, "--keywords", help="TOML/JSON file of the workspace's own keyword "
                        "sets and phrases (format: docs/keywords.md), as `classify --keywords`.")


def _keywords(path: Path | None) -> dict[str, Any] | None:
    return None if path is None else load_policy_file(path).to_dict()
SECRET_HELP = " Stored, never printed; an empty value removes it."


@workspace_app.command("create")
def workspace_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Workspace name (letters, digits, - _ .)."),
    business_name: str = typer.Option(..., "--business-name", help="Business name for replies."),
    contact: str = typer.Option(..., "--contact", help="Contact line (phone, email or web)."),
    region: str = typer.Option("US", "--region", help="Region for national numbers."),
    scope: str = SCOPE,
    matching: str = MATCHING,
    reopt_on_message: bool = typer.Option(False, "--reopt-on-message",
                                          help="Any new inbound text opts a contact back in."),
    essential_after_stop: bool = typer.Option(
        False, "--essential-after-stop", help="Let transactional messages go after STOP."),
    help_text: str = HELP_TEXT,
    stop_text: str = STOP_TEXT,
    start_text: str = START_TEXT,
    keywords: Path = KEYWORDS,
    fmt: str = FormatOption,
) -> None:
    """Create a workspace (a business).

    Example: smsconsent workspace create acme --business-name "Acme Jobs" --contact
    "help@acme.test or +1 555 010 0000"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.create_workspace(
        store, name, business_name=business_name, contact=contact, region=region, scope=scope,
        matching=matching, reopt_on_message=reopt_on_message,
        essential_after_stop=essential_after_stop, help_text=help_text, stop_text=stop_text,
        start_text=start_text, keywords=_keywords(keywords))), fmt)


@workspace_app.command("set")
def workspace_set(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Workspace name."),
    business_name: str = typer.Option(None, "--business-name"),
    contact: str = typer.Option(None, "--contact"),
    scope: str = SCOPE,
    matching: str = MATCHING,
    reopt_on_message: bool = typer.Option(None, "--reopt-on-message/--no-reopt-on-message"),
    essential_after_stop: bool = typer.Option(
        None, "--essential-after-stop/--no-essential-after-stop"),
    help_text: str = HELP_TEXT,
    stop_text: str = STOP_TEXT,
    start_text: str = START_TEXT,
    twilio_auth_token: str = typer.Option(
        None, "--twilio-auth-token", help="Twilio auth token (checks webhook signatures)."
        + SECRET_HELP),
    telnyx_public_key: str = typer.Option(
        None, "--telnyx-public-key", help="Telnyx public key, base64 (checks webhook "
        "signatures)." + SECRET_HELP),
    telnyx_api_key: str = typer.Option(
        None, "--telnyx-api-key", help="Telnyx API key (sends replies)." + SECRET_HELP),
    keywords: Path = KEYWORDS,
    fmt: str = FormatOption,
) -> None:
    """Change a workspace; only the options given change, with the same checks as create.

    Provider secrets are stored apart from the ledger and shown only as "set".

    Example: smsconsent workspace set acme --scope campaign --twilio-auth-token "$TOKEN"
    """
    store = run(lambda: store_for(ctx))
    secrets = {"twilio_auth_token": twilio_auth_token, "telnyx_public_key": telnyx_public_key,
               "telnyx_api_key": telnyx_api_key}
    changes: dict[str, Any] = {"business_name": business_name, "contact": contact, "scope": scope,
               "matching": matching, "reopt_on_message": reopt_on_message,
               "essential_after_stop": essential_after_stop, "help_text": help_text,
               "stop_text": stop_text, "start_text": start_text,
               "keywords": _keywords(keywords)}
    result: dict[str, Any] = {}
    if any(v is not None for v in secrets.values()):
        result = run(lambda: services.set_secrets(store, name, actor=agent(os_user()), **secrets))
        if all(v is None for v in changes.values()):
            emit(run(lambda: services.show_workspace(store, name)), fmt)
            return
    shown = run(lambda: services.update_workspace(store, name, **changes))
    emit({**shown, **({"secrets": result["secrets"]} if result else {})}, fmt)


@workspace_app.command("show")
def workspace_show(ctx: typer.Context, name: str = typer.Argument(None, help="Workspace name."),
                   fmt: str = FormatOption) -> None:
    """Show a workspace: policy, templates, numbers, lists.

    Example: smsconsent workspace show acme
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.show_workspace(store, name or ctx.obj.workspace)), fmt)


@number_app.command("add")
def number_add(
    ctx: typer.Context,
    number: str = typer.Argument(..., help="E.164 number (or a short code)."),
    campaign: str = typer.Option(None, "--campaign", help="A2P campaign id."),
    fmt: str = FormatOption,
) -> None:
    """Add a sending number to the workspace (--workspace), optionally in a campaign.

    Example: smsconsent --workspace acme number add +15557654321 --campaign C123
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.add_number(store, ctx.obj.workspace, number,
                                         campaign=campaign)), fmt)


@list_app.command("add")
def list_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="List name."),
    keyword: str = typer.Option(None, "--keyword", help="Keyword that leaves this list only."),
    fmt: str = FormatOption,
) -> None:
    """Create a contact list; its keyword (e.g. OPTOUT) leaves that list only (seed 002).

    Example: smsconsent list add deals --keyword "STOP DEALS"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.add_list(store, ctx.obj.workspace, name, keyword=keyword)), fmt)


@list_app.command("subscribe")
def list_subscribe(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="List name."),
    contact: str = typer.Argument(..., help="Contact number."),
    evidence: str = typer.Option(..., "--evidence", help="What proves the contact joined."),
    by: str = typer.Option("cli", "--by", help="Who records it."),
    fmt: str = FormatOption,
) -> None:
    """Subscribe a contact to a list, with evidence (it lets marketing to the list through).

    Example: smsconsent list subscribe deals +15551234567 --evidence "keyword JOIN 2026-11-20"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.subscribe(store, ctx.obj.workspace, name, contact,
                                        evidence=evidence, by=by)), fmt)


@list_app.command("unsubscribe")
def list_unsubscribe(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="List name."),
    contact: str = typer.Argument(..., help="Contact number."),
    evidence: str = typer.Option(None, "--evidence", help="Why (e.g. the contact asked)."),
    by: str = typer.Option("cli", "--by", help="Who records it."),
    fmt: str = FormatOption,
) -> None:
    """Take a contact off a list (an agent's list opt-out); other lists and consent stay.

    Example: smsconsent list unsubscribe deals +15551234567 --evidence "asked by phone"
    """
    store = run(lambda: store_for(ctx))
    emit(run(lambda: services.unsubscribe(store, ctx.obj.workspace, name, contact,
                                          by=by, evidence=evidence)), fmt)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context,
               revision: str = typer.Option("head", "--revision", help="Target revision.")
               ) -> None:
    """Apply the schema migrations (needed before `serve` on an existing database).

    Example: smsconsent --db postgresql+psycopg://localhost/sms db upgrade
    """
    engine = run(lambda: database.make_engine(ctx.obj.db))
    run(lambda: database.upgrade(engine, revision))
    emit({"revision": database.current_revision(engine), "head": database.head_revision()})


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's schema revision and the one this smsconsent needs.

    Example: smsconsent db current
    """
    engine = run(lambda: database.make_engine(ctx.obj.db))
    emit({"revision": run(lambda: database.current_revision(engine)),
          "head": database.head_revision()})


@db_app.command("downgrade")
def db_downgrade(ctx: typer.Context,
                 revision: str = typer.Option(..., "--revision",
                                              help="Target revision (`base` empties the schema).")
                 ) -> None:
    """Undo schema migrations down to --revision, in one transaction (back up first).

    Example: smsconsent db downgrade --revision 0001
    """
    engine = run(lambda: database.make_engine(ctx.obj.db))
    run(lambda: database.downgrade(engine, revision))
    emit({"revision": database.current_revision(engine), "head": database.head_revision()})
