"""The Twilio webhook's one-statement read (``services.hot_reads.inbound``), shared by the
webhooks to the same workspace and number that reach the event loop together (PostgreSQL).

The read runs on the event loop, and on PostgreSQL the loop waits for its round trip: under
load, a third of the loop's time went there, one wait per webhook. Texts come in bursts (the
group commit answers several at once, and their senders' next texts arrive together), so
here a webhook asks for the read and waits; the first of a loop turn schedules it for the next
turn, by when the others that arrived in the same turn have asked too, and one statement
answers them all.

Each webhook still sees everything committed before it arrived: the statement starts after
every webhook it answers has asked, and takes its snapshot then (a secret or a list changed
before a text came is seen by that text). The rows are only read, and the answer is the same
immutable ``InboundReads`` for each. A failed read fails each webhook waiting on it, as it
would have failed each alone. On SQLite the read is a function call, not a round trip: it is
run at once, as before.
"""

from __future__ import annotations

import asyncio

from smsconsent.services import hot_reads
from smsconsent.services.hot_reads import InboundReads
from smsconsent.services.pinned import PinnedStore
from smsconsent.storage.database import is_sqlite


class SharedReads:
    """``hot_reads.inbound`` for the webhooks of one event loop, shared per loop turn."""

    def __init__(self, store: PinnedStore) -> None:
        self.store = store
        self._alone = is_sqlite(store.engine)
        self._waiting: dict[tuple[str, str], list[asyncio.Future[InboundReads | None]]] = {}

    async def inbound(self, workspace: str, to: str) -> InboundReads | None:
        """``hot_reads.inbound(store, workspace, to)``, read once for all the webhooks that
        ask in the same loop turn (module docstring)."""
        if self._alone:
            return hot_reads.inbound(self.store, workspace, to)
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._read)
        future: asyncio.Future[InboundReads | None] = loop.create_future()
        self._waiting.setdefault((workspace, to), []).append(future)
        return await future

    def _read(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for (workspace, to), futures in waiting.items():
            try:
                found = hot_reads.inbound(self.store, workspace, to)
            except Exception as exc:  # each webhook fails as it would have alone
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for future in futures:
                if not future.done():  # (its request may have been cancelled)
                    future.set_result(found)
