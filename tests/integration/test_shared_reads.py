"""web/shared_reads.py: the webhooks that ask in one event-loop turn share one read, which
gives each what ``hot_reads.inbound`` gives it alone, and sees what committed before they
asked; a failed read fails each of them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsconsent import services
from smsconsent.services import Store, hot_reads
from smsconsent.services.pinned import PinnedStore
from smsconsent.storage.database import is_sqlite
from smsconsent.web.shared_reads import SharedReads

OURS, OTHER = "+15557654321", "+15557650000"
KEYS = [(w, n) for w in ("acme", "beta", "nope") for n in (OURS, OTHER, "bad")]


def _workspaces(store: Store) -> None:
    for name, number in (("acme", OURS), ("beta", OTHER)):
        services.create_workspace(store, name, business_name=name, contact=f"h@{name}.test")
        services.add_number(store, name, number)
        services.set_secrets(store, name, twilio_auth_token=f"token-{name}")
    services.add_list(store, "acme", "deals", keyword="STOP DEALS")


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    reads: list[tuple[str, str]] = []
    alone = hot_reads.inbound

    def counted(store: PinnedStore, workspace: str, to: str) -> Any:
        reads.append((workspace, to))
        return alone(store, workspace, to)

    monkeypatch.setattr(hot_reads, "inbound", counted)
    return reads


def test_one_turn_s_webhooks_share_one_read_per_key(store: Store, pinned: PinnedStore) -> None:
    """Any webhooks asking in one turn get what each would read alone; on PostgreSQL with
    one statement per workspace and number, on SQLite each its own call."""
    _workspaces(store)
    shared = SharedReads(pinned)

    @settings(max_examples=25, deadline=None)
    @given(asks=st.lists(st.sampled_from(KEYS), min_size=1, max_size=12))
    def shared_alike(asks: list[tuple[str, str]]) -> None:
        expected = [hot_reads.inbound(pinned, w, n) for w, n in asks]
        with pytest.MonkeyPatch.context() as monkeypatch:
            reads = _counting(monkeypatch)

            async def turn() -> list[Any]:
                return list(await asyncio.gather(*(shared.inbound(w, n) for w, n in asks)))

            answers = asyncio.run(turn())
        assert answers == expected
        if is_sqlite(pinned.engine):
            assert reads == asks  # a function call each: nothing to share
        else:
            assert sorted(reads) == sorted(set(asks))  # one statement per key and turn

    shared_alike()


def test_a_change_committed_before_a_webhook_asks_is_seen(store: Store, pinned: PinnedStore
                                                         ) -> None:
    """The read starts after the webhooks it answers asked: a later turn reads again and
    sees a secret changed in between."""
    _workspaces(store)
    shared = SharedReads(pinned)

    async def two_turns() -> tuple[Any, Any]:
        first = await shared.inbound("acme", OURS)
        services.set_secrets(store, "acme", twilio_auth_token="changed")
        return first, await shared.inbound("acme", OURS)

    first, second = asyncio.run(two_turns())
    assert first.secrets["twilio_auth_token"] == "token-acme"
    assert second.secrets["twilio_auth_token"] == "changed"


def test_a_failed_read_fails_each_webhook_waiting_and_a_cancelled_one_is_skipped(
        store: Store, pinned: PinnedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _workspaces(store)
    shared = SharedReads(pinned)

    def broken(_store: PinnedStore, _workspace: str, _to: str) -> Any:
        raise RuntimeError("the read failed")

    async def failing() -> list[Any]:
        return list(await asyncio.gather(shared.inbound("acme", OURS),
                                         shared.inbound("acme", OURS), return_exceptions=True))

    monkeypatch.setattr(hot_reads, "inbound", broken)
    answers = asyncio.run(failing())
    assert [str(a) for a in answers] == ["the read failed"] * 2
    monkeypatch.undo()

    async def one_cancelled() -> Any:
        gone = asyncio.ensure_future(shared.inbound("acme", OURS))
        kept = asyncio.ensure_future(shared.inbound("acme", OURS))
        await asyncio.sleep(0)  # both have asked
        gone.cancel()
        return await kept

    found = asyncio.run(one_cancelled())
    assert found is not None and found.secrets["twilio_auth_token"] == "token-acme"
