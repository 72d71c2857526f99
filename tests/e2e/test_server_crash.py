"""A ``smsconsent serve`` killed with SIGKILL while clients post texts to it loses nothing it
acknowledged, leaves nothing half-written, and a server restarted on the same database carries
on: a retried id is a duplicate, the next text goes through. On each backend."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import httpx
from twilio.request_validator import RequestValidator

from smsconsent import services
from smsconsent.services import Store, apikeys
from smsconsent.services.base import load_workspace
from tests.e2e.conftest import Server
from tests.integration.racing import ledger_events

WORKSPACE, OURS = "crash", "+15557654323"
CLIENTS = 3  # threads posting at once: at most this many requests are in flight at the kill
TWILIO_TOKEN = "tok-crash"  # thread 0 posts signed Twilio webhooks, the others /v1/inbound
ACKNOWLEDGED = 40  # 2xx answers to collect before the kill
MAX_POSTS = 5000  # per thread: bounds the loop whatever the machine's speed


class Firing:
    """Client threads posting STOP/START texts with unique ids; what was sent, what got a 2xx."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.sent: list[str] = []
        self.acknowledged: list[str] = []
        self.refused: list[int] = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.fire, args=(n,), daemon=True)
                        for n in range(CLIENTS)]

    def fire(self, n: int) -> None:
        contact = f"+1555125000{n}"
        with httpx.Client(base_url=self.url, timeout=10,
                          headers={"Authorization": f"Bearer {self.key}"}) as http:
            for i in range(MAX_POSTS):
                if self.halt.is_set():
                    return
                tag = f"SM{n}-{i}"
                with self.lock:
                    self.sent.append(tag)
                words = "STOP" if i % 2 == 0 else "START"
                try:
                    answer = self.twilio(http, contact, words, tag) if n == 0 else http.post(
                        "/v1/inbound", json={"from": contact, "to": OURS, "body": words,
                                             "id": tag})
                except httpx.TransportError:  # the server is gone
                    return
                with self.lock:
                    if answer.is_success:
                        self.acknowledged.append(tag)
                    else:
                        self.refused.append(answer.status_code)

    def twilio(self, http: httpx.Client, contact: str, words: str, sid: str) -> httpx.Response:
        path = f"/webhooks/twilio/{WORKSPACE}"
        params = {"From": contact, "To": OURS, "Body": words, "MessageSid": sid}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{self.url}{path}", params)
        return http.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def count(self) -> int:
        """How many were acknowledged; 0 until every thread has had one acknowledged."""
        with self.lock:
            threads = {tag.split("-")[0] for tag in self.acknowledged}
            return len(self.acknowledged) if len(threads) == CLIENTS else 0


def test_sigkill_of_a_server_under_load_keeps_every_acknowledged_text(
        db_url: str, store: Store, start_server: Callable[..., Server]) -> None:
    """Every text a killed server answered 2xx is in the ledger, whole; the ledger verifies; after
    a restart an acknowledged id is a duplicate and the next text is recorded."""
    services.create_workspace(store, WORKSPACE, business_name="Acme", contact="help@acme.test")
    services.add_number(store, WORKSPACE, OURS)
    services.set_secrets(store, WORKSPACE, twilio_auth_token=TWILIO_TOKEN)
    key = apikeys.create_api_key(store, WORKSPACE, "manager")["key"]
    victim = start_server(db_url, "--no-outbox-worker")
    firing = Firing(victim.url, key)
    for thread in firing.threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while firing.count() < ACKNOWLEDGED and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.wait(30)
        firing.halt.set()
        for thread in firing.threads:
            thread.join(30)
    assert victim.process.returncode == -signal.SIGKILL
    assert firing.count() >= ACKNOWLEDGED and firing.refused == []
    assert {tag.split("-")[0] for tag in firing.acknowledged} == {f"SM{n}" for n in range(CLIENTS)}
    assert not any(thread.is_alive() for thread in firing.threads)

    with store.read() as conn:
        ws = load_workspace(conn, WORKSPACE)
    events = ledger_events(store, ws.id)
    ids = {ev.provider_id for ev in events if ev.provider_id}
    assert set(firing.acknowledged) <= ids <= set(firing.sent)
    assert len(ids - set(firing.acknowledged)) <= CLIENTS  # only those in flight at the kill
    by_seq = {ev.seq: ev for ev in events}
    for ev in events:  # each text's transaction is whole: its consent change and its reply
        if ev.type == "inbound_received" and ev.data["action"] in ("opted_out", "opted_in"):
            assert [by_seq[ev.seq + 1].type, by_seq[ev.seq + 2].type] == [
                ev.data["action"], "reply_sent"]

    again = start_server(db_url, "--no-outbox-worker")
    auth = {"Authorization": f"Bearer {key}"}
    assert again.client.get("/v1/audit/verify", headers=auth).json()["ok"]
    retried = next(tag for tag in reversed(firing.acknowledged) if not tag.startswith("SM0-"))
    thread_no, i = retried[2:].split("-")
    retry = again.client.post("/v1/inbound", headers=auth, json={
        "from": f"+1555125000{thread_no}", "to": OURS,
        "body": "STOP" if int(i) % 2 == 0 else "START", "id": retried})
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    fresh = again.client.post("/v1/inbound", headers=auth, json={
        "from": "+15551250009", "to": OURS, "body": "STOP", "id": "SM-after"})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["duplicate"] is False and fresh.json()["action"] == "opted_out"
    assert again.client.get("/v1/audit/verify", headers=auth).json()["ok"]
