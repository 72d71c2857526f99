"""``smsconsent serve --workers N``: several processes on one port share nothing but the
database, so everything that holds for one process holds across them: no send past a committed
STOP, a revoked key refused at once by every worker, a policy change seen by every worker,
every concurrently delivered webhook committed exactly once in one verified chain, and one
console sign-in valid on every worker."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from twilio.request_validator import RequestValidator

from smsconsent import services
from smsconsent.services import Store, apikeys
from tests.e2e.conftest import Server
from tests.integration.racing import WORKSPACE, Plan, assert_race_held, race

OURS = "+15557654323"
CONTACTS = ("+15551250001", "+15551250002", "+15551250003")
TOKEN = "workers-token"


def _workspace(store: Store) -> str:
    services.create_workspace(store, WORKSPACE, business_name="Acme", contact="help@acme.test")
    services.add_number(store, WORKSPACE, OURS, campaign="C1")
    services.set_secrets(store, WORKSPACE, twilio_auth_token=TOKEN)
    return str(apikeys.create_api_key(store, WORKSPACE, "manager")["key"])


def _workers_started(server: Server) -> int:
    return server.log.read_text(errors="replace").count("Started server process")


@pytest.mark.slow
def test_no_send_after_committed_stop_across_workers(
        db_url: str, store: Store, start_server: Callable[..., Server]) -> None:
    """The race of test_server_race, with every HTTP worker on one ``--workers 2`` server."""
    key = _workspace(store)
    server = start_server(db_url, "--no-outbox-worker", "--workers", "2")
    start_at = time.time() + 2.0
    plans = [Plan(db_url, w, OURS, CONTACTS, start_at, 3.0, seed=w, client="http",
                  url=server.url, key=key) for w in range(4)]
    shots = race(plans, timeout=120)
    assert_race_held(store, OURS, shots, 4)


def test_workers_share_keys_policy_and_webhooks(
        db_url: str, store: Store, start_server: Callable[..., Server]) -> None:
    key = _workspace(store)
    server = start_server(db_url, "--no-outbox-worker", "--workers", "2")
    deadline = time.monotonic() + 60
    while _workers_started(server) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _workers_started(server) == 2
    auth = {"Authorization": f"Bearer {key}"}
    contact = "+15551259999"

    # Concurrent webhooks (each MessageSid sent twice) land on both workers and in the group
    # commit: each text is recorded once, the chain verifies.
    url = f"{server.url}/webhooks/twilio/{WORKSPACE}"
    validator = RequestValidator(TOKEN)
    sids = [f"SM{uuid.uuid4().hex}" for _ in range(40)]

    def deliver(sid: str) -> int:
        params = {"MessageSid": sid, "From": contact, "To": OURS, "Body": "HELP"}
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        with httpx.Client(timeout=30) as client:
            return client.post(url, data=params, headers=headers).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(deliver, sids + sids))
    assert statuses == [200] * len(statuses)
    history = server.client.get(f"/v1/contacts/{contact}/events", headers=auth,
                                params={"limit": 1000}).json()["events"]
    received = [e["provider_id"] for e in history if e["type"] == "inbound_received"]
    assert sorted(received) == sorted(sids)
    assert server.client.get("/v1/audit/verify", headers=auth).json()["ok"] is True

    # A STOP taken by whichever worker is seen by every later check, on either worker.
    stop = server.client.post("/v1/inbound", headers=auth,
                              json={"from": contact, "to": OURS, "body": "STOP"}).json()
    assert stop["action"] == "opted_out"
    checks = {server.client.post("/v1/check", headers=auth, json={
        "from": OURS, "to": contact, "purpose": "marketing"}).json()["reason"]
        for _ in range(20)}
    assert checks == {"opted_out"}

    # A policy change made outside the server is used by every worker on the next text.
    services.update_workspace(store, WORKSPACE, reopt_on_message=True)
    again = server.client.post("/v1/inbound", headers=auth,
                               json={"from": contact, "to": OURS, "body": "hello"}).json()
    assert again["action"] == "opted_in_by_message"

    # One console sign-in holds on every worker: they share the cookie-signing secret.
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        page = browser.get("/console/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        signed_in = browser.post("/console/login", data={"csrf": csrf.group(1), "key": key})
        assert signed_in.status_code == 303
        cookies = dict(browser.cookies)
    pages = set()
    for _ in range(20):  # a new connection each time: the kernel picks the worker
        with httpx.Client(base_url=server.url, timeout=30, cookies=cookies) as visit:
            pages.add(visit.get("/console/contacts").status_code)
    assert pages == {200}

    # A key revoked outside the server is refused by every worker at once.
    key_id = key.split("_")[1]
    assert server.client.get("/v1/workspace", headers=auth).status_code == 200
    apikeys.revoke_api_key(store, WORKSPACE, key_id)
    refused = {server.client.get("/v1/workspace", headers=auth).status_code for _ in range(20)}
    assert refused == {401}


def test_workers_option_is_checked(db_url: str) -> None:
    """``--workers 0`` is refused before anything starts (exit 2, as for any bad option)."""
    done = subprocess.run([sys.executable, "-m", "smsconsent.cli", "--db", db_url, "serve",
                           "--workers", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers" in done.stderr
