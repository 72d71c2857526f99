"""The one error shape of the HTTP service, ``{"error": {"code", "message"}}``, and its statuses.

    400  the body is not well-formed (JSON, form)        malformed_json, malformed_form
    401  no, malformed or unknown API key                Unauthorized
    403  the key's role is too low; a bad signature      Forbidden
    404  unknown workspace, number, contact list, key    NotFound
    409  already exists, or a consent rule refuses      Conflict, Refused
    413  the body is larger than the limit               payload_too_large
    415  a JSON route was sent something else            unsupported_media_type
    422  well-formed but invalid values                  BadInput, request validation
    503  the database schema is out of date             SchemaOutOfDate
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from smsconsent.errors import (
    BadInput,
    Conflict,
    Forbidden,
    NotFound,
    Refused,
    SchemaOutOfDate,
    SmsConsentError,
    Unauthorized,
)

log = logging.getLogger("smsconsent.web")

MALFORMED = ("malformed_json", "malformed_form")
STATUSES: tuple[tuple[type[SmsConsentError], int], ...] = (
    (Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (Refused, 409), (Conflict, 409),
    (SchemaOutOfDate, 503), (BadInput, 422),
)
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error the service answers with."""

    error: ErrorDetail


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def status_of(error: SmsConsentError) -> int:
    if isinstance(error, BadInput) and error.code in MALFORMED:
        return 400
    for kind, status in STATUSES:
        if isinstance(error, kind):
            return status
    return 422


def domain_response(exc: SmsConsentError) -> JSONResponse:
    """The answer to a domain error, wherever it was raised (a route, web/fastpath.py)."""
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.message, headers)


def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SmsConsentError)
    return domain_response(exc)


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] if isinstance(loc, list | tuple) else []
    return ".".join(parts) or "body"


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "the body is not well-formed JSON")
    sent = request.headers.get("content-type", "")
    if request.method in ("POST", "PATCH", "PUT") and "json" not in sent.lower() and any(
            tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(415, "unsupported_media_type",
                              "send a JSON object with Content-Type: application/json")
    text = "; ".join(f"{_location(e.get('loc'))}: {e.get('msg')}" for e in errors[:10])
    return error_response(422, "invalid_request", text or "the request is not valid")


# FastAPI's answer to a body its parser raised on (not UTF-8, a number too long, nested too
# deep, a broken multipart form): the same 400 as any other body that is not well-formed.
UNPARSED = "There was an error parsing the body"


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and exc.detail == UNPARSED:
        if "json" in request.headers.get("content-type", "").lower():
            return error_response(400, "malformed_json", "the body is not well-formed JSON")
        return error_response(400, "malformed_form", "the body is not a well-formed form")
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return error_response(500, "internal", "an unexpected error; nothing was half-written")


def install(app: FastAPI) -> None:
    app.add_exception_handler(SmsConsentError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Malformed body"), (401, "No or unknown API key"),
        (403, "The key's role may not do this"), (404, "Unknown workspace, number or list"),
        (409, "Refused by a consent rule, or already exists"), (413, "Body too large"),
        (422, "Invalid values"))
}
