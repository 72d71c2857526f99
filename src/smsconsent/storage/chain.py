"""The hash chain's arithmetic: the canonical JSON of an event's data and the hash of an event.

Pure functions, no I/O: the ledger, its bulk path (``fresh``) and the audit check all compute
hashes the same way from here, so there is one definition of what a hash covers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json import encoder
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of a workspace's first event


def _encoder(*, sort_keys: bool) -> Callable[[Any], str]:
    """``json.dumps(o, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)``.

    The same encoder ``json.dumps`` builds, so the same text byte for byte, without building
    it anew for every call: ``dumps`` makes a ``JSONEncoder`` and its ``iterencode`` makes the
    C encoder each time, Python work that cost more than the encoding itself (a webhook
    encodes five times). Only the C encoder is made per call, for its fresh circular-reference
    markers (an error part-way leaves its markers behind).
    """
    options = json.JSONEncoder(sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    make = getattr(encoder, "c_make_encoder", None)  # not in the stubs: _json's
    if make is None:  # an interpreter without the C accelerator
        return options.encode
    args = (options.default, encoder.encode_basestring, None, options.key_separator,
            options.item_separator, sort_keys, options.skipkeys, options.allow_nan)

    def encode(o: Any) -> str:
        if isinstance(o, str):
            return options.encode(o)
        return "".join(make({}, *args)(o, 0))

    return encode


_SORTED = _encoder(sort_keys=True)
_IN_ORDER = _encoder(sort_keys=False)


def canonical(data: dict[str, Any]) -> str:
    return _SORTED(data)


def hash_payload(prev_hash: str, seq: int, type_: str, contact: str | None, occurred_at: str,
                 recorded_at: str, actor: str, provider_id: str | None, data_json: str) -> str:
    """The text an event's hash is taken of: its stored fields and the previous hash."""
    return _IN_ORDER(
        [seq, type_, contact, occurred_at, recorded_at, actor, provider_id, data_json, prev_hash])


def event_hash(prev_hash: str, seq: int, type_: str, contact: str | None, occurred_at: str,
               recorded_at: str, actor: str, provider_id: str | None, data_json: str) -> str:
    payload = hash_payload(prev_hash, seq, type_, contact, occurred_at, recorded_at, actor,
                           provider_id, data_json)
    return hashlib.sha256(payload.encode()).hexdigest()
