"""Every error smsconsent raises, in one tree; the edges map them to exit codes and HTTP statuses.

    SmsConsentError            base; ``code`` is a stable machine string
    ├── BadInput               the request itself is wrong (invalid phone, empty body, bad file)
    │   └── InvalidPhone
    ├── NotFound               an unknown workspace, number, contact or list
    ├── Conflict               the thing already exists, or belongs to someone else
    ├── Refused                a consent rule says no (opt-in without evidence, blocked contact)
    ├── Unauthorized           no or wrong credentials (HTTP only)
    ├── Forbidden              credentials lack the role for this action (HTTP only)
    └── SchemaOutOfDate        the database needs ``smsconsent db upgrade``
"""

from __future__ import annotations


class SmsConsentError(Exception):
    """Base of every smsconsent error; ``code`` is stable, ``message`` is for people."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class BadInput(SmsConsentError):
    code = "bad_input"


class InvalidPhone(BadInput):
    code = "invalid_phone"


class NotFound(SmsConsentError):
    code = "not_found"


class Conflict(SmsConsentError):
    code = "conflict"


class Refused(SmsConsentError):
    code = "refused"


class Unauthorized(SmsConsentError):
    code = "unauthorized"


class Forbidden(SmsConsentError):
    code = "forbidden"


class SchemaOutOfDate(SmsConsentError):
    code = "schema_out_of_date"
