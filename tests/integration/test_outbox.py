"""The outbox on both backends: replies owed with the ledger change, claimed by one worker."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection

from smsconsent import services
from smsconsent.domain.workspace import Workspace
from smsconsent.outbox_worker import deliver_once, retry_delay
from smsconsent.services import Store
from smsconsent.services.base import load_workspace
from smsconsent.settings import Settings
from smsconsent.storage import outbox

US, CONTACT = "+15557654321", "+15551234567"


def _workspace(store: Store) -> int:
    services.create_workspace(store, "acme", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "acme", US)
    services.set_secrets(store, "acme", telnyx_api_key="KEY")
    with store.read() as conn:
        return load_workspace(conn, "acme").id


def _owe(store: Store) -> Any:
    def hook(conn: Connection, ws: Workspace, sender: str, to: str, body: str) -> None:
        outbox.enqueue(conn, ws.id, "telnyx", sender, to, body, store.now())
    return hook


def test_reply_is_owed_in_the_same_transaction(store: Store) -> None:
    """A failure after the hook rolls back the ledger change and the outbox row together."""
    ws_id = _workspace(store)

    def failing(conn: Connection, ws: Workspace, sender: str, to: str, body: str) -> None:
        _owe(store)(conn, ws, sender, to, body)
        raise RuntimeError("crash after queueing")

    with pytest.raises(RuntimeError):
        services.handle_inbound(store, CONTACT, US, "STOP", provider_id="a", on_reply=failing)
    assert outbox.rows(store.engine, ws_id) == []
    assert services.status(store, "acme", CONTACT)["known"] is False
    services.handle_inbound(store, CONTACT, US, "STOP", provider_id="a", on_reply=_owe(store))
    assert len(outbox.rows(store.engine, ws_id)) == 1


def test_two_workers_never_send_the_same_row(store: Store, db_url: str) -> None:
    """Four workers racing over 20 owed replies deliver each exactly once."""
    ws_id = _workspace(store)
    for i in range(20):
        services.handle_inbound(store, f"+1555123{i:04d}", US, "HELP", provider_id=f"m{i}",
                                on_reply=_owe(store))
    sent: list[str] = []
    lock = threading.Lock()

    def provider(request: httpx.Request) -> httpx.Response:
        with lock:
            sent.append(request.read().decode())
        return httpx.Response(200, json={})

    settings = Settings(db_url=db_url, telnyx_api_base="http://127.0.0.1:9")
    barrier = threading.Barrier(4)

    def worker() -> None:
        with httpx.Client(transport=httpx.MockTransport(provider)) as client:
            barrier.wait(10)
            for _ in range(10):
                if deliver_once(store, settings, client, limit=3).claimed == 0:
                    break

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(sent) == 20 and len(set(sent)) == 20
    rows = outbox.rows(store.engine, ws_id)
    assert all(r["delivered_at"] is not None and r["attempts"] == 1 for r in rows)


def test_failed_delivery_backs_off(store: Store, db_url: str) -> None:
    """A refused delivery is kept with its error and retried later, doubling the delay."""
    ws_id = _workspace(store)
    services.handle_inbound(store, CONTACT, US, "HELP", on_reply=_owe(store))
    settings = Settings(db_url=db_url, outbox_backoff=30)
    down = httpx.MockTransport(lambda _r: httpx.Response(503, text="maintenance"))
    with httpx.Client(transport=down) as client:
        assert deliver_once(store, settings, client).failed == 1
        assert deliver_once(store, settings, client).claimed == 0
    row = outbox.rows(store.engine, ws_id)[0]
    assert row["attempts"] == 1 and "503" in row["last_error"] and row["delivered_at"] is None
    assert row["next_attempt_at"] > store.now()
    assert [retry_delay(settings, n) for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(settings, 40) == 3600
