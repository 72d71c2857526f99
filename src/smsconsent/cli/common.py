"""What every command shares: opening the store, printing results, mapping errors to exits."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from smsconsent import services
from smsconsent.errors import Refused, SmsConsentError
from smsconsent.services import Store
from smsconsent.storage.database import ensure_schema, make_engine

T = TypeVar("T")

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT = 0, 1, 2

FormatOption = typer.Option("json", "--format", help="Output: json (default) or table.")

_stores: dict[str, Store] = {}


def store_for(ctx: typer.Context, *, create: bool = True) -> Store:
    """The store behind ``--db``, its schema checked (a new database is built)."""
    url = ctx.obj.db
    if url not in _stores:
        engine = make_engine(url)
        ensure_schema(engine, create_if_empty=create)
        _stores[url] = Store(engine)
    store = _stores[url]
    if not ctx.obj.workspace_given:
        ctx.obj.workspace = services.default_workspace(store, ctx.obj.workspace)
        ctx.obj.workspace_given = True
    return store


def fail(error: SmsConsentError) -> NoReturn:
    """Print the error as JSON on stderr and exit 1 (refused by a rule) or 2 (bad input)."""
    sys.stderr.write(json.dumps({"error": error.to_dict()}, ensure_ascii=False) + "\n")
    raise typer.Exit(EXIT_REFUSED if isinstance(error, Refused) else EXIT_BAD_INPUT)


def run(call: Callable[[], T]) -> T:
    try:
        return call()
    except SmsConsentError as error:
        fail(error)


def emit(result: Any, fmt: str = "json") -> None:
    if fmt == "table":
        _table(result)
    elif fmt == "json":
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=None) + "\n")
    else:
        fail(SmsConsentError(f"--format must be json or table, not {fmt!r}", code="bad_input"))


def _table(result: Any) -> None:
    console = Console(soft_wrap=True)
    rows = result.get("events") if isinstance(result, dict) else None
    if isinstance(rows, list):
        table = Table("seq", "occurred_at", "type", "actor", "data")
        for ev in rows:
            table.add_row(str(ev["seq"]), ev["occurred_at"], ev["type"], ev["actor"],
                          json.dumps(ev["data"], ensure_ascii=False)[:80])
        console.print(table)
        return
    table = Table("field", "value")
    for key, value in (result.items() if isinstance(result, dict) else [("result", result)]):
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(str(key), shown)
    console.print(table)


def os_user() -> str:
    """Who runs the command, for the ledger, when no --by is given."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers): say so plainly
        return "cli"
