"""Bulk commands: import opt-outs and contacts, filter a campaign file, export for audits.

A progress bar (rows/s, ETA) goes to stderr when stderr is a terminal; the summary JSON goes to
stdout. Bad files exit 2 before anything is written; the summary lists every refused row's file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from smsconsent import csvio, services
from smsconsent.cli.app import app
from smsconsent.cli.common import emit, fail, os_user, run, store_for
from smsconsent.errors import BadInput

import_app = typer.Typer(help="Import opt-outs and contacts from another tool (CSV).",
                         no_args_is_help=True)
export_app = typer.Typer(help="Export the ledger or the opt-out list (CSV or JSON lines).",
                         no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

REJECTS = typer.Option(None, "--rejects", help="Where rejected rows go (default: "
                       "FILE.rejects.csv next to the input).")
IMPORT_BY = typer.Option(None, "--by", help="Who imports (default: the OS user), for the ledger.")


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


class Bar:
    """The rich progress bar behind ``csvio.Progress``; silent when stderr is no terminal."""

    def __init__(self, what: str) -> None:
        self.progress = Progress(
            TextColumn(what), BarColumn(), MofNCompleteColumn(), RowsPerSecond(),
            TimeRemainingColumn(), console=Console(stderr=True),
            disable=not sys.stderr.isatty(),
        )
        self.task = self.progress.add_task(what, total=None)

    def start(self, total: int) -> None:
        self.progress.update(self.task, total=total)

    def advance(self, rows: int) -> None:
        self.progress.advance(self.task, rows)


@contextlib.contextmanager
def _bar(what: str) -> Iterator[Bar]:
    bar = Bar(what)
    with bar.progress:
        yield bar


class _Output(csvio.LazyFile):
    """An output file, created on its first write; one that cannot be written (no such
    folder, a folder, no permission, a full disk) is bad input (exit 2, ``unwritable``)."""

    def write(self, text: str, /) -> int:
        try:
            return super().write(text)
        except OSError as exc:
            raise _unwritable(self.path, exc) from None


def _unwritable(path: Path, exc: OSError) -> BadInput:
    return BadInput(f"cannot write {path}: {exc.strerror or exc}", code="unwritable")


def _outputs(*paths: Path) -> Iterator[csvio.LazyFile]:
    return (_Output(p) for p in paths)


def _opened(file: Path, *outputs: Path) -> BinaryIO:
    """The input, opened, once the outputs are checked: the first write to an output empties
    its file, so one naming the input would lose it before a row is read (every row gone,
    exit 0), and two outputs in one file would mix (both ``same_file``); an output in no
    folder, or a folder, could not be written (``unwritable``). All exit 2, nothing written."""
    source = run(lambda: csvio.open_input(file))
    refusal = _refusal(file, outputs)
    if refusal is not None:
        source.close()
        fail(refusal)
    return source


def _refusal(file: Path, outputs: tuple[Path, ...]) -> BadInput | None:
    """What is wrong with ``outputs`` (see ``_opened``), or None."""
    for i, output in enumerate(outputs):
        if _same_file(output, file):
            return BadInput(f"{output} is the input file: name another file for the output",
                            code="same_file")
        if any(_same_file(output, other) for other in outputs[:i]):
            return BadInput(f"{output} is named for two outputs: name another file for one "
                            "of them", code="same_file")
        if output.is_dir() or not output.parent.is_dir():
            return BadInput(f"cannot write {output}: "
                            f"{'a folder' if output.is_dir() else 'no such folder'}",
                            code="unwritable")
    return None


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one does not exist (yet): the same if named the same
        return first.resolve() == second.resolve()


def _import(ctx: typer.Context, file: Path, rejects: Path | None, what: str,
            call: Callable[..., dict[str, Any]], **options: Any) -> None:
    store = run(lambda: store_for(ctx))
    rejects = rejects or file.with_name(file.name + ".rejects.csv")
    source = _opened(file, rejects)
    sink = _Output(rejects)
    try:
        with source, _bar(what) as bar:
            result = run(lambda: call(store, ctx.obj.workspace, source, sink, name=str(file),
                                      rejects_name=str(rejects), progress=bar, **options))
    finally:
        sink.close()
    emit(result)


@import_app.command("opt-outs")
def import_opt_outs(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV: phone (or number, mobile); optional "
                                "opted_out_at, source, evidence."),
    rejects: Path = REJECTS,
    by: str = IMPORT_BY,
) -> None:
    """Import opt-outs from another tool; every new one is a ledger event (source import).

    Idempotent: a contact already opted out is counted as unchanged. Rows that cannot be read
    go to the rejects file with reason and detail. Prints {"rows", "imported", "unchanged",
    "rejected", "rejects_file", "seconds"}.

    Example: smsconsent --workspace acme import opt-outs old-tool-optouts.csv
    """
    _import(ctx, file, rejects, "importing opt-outs", services.import_opt_outs,
            by=by or os_user())


@import_app.command("contacts")
def import_contacts(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV: phone; optional consent_type (express, "
                                "express_written, implied), purpose, evidence, opted_in_at, "
                                "source, list."),
    rejects: Path = REJECTS,
    evidence: str = typer.Option(None, "--evidence", help="Evidence for rows without their "
                                 "own (a row with none is rejected)."),
    by: str = IMPORT_BY,
) -> None:
    """Import contacts with their consent evidence; never over an opt-out.

    Marketing needs express_written consent with evidence; an opted-out or blocked contact's
    row is refused (reason opted_out, blocked), and so is the row of a contact who left its
    list (list_opted_out). Idempotent: re-importing changes nothing.

    Example: smsconsent import contacts candidates.csv --evidence "ATS apply form, 2025"
    """
    _import(ctx, file, rejects, "importing contacts", services.import_contacts,
            by=by or os_user(), evidence=evidence)


@app.command("filter")
def filter_file(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Recipients CSV: phone (or number, mobile) and any "
                                "merge-field columns, passed through."),
    sender: str = typer.Option(..., "--from", help="Our sending number."),
    purpose: str = typer.Option("marketing", "--purpose",
                                help="marketing (default), informational or transactional."),
    list_name: str = typer.Option(None, "--list", help="The contact list the blast is for."),
    output: Path = typer.Option(..., "-o", "--output", help="Where sendable rows go."),
    rejects: Path = typer.Option(None, "--rejects", help="Where refused rows go (default: "
                                 "FILE.refused.csv next to the input)."),
    processes: int = typer.Option(1, "--processes", min=1, max=2,
                                  help="2: judge a file of 300,000 to 1,000,000 lines in "
                                  "two processes (faster on two cores, more memory)."),
) -> None:
    """Apply the send gate to a whole campaign file; records nothing (a check, not a send).

    Sendable rows keep every column, with the number in E.164 under phone; refused rows get
    reason and detail. Prints the counts by reason. Exit 0 even when rows are refused.

    Example: smsconsent filter blast.csv --from +15557654321 --purpose marketing
    -o sendable.csv --rejects refused.csv
    """
    store = run(lambda: store_for(ctx))
    refused_path = rejects or file.with_name(file.name + ".refused.csv")
    source = _opened(file, output, refused_path)
    sendable, refused = _outputs(output, refused_path)
    try:
        with source, _bar("filtering") as bar:
            result = run(lambda: services.filter_recipients(
                store, source, sendable, refused, sender=sender, purpose=purpose,
                list_name=list_name, name=str(file), sendable_name=str(output),
                refused_name=str(refused_path), progress=bar,
                split_rows=services.SPLIT_ROWS if processes == 2 else None))
    finally:
        sendable.close()
        refused.close()
    emit(result)


SINCE = typer.Option(None, "--since", help="Only from this time on (ISO 8601).")
FORMAT = typer.Option(None, "--format", help="csv or jsonl.")
OUTPUT = typer.Option(None, "-o", "--output", help="Write here instead of stdout.")


def _export(lines: Callable[[], Iterator[str]], output: Path | None) -> None:
    stream = run(lines)
    target = run(lambda: _opened_output(output)) if output else sys.stdout
    try:
        for line in stream:
            target.write(line)
    finally:
        if output:
            target.close()


def _opened_output(output: Path) -> TextIO:
    try:
        return output.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise _unwritable(output, exc) from None


@export_app.command("ledger")
def export_ledger(ctx: typer.Context, since: str = SINCE, fmt: str = FORMAT,
                  output: Path = OUTPUT) -> None:
    """Export the workspace's ledger events in chain order (default JSON lines), streaming.

    Example: smsconsent export ledger --since 2026-01-01 --format csv -o ledger.csv
    """
    store = run(lambda: store_for(ctx))
    _export(lambda: services.export_ledger(store, ctx.obj.workspace, since=since,
                                           fmt=fmt or "jsonl"), output)


@export_app.command("opt-outs")
def export_opt_outs(ctx: typer.Context, since: str = SINCE, fmt: str = FORMAT,
                    output: Path = OUTPUT) -> None:
    """Export every opted-out contact (default CSV, re-importable with import opt-outs).

    Example: smsconsent export opt-outs -o optouts.csv
    """
    store = run(lambda: store_for(ctx))
    _export(lambda: services.export_opt_outs(store, ctx.obj.workspace, since=since,
                                             fmt=fmt or "csv"), output)
