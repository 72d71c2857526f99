"""The Typer application and the options every command shares."""

from __future__ import annotations

from dataclasses import dataclass

import typer

app = typer.Typer(
    name="smsconsent",
    help="SMS consent and opt-out engine: read STOP/START/HELP, keep the ledger, gate sends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass
class Globals:
    """Options given before the command: which database and which workspace."""

    db: str
    workspace: str
    workspace_given: bool = True


@app.callback()
def _globals(
    ctx: typer.Context,
    db: str = typer.Option(
        "sqlite:///smsconsent.db", "--db", envvar="SMSCONSENT_DB", help="Database URL."
    ),
    workspace: str = typer.Option(
        "default", "--workspace", envvar="SMSCONSENT_WORKSPACE", help="Workspace name."
    ),
) -> None:
    """SMS consent and opt-out engine.

    Example: smsconsent classify "Stop texting me please"
    """
    source = ctx.get_parameter_source("workspace")
    given = source is not None and source.name != "DEFAULT"
    ctx.obj = Globals(db=db, workspace=workspace, workspace_given=given)
