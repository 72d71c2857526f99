"""Free text a person or a file gives us (evidence, names, sources): what we refuse to store.

Apart from ``services.base`` so that an import's parser process checks its rows' texts
without loading the storage layer.
"""

from __future__ import annotations

import re

from smsconsent.errors import BadInput

_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def holds_binary(value: str) -> bool:
    """Whether ``value`` holds what ``check_text`` refuses: no name we store can."""
    return _BINARY.search(value) is not None


def check_text(value: str, what: str, limit: int) -> None:
    """Refuse a text longer than ``limit`` or holding binary or control characters (tabs
    and line breaks are text)."""
    if len(value) > limit:
        raise BadInput(f"{what} is {len(value)} characters; at most {limit}", code="too_large")
    if _BINARY.search(value):
        raise BadInput(f"{what} holds binary or control characters", code="bad_text")
