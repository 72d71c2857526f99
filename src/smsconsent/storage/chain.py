"""The hash chain's arithmetic: the canonical JSON of an event's data and the hash of an event.

Pure functions, no I/O: the ledger, its bulk path (``fresh``) and the audit check all compute
hashes the same way from here, so there is one definition of what a hash covers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of a workspace's first event


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_payload(prev_hash: str, seq: int, type_: str, contact: str | None, occurred_at: str,
                 recorded_at: str, actor: str, provider_id: str | None, data_json: str) -> str:
    """The text an event's hash is taken of: its stored fields and the previous hash."""
    return json.dumps(
        [seq, type_, contact, occurred_at, recorded_at, actor, provider_id, data_json, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def event_hash(prev_hash: str, seq: int, type_: str, contact: str | None, occurred_at: str,
               recorded_at: str, actor: str, provider_id: str | None, data_json: str) -> str:
    payload = hash_payload(prev_hash, seq, type_, contact, occurred_at, recorded_at, actor,
                           provider_id, data_json)
    return hashlib.sha256(payload.encode()).hexdigest()
