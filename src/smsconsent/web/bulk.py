"""The bulk operations over HTTP: CSV imports, campaign filtering and exports.

The same service functions as ``smsconsent import``, ``filter`` and ``export``; only the
transport differs. Uploads are multipart (``file``), held by Starlette in a spooled temporary
file, and get the larger ``--max-upload`` body limit (``UPLOAD_PATHS``). Exports stream from
one read transaction, so their size is bounded by nothing but the ledger.

Rejected import rows come back in the JSON answer, the first ``REJECTS_SHOWN`` of them; the
``rejected`` count is always the full one. Filter results come back either as one JSON
document holding both CSVs, or (``?output=sendable|refused``) as a CSV download with the
counts in headers.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from smsconsent import services
from smsconsent.domain.roles import NEEDED, Role
from smsconsent.web.auth import Principal, require_role, store_of
from smsconsent.web.errors import ERROR_RESPONSES

UPLOAD_PATHS = ("/v1/imports/", "/v1/filter")
REJECTS_SHOWN = 1000
SPOOL_BYTES = 8 << 20  # filter outputs beyond this go to a temporary file
STREAM_CHUNK = 64 << 10
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES, tags=["bulk"])
member = Depends(require_role(Role.MEMBER))

UPLOAD = File(..., description="The CSV: a header row with a phone (number, mobile) column.")
BY = Form(None, description="Who imports, for the ledger (default: the API key's id).")


class FirstRows:
    """A rejects sink keeping the header and the first ``cap`` rows; the rest is dropped.

    ``csv.writer`` writes each row with one ``write`` call, so a call is a row.
    """

    def __init__(self, cap: int = REJECTS_SHOWN) -> None:
        self.cap, self.written = cap, 0
        self.lines: list[str] = []

    def write(self, text: str, /) -> int:
        if self.written <= self.cap:
            self.lines.append(text)
        self.written += 1
        return len(text)

    def rows(self) -> list[dict[str, Any]]:
        """Each kept reject as ``{"row": {column: value}, "reason", "detail"}``."""
        parsed = list(csv.reader(io.StringIO("".join(self.lines))))
        if not parsed:
            return []
        header = parsed[0][:-2]
        return [{"row": dict(zip(header, fields[:-2], strict=False)), "reason": fields[-2],
                 "detail": fields[-1]} for fields in parsed[1:]]


def _import_answer(summary: dict[str, Any], rejects: FirstRows) -> dict[str, Any]:
    summary.pop("rejects_file", None)
    shown = rejects.rows()
    return {**summary, "rejects": shown, "rejects_truncated": len(shown) < summary["rejected"]}


@router.post("/imports/opt-outs")
def import_opt_outs(request: Request, file: UploadFile = UPLOAD, by: str | None = BY,
                    who: Principal = Depends(require_role(NEEDED["import_opt_outs"]))
                    ) -> dict[str, Any]:
    """Import a CSV of opt-outs (``phone``; optional ``opted_out_at``, ``source``,
    ``evidence``): each new one is a ledger event with source ``import``. Idempotent.

    Any key may: opting a contact out is always allowed. Answers the counts and the first
    1000 rejected rows with ``reason`` and ``detail``.
    """
    rejects = FirstRows()
    summary = services.import_opt_outs(store_of(request), who.workspace_name, file.file,
                                       rejects, by=by or who.key_id,
                                       name=file.filename or "upload.csv")
    return _import_answer(summary, rejects)


@router.post("/imports/contacts")
def import_contacts(request: Request, file: UploadFile = UPLOAD, by: str | None = BY,
                    evidence: str | None = Form(None, description="Evidence for rows without "
                                                "their own; a row with none is rejected."),
                    who: Principal = Depends(require_role(NEEDED["import_contacts"]))
                    ) -> dict[str, Any]:
    """Import contacts with their consent evidence (``phone``; optional ``consent_type``,
    ``purpose``, ``evidence``, ``opted_in_at``, ``source``, ``list``); never over an opt-out.

    Needs a manager key: it opts contacts in. Answers as the opt-out import.
    """
    rejects = FirstRows()
    summary = services.import_contacts(store_of(request), who.workspace_name, file.file,
                                       rejects, by=by or who.key_id, evidence=evidence,
                                       name=file.filename or "upload.csv")
    return _import_answer(summary, rejects)


def _spool() -> IO[str]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8",
                                         newline="")


def _read_all(spool: IO[str]) -> str:
    spool.seek(0)
    return spool.read()


def _chunks_of(spool: IO[str]) -> Iterator[str]:
    """The spooled text in large pieces; closes it when done (or abandoned)."""
    try:
        spool.seek(0)
        while piece := spool.read(STREAM_CHUNK):
            yield piece
    finally:
        spool.close()


@router.post("/filter")
def filter_file(
    request: Request, file: UploadFile = UPLOAD,
    sender: str = Form(..., alias="from", description="Our sending number."),
    purpose: str = Form("marketing", description="marketing, informational or transactional."),
    list_name: str | None = Form(None, alias="list", description="The list the blast is for."),
    output: Literal["json", "sendable", "refused"] = Query(
        "json", description="json: the summary with both CSVs as strings; sendable or "
        "refused: that CSV alone, counts in X-Rows, X-Sendable, X-Refused headers."),
    who: Principal = member,
) -> Any:
    """Apply the send gate to a campaign file; records nothing (a check, not a send).

    Sendable rows keep every column with the number in E.164 under ``phone``; refused rows
    get ``reason`` and ``detail``. ``from`` must be a number of the key's workspace.
    """
    sendable, refused = _spool(), _spool()
    try:
        summary = services.filter_recipients(
            store_of(request), file.file, sendable, refused, sender=sender, purpose=purpose,
            list_name=list_name, name=file.filename or "recipients.csv",
            workspace=who.workspace_name)
    except BaseException:
        sendable.close()
        refused.close()
        raise
    for key in ("sendable_file", "refused_file"):
        summary.pop(key, None)
    if output == "json":
        try:
            return {**summary, "sendable_csv": _read_all(sendable),
                    "refused_csv": _read_all(refused)}
        finally:
            sendable.close()
            refused.close()
    wanted, other = (sendable, refused) if output == "sendable" else (refused, sendable)
    other.close()
    headers = {"X-Rows": str(summary["rows"]), "X-Sendable": str(summary["sendable"]),
               "X-Refused": str(summary["refused"]),
               "Content-Disposition": f'attachment; filename="{output}.csv"'}
    return StreamingResponse(_chunks_of(wanted), media_type=MEDIA["csv"], headers=headers)


def _grouped(lines: Iterable[str]) -> Iterator[str]:
    """Lines joined into pieces of about ``STREAM_CHUNK`` characters: fewer, larger writes."""
    piece: list[str] = []
    size = 0
    for line in lines:
        piece.append(line)
        size += len(line)
        if size >= STREAM_CHUNK:
            yield "".join(piece)
            piece, size = [], 0
    if piece:
        yield "".join(piece)


def _download(lines: Iterator[str], fmt: str, name: str) -> StreamingResponse:
    return StreamingResponse(_grouped(lines), media_type=MEDIA.get(fmt, "text/plain"),
                             headers={"Content-Disposition":
                                      f'attachment; filename="{name}.{fmt}"'})


SINCE = Query(None, description="Only from this time on (ISO 8601).")


@router.get("/exports/ledger", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}},
                             "description": "The events, one per line"}})
def export_ledger(request: Request, since: str | None = SINCE,
                  fmt: str = Query("jsonl", alias="format", description="jsonl or csv."),
                  who: Principal = member) -> StreamingResponse:
    """The workspace's ledger events in chain order, streamed (for auditors)."""
    lines = services.export_ledger(store_of(request), who.workspace_name, since=since, fmt=fmt)
    return _download(lines, fmt, "ledger")


@router.get("/exports/opt-outs", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}},
                             "description": "One opted-out contact per line"}})
def export_opt_outs(request: Request, since: str | None = SINCE,
                    fmt: str = Query("csv", alias="format", description="csv or jsonl."),
                    who: Principal = member) -> StreamingResponse:
    """Every contact opted out now, streamed; the CSV re-imports with /v1/imports/opt-outs."""
    lines = services.export_opt_outs(store_of(request), who.workspace_name, since=since,
                                     fmt=fmt)
    return _download(lines, fmt, "opt-outs")
