"""Benchmark: the real ``smsconsent serve`` under load, over HTTP on 127.0.0.1.

    .venv/bin/python bench/http_load.py [--db URL] [--seconds 10] [--concurrency 16]
                                        [--profile DIR] [-- extra serve options]

Two figures, each requests/s with p50/p99 latency as the client saw it:

- ``webhook``: a signed Twilio inbound (every one a new MessageSid: STOP, START, HELP and
  plain texts from 2,000 contacts) → signature check → ledger commit → TwiML reply;
- ``check``: ``POST /v1/check`` with a member API key.

The server is one ``smsconsent serve`` process (``--no-outbox-worker``) on a new SQLite file
in a temp dir, or on ``--db`` (a PostgreSQL URL: a fresh schema is made and dropped). The load
generator is this process: plain asyncio streams holding ``--concurrency`` keep-alive
connections, every request built and signed before the clock starts, so the client costs
tens of microseconds a request and the server is what is measured (an httpx client spent
more CPU per request than the server). Each phase stops at ``--seconds`` or ``--requests``,
whichever comes first. ``--profile DIR`` records the server with py-spy (if installed), as
collapsed stacks.

Each phase also reports the server's CPU seconds (user + system of the server and its worker
processes, from /proc) and CPU per request, the figure to compare on a shared machine, and
the 1-minute load average when it began; the load generator's own CPU per request; and on
PostgreSQL the CPU of the server's backends (found by ``application_name``, which is the
bench's schema), so the three shares of the machine can be told apart. Serve options go
after ``--``, e.g. ``-- --workers 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from smsconsent import services
from smsconsent.services import Store, apikeys
from smsconsent.storage.database import ensure_schema, make_engine

SENDER = "+15557654321"
TOKEN = "bench-auth-token"
BODIES = ("STOP", "START", "HELP", "Is my appointment still on Tuesday?")
CONTACTS = 2_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """A new SQLite file, or a fresh schema on the PostgreSQL server of ``url``."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in url else "?"
    try:  # the schema's name is also the server's application_name: see ``backends_cpu``
        yield f"{url}{joiner}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def prepare(db: str) -> str:
    """The workspace ``bench`` with its number, Twilio token and a member key (returned)."""
    engine = make_engine(db)
    ensure_schema(engine)
    store = Store(engine)
    services.create_workspace(store, "bench", business_name="Bench", contact="help@bench.test")
    services.add_number(store, "bench", SENDER)
    services.set_secrets(store, "bench", twilio_auth_token=TOKEN)
    key: str = apikeys.create_api_key(store, "bench", "member")["key"]
    engine.dispose()
    return key


def contact(i: int) -> str:
    return f"+1555{1_000_000 + i % CONTACTS:07d}"


def webhook_requests(url: str, count: int) -> list[bytes]:
    path = "/webhooks/twilio/bench"
    host = url.split("://", 1)[1]  # the server signs against its own URL, port included
    validator = RequestValidator(TOKEN)
    out = []
    for i in range(count):
        params = {"MessageSid": f"SM{uuid.uuid4().hex}", "AccountSid": "ACbench",
                  "From": contact(i), "To": SENDER, "Body": BODIES[i % len(BODIES)],
                  "NumMedia": "0"}
        body = urlencode(params).encode()
        sig = validator.compute_signature(url + path, params)
        out.append(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nX-Twilio-Signature: {sig}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


def check_requests(url: str, key: str, count: int) -> list[bytes]:
    host = url.split("://", 1)[1]
    out = []
    for i in range(count):
        body = json.dumps({"from": SENDER, "to": contact(i),
                           "purpose": "informational"}).encode()
        out.append(
            f"POST /v1/check HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body)
    return out


async def _one_connection(port: int, requests: list[bytes], next_index: list[int],
                          deadline: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and next_index[0] < len(requests):
            request = requests[next_index[0]]
            next_index[0] += 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append((head.split(b"\r\n")[0] + b" " + body[:200]).decode())
    finally:
        writer.close()


def load(port: int, requests: list[bytes], concurrency: int, seconds: float
         ) -> dict[str, object]:
    """Send ``requests`` over ``concurrency`` connections until done or ``seconds`` pass."""
    latencies: list[float] = []
    errors: list[str] = []
    next_index = [0]

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_one_connection(port, requests, next_index, deadline,
                                               latencies, errors)
                               for _ in range(concurrency)))
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return round(latencies[min(n - 1, int(p * n))] * 1000, 2) if n else 0.0

    return {"requests": n, "seconds": round(elapsed, 2), "per_second": round(n / elapsed),
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "errors": len(errors), "first_error": errors[0] if errors else None}


def start_server(db: str, port: int, extra: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "smsconsent.cli", "--db", db, "serve", "--port", str(port),
             "--no-outbox-worker", *extra], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')}")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live descendants (``--workers``)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            child = int(stat.parent.name)
            parents[child], ticks[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def backends_cpu(db: str, pids: dict[int, float]) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends serving the bench (their ``application_name``
    is the bench's schema), by pid; ``pids`` the earlier reading, to count backends that left
    since. Empty for SQLite, or when /proc of the server's processes cannot be read."""
    if not db.startswith("postgresql"):
        return {}
    name = db.rsplit("application_name=", 1)[1]
    admin = create_engine(db.split("?", 1)[0])
    with admin.connect() as conn:
        found = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                             {"n": name}).scalars().all()
    admin.dispose()
    now = dict(pids)
    for pid in found:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            now[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return now


def analyze(db: str) -> None:
    """On PostgreSQL, gather the tables' statistics as autovacuum would on a live database.

    The schema is new: its tables have never been analysed, and on such tables the planner
    finds an event by ``(workspace_id, seq)`` through ``ix_events_recorded`` and a contact by
    phone through ``ix_contacts_status``, scanning all the workspace's rows; the server's
    prepared statements keep those plans until statistics exist. A live database has them
    (autovacuum analyses a table after its first 50 changed rows, within a minute), so the
    figures are taken with them. (Without this the cost of every webhook grew with the run.)
    """
    if not db.startswith("postgresql"):
        return
    engine = create_engine(db, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE workspaces, numbers, api_keys, contact_lists, contacts, "
                          "events"))
    engine.dispose()


def phase(name: str, port: int, server: subprocess.Popen[bytes], requests: list[bytes],
          args: argparse.Namespace) -> dict[str, object]:
    load(port, requests[:200], min(args.concurrency, 4), 10)  # warm-up: imports, caches
    analyze(args.db_url)
    spy = None
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if args.profile and py_spy:
        target = Path(args.profile) / f"{name}.txt"
        spy = subprocess.Popen([py_spy, "record", "-p", str(server.pid), "-o", str(target),
                                "-r", "200", "--nonblocking", "--gil", "-f", "raw"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    backends = backends_cpu(args.db_url, {})
    cpu, load_before = tree_cpu(server.pid), os.getloadavg()[0]
    client = time.process_time()
    result = load(port, requests[200:], args.concurrency, args.seconds)
    client = time.process_time() - client
    cpu = tree_cpu(server.pid) - cpu
    after = backends_cpu(args.db_url, backends)
    pg = sum(after.values()) - sum(backends.values())
    served = int(str(result["requests"])) or 1
    result.update(server_cpu_s=round(cpu, 2), loadavg_1m_before=round(load_before, 2),
                  server_cpu_ms_per_request=round(cpu * 1000 / served, 3),
                  client_cpu_ms_per_request=round(client * 1000 / served, 3))
    if after:
        result.update(postgres_cpu_s=round(pg, 2),
                      postgres_cpu_ms_per_request=round(pg * 1000 / served, 3))
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=60_000, help="at most, per phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", help="a folder for py-spy flame graphs of the server")
    parser.add_argument("serve_options", nargs="*", help="after --: more serve options")
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    with database(args.db) as db, tempfile.TemporaryDirectory() as tmp:
        args.db_url = db
        key = prepare(db)
        port = free_port()
        server = start_server(db, port, args.serve_options, Path(tmp) / "server.log")
        try:
            base = f"http://127.0.0.1:{port}"
            results = {
                "webhook": phase("webhook", port, server,
                                 webhook_requests(base, args.requests + 200), args),
                "check": phase("check", port, server,
                                 check_requests(base, key, args.requests + 200), args),
            }
        finally:
            server.terminate()
            server.wait(30)
        print(json.dumps({"db": db.split(":")[0], "concurrency": args.concurrency,
                          "serve_options": args.serve_options, "python": sys.version.split()[0],
                          "machine": f"{os.cpu_count()} CPU, {platform.machine()}",
                          **results}, indent=1))


if __name__ == "__main__":
    main()
