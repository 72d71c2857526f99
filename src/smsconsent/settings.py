"""The one settings object of the HTTP service, built by the composition root (``serve``).

It refuses values that cannot work and keeps the database password out of ``repr`` (logs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smsconsent.errors import BadInput

DEFAULT_TELNYX_API = "https://api.telnyx.com"


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput(f"{what} must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True, repr=False)
class Settings:
    """``public_url``: the address Twilio calls (for its signature), when behind a proxy.
    ``max_body``: the largest request body accepted, in bytes; ``max_upload``: the same for
    the CSV upload routes (imports, filter). ``outbox_*``: how often the
    delivery worker looks for due replies, the first retry delay (doubling up to an hour),
    and how long a claimed row is hidden from other workers. ``console_secret``: signs the
    web console's session cookies; when unset each app makes a random one (sessions then end
    with the process).
    """

    db_url: str
    public_url: str | None = None
    telnyx_api_base: str = DEFAULT_TELNYX_API
    max_body: int = 64 * 1024
    max_upload: int = 50 * 1024 * 1024
    telnyx_replay_window: int = 300
    outbox_worker: bool = True
    outbox_interval: float = 2.0
    outbox_backoff: float = 5.0
    outbox_lease: float = 60.0
    outbox_timeout: float = 10.0
    console_secret: str | None = None

    def __post_init__(self) -> None:
        if not self.db_url:
            raise BadInput("a database URL is required")
        try:
            make_url(self.db_url)
        except ArgumentError:
            raise BadInput("not a database URL") from None
        if self.public_url is not None:
            object.__setattr__(self, "public_url", _http_url(self.public_url, "--public-url"))
        object.__setattr__(self, "telnyx_api_base",
                           _http_url(self.telnyx_api_base, "--telnyx-api-base"))
        if not 1024 <= self.max_body <= 16 * 1024 * 1024:
            raise BadInput("the body size limit must be between 1 KiB and 16 MiB")
        if not 1024 <= self.max_upload <= 1024 * 1024 * 1024:
            raise BadInput("the upload size limit must be between 1 KiB and 1 GiB")
        for name in ("outbox_interval", "outbox_backoff", "outbox_lease", "outbox_timeout"):
            if not 0 < getattr(self, name) <= 86400:
                raise BadInput(f"{name} must be a positive number of seconds")
        if self.console_secret is not None and len(self.console_secret) < 16:
            raise BadInput("the console secret must be at least 16 characters")
        if self.telnyx_replay_window < 1:
            raise BadInput("the replay window must be at least one second")

    def to_json(self) -> str:
        """Every field, the secrets included: for handing to ``serve``'s worker processes."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def __repr__(self) -> str:
        shown = make_url(self.db_url).render_as_string(hide_password=True)
        return (f"Settings(db_url={shown!r}, public_url={self.public_url!r}, "
                f"telnyx_api_base={self.telnyx_api_base!r}, max_body={self.max_body}, "
                f"max_upload={self.max_upload})")

    __str__ = __repr__
