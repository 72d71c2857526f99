"""The numbers a recipients file has shown so far: how ``filter`` finds a ``duplicate`` in
bounded memory, whatever the file's size."""

from __future__ import annotations

import json
import sqlite3

SEEN_IN_MEMORY = 1_000_000  # numbers kept in a set (~65 MB); more go to a temporary table


class SeenNumbers:
    """The numbers met so far, for ``duplicate``.

    The latest of them are integers in a set (about 60 bytes each, one C call a row); past
    ``limit`` they move to a table in a temporary SQLite file (about 10 bytes each, on disk,
    a little page cache), with a bitmap of them in front (8 MiB, one bit per number modulo a
    prime) so that the table is asked, once per chunk (``older``), only about the few numbers
    whose bit is set. A file of any size takes bounded memory, and one of up to ``limit``
    distinct numbers never touches the table.
    """

    def __init__(self, limit: int) -> None:
        self._seen: set[int] = set()
        self._limit = limit
        self._old: sqlite3.Connection | None = None
        self._bits = bytearray()

    @property
    def spilled(self) -> bool:
        """Whether some numbers are in the table (then ``older`` must be asked)."""
        return self._old is not None

    def add(self, phone: str) -> bool:
        """Remember ``phone``; False when it was already in the set (not the table)."""
        seen = self._seen
        before = len(seen)
        seen.add(_key(phone))
        return len(seen) > before

    def add_new(self, phones: list[str]) -> bool:
        """Remember all of ``phones`` (E.164) when none is in the set or repeated among them;
        False, remembering nothing, otherwise (then ``add`` tells which). Set operations in
        C, for a chunk at a time: ``int`` reads ``+1555...`` as ``_key`` does."""
        keys = list(map(int, phones))
        seen = self._seen
        if not seen.isdisjoint(keys):
            return False
        before = len(seen)
        seen.update(keys)
        if len(seen) - before == len(keys):
            return True
        seen.difference_update(keys)  # a number twice in the chunk: none was in the set
        return False

    def older(self, phones: list[str]) -> set[str]:
        """Those of ``phones`` that are in the table."""
        if self._old is None or not phones:
            return set()
        bits, prime = self._bits, _PRIME
        maybe = {}
        for phone in phones:
            key = _key(phone)
            at = key % prime
            if bits[at >> 3] & (1 << (at & 7)):
                maybe[key] = phone
        if not maybe:
            return set()
        found = self._old.execute(_OLDER, (json.dumps(list(maybe)),))
        return {maybe[n] for (n,) in found}

    def settle(self) -> None:
        """Between chunks: move the set to the table once it holds more than ``limit``."""
        if len(self._seen) <= self._limit:
            return
        if self._old is None:
            self._old = sqlite3.connect("")  # a temporary file, deleted when closed
            self._old.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
                "CREATE TABLE seen (n INTEGER PRIMARY KEY);")
            self._bits = bytearray((_PRIME >> 3) + 1)
        bits, prime = self._bits, _PRIME
        for key in self._seen:
            at = key % prime
            bits[at >> 3] |= 1 << (at & 7)
        self._old.execute("INSERT OR IGNORE INTO seen SELECT value FROM json_each(?)",
                          (json.dumps(sorted(self._seen)),))
        self._seen.clear()

    def close(self) -> None:
        if self._old is not None:
            self._old.close()
            self._old = None


def _key(phone: str) -> int:
    return int(phone[1:]) if phone[0] == "+" else -int(phone)


_PRIME = 67_108_859  # the largest prime below 2**26: the bitmap's size in bits
_OLDER = "SELECT j.value FROM json_each(?) AS j JOIN seen ON seen.n = j.value"
