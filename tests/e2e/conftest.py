"""The real server in a subprocess, a fake provider API, and tenants to talk to it with.

``server`` (module scope, SQLite and PostgreSQL) is one ``smsconsent serve`` process per test
module; tests keep apart by each using a ``tenant`` of its own (a workspace with its own
number, keys and provider secrets), which also exercises the scoping of every query.
``start_server`` starts one with other options for a single test. The provider double
(``fake_telnyx``) is a real ``http.server`` on 127.0.0.1 that records what it is sent.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey
from twilio.request_validator import RequestValidator

from smsconsent import services
from smsconsent.services import Store, apikeys
from smsconsent.storage.database import ensure_schema, make_engine
from tests.conftest import fresh_database

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running ``smsconsent serve``; ``client`` talks to it, ``log`` holds its output."""

    url: str
    db: str
    log: Path
    process: subprocess.Popen[bytes]
    client: httpx.Client

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def launch(db: str, log: Path, *args: str) -> Server:
    """Start the server on a free port and wait for /healthz; fail with its log otherwise."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "smsconsent.cli", "--db", db, "serve", "--port", str(port),
             *args], stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    server = Server(url, db, log, process, httpx.Client(base_url=url, timeout=30))
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if server.client.get("/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")


# -- a stand-in for the Telnyx messages API ----------------------------------------------------

@dataclass
class FakeProvider:
    """Records every POST it gets; answers ``status`` (set it to 500 to be down)."""

    url: str = ""
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, sender: str, to: str, ok_only: bool = True) -> list[dict[str, Any]]:
        """What was POSTed from ``sender`` to ``to`` (only what was accepted, by default)."""
        with self.lock:
            return [r for r in self.received
                    if r["json"].get("to") == to and r["json"].get("from") == sender
                    and (r["status"] < 300 or not ok_only)]


@pytest.fixture(scope="session")
def fake_telnyx() -> Iterator[FakeProvider]:
    """A local HTTP server standing in for ``POST {base}/v2/messages``."""
    provider = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with provider.lock:
                status = provider.status
                provider.received.append({
                    "path": self.path, "auth": self.headers.get("Authorization"),
                    "json": json.loads(body or b"{}"), "status": status})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"data": {"id": "fake"}}')

        def log_message(self, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield provider
    httpd.shutdown()
    httpd.server_close()


# -- databases and servers -------------------------------------------------------------------

@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def e2e_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    """A fresh database per test module, on each backend."""
    with fresh_database(request, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def e2e_store(e2e_db: str) -> Iterator[Store]:
    """The server's database, opened in the test process (to set tenants up, to look inside)."""
    engine = make_engine(e2e_db)
    ensure_schema(engine)
    yield Store(engine)
    engine.dispose()


FAST_OUTBOX = ("--outbox-interval", "0.1", "--outbox-backoff", "0.2")


@pytest.fixture(scope="module")
def server(e2e_store: Store, e2e_db: str, fake_telnyx: FakeProvider,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server per module and backend, delivering Telnyx replies to ``fake_telnyx``."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    running = launch(e2e_db, log, "--telnyx-api-base", fake_telnyx.url, *FAST_OUTBOX)
    yield running
    running.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start a server with options of the test's choosing; stopped after the test."""
    started: list[Server] = []

    def start(db: str, *args: str) -> Server:
        started.append(launch(db, tmp_path / f"server{len(started)}.log", *args))
        return started[-1]

    yield start
    for running in started:
        running.stop()


# -- tenants ---------------------------------------------------------------------------------

_numbers = itertools.count(2000000)


def new_number() -> str:
    return f"+1555{next(_numbers):07d}"


@dataclass
class Tenant:
    """A workspace on the server, with one key per role and its provider secrets."""

    name: str
    number: str
    keys: dict[str, str]
    twilio_token: str
    telnyx_key: SigningKey
    server: Server

    def auth(self, role: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def get(self, path: str, role: str = "owner", **kw: Any) -> httpx.Response:
        return self.server.client.get(path, headers=self.auth(role), **kw)

    def post(self, path: str, body: Any = None, role: str = "owner", **kw: Any
             ) -> httpx.Response:
        return self.server.client.post(path, json=body, headers=self.auth(role), **kw)

    def twilio(self, params: dict[str, str], *, url: str | None = None,
               signed: bool = True) -> httpx.Response:
        """POST a Twilio webhook, signed as Twilio would for ``url`` (default: the real one)."""
        path = f"/webhooks/twilio/{self.name}"
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = RequestValidator(self.twilio_token).compute_signature(
                url or f"{self.server.url}{path}", params)
        return self.server.client.post(path, data=params, headers=headers)

    def telnyx(self, event: dict[str, Any], *, at: float | None = None,
               key: SigningKey | None = None) -> httpx.Response:
        """POST a Telnyx webhook signed with this tenant's (or ``key``'s) ed25519 key."""
        raw = json.dumps(event).encode()
        stamp = str(int(at if at is not None else time.time()))
        signed = (key or self.telnyx_key).sign(stamp.encode() + b"|" + raw).signature
        return self.server.client.post(
            f"/webhooks/telnyx/{self.name}", content=raw,
            headers={"Content-Type": "application/json", "telnyx-timestamp": stamp,
                     "telnyx-signature-ed25519": base64.b64encode(signed).decode()})


def telnyx_event(sender: str, to: str, text: str, message_id: str,
                 event_type: str = "message.received") -> dict[str, Any]:
    return {"data": {"event_type": event_type, "id": f"ev-{message_id}",
                     "occurred_at": "2026-11-20T10:00:00.000+00:00",
                     "payload": {"id": message_id, "direction": "inbound", "text": text,
                                 "from": {"phone_number": sender},
                                 "to": [{"phone_number": to}]}}}


_tenants = itertools.count(1)


def make_tenant(store: Store, server: Server) -> Tenant:
    name = f"ws{next(_tenants)}_{os.getpid()}"
    number = new_number()
    services.create_workspace(store, name, business_name=f"Biz {name}",
                              contact="help@biz.test")
    services.add_number(store, name, number, campaign="C1")
    keys = {role: apikeys.create_api_key(store, name, role)["key"]
            for role in ("owner", "manager", "member")}
    token = f"tok-{name}"
    signing = SigningKey.generate()
    services.set_secrets(store, name, twilio_auth_token=token,
                         telnyx_public_key=base64.b64encode(bytes(signing.verify_key)).decode(),
                         telnyx_api_key=f"KEY-{name}")
    return Tenant(name, number, keys, token, signing, server)


@pytest.fixture
def tenant(e2e_store: Store, server: Server) -> Tenant:
    """A new workspace on the module's server."""
    return make_tenant(e2e_store, server)


@pytest.fixture
def other_tenant(e2e_store: Store, server: Server) -> Tenant:
    """A second workspace on the same server, for proving a key never crosses over."""
    return make_tenant(e2e_store, server)
