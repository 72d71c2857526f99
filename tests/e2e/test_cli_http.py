"""The CLI side of the service: keys, provider secrets, one outbox pass, serve's schema check."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from sqlalchemy import select, text

from smsconsent import services
from smsconsent.storage import tables as t
from smsconsent.storage.database import downgrade, make_engine
from tests.conftest import Cli
from tests.e2e.conftest import FakeProvider

TOKEN = "twilio-secret-token-123"
PUBLIC_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


def _setup(cli: Cli) -> None:
    assert cli("workspace", "create", "acme", "--business-name", "Acme",
               "--contact", "help@acme.test", workspace="acme").code == 0
    assert cli("number", "add", "+15557654321", workspace="acme").code == 0


def test_apikey_is_printed_once_and_only_its_hash_kept(sqlite_cli: Cli) -> None:
    """`apikey create` prints the key; the database holds its SHA-256, never the key."""
    _setup(sqlite_cli)
    made = sqlite_cli("apikey", "create", "--role", "manager", workspace="acme")
    assert made.code == 0, made.err
    key = made.json()["key"]
    assert key.startswith("sk_") and made.json()["role"] == "manager"
    engine = make_engine(sqlite_cli.db)
    with engine.connect() as conn:
        rows = conn.execute(select(t.api_keys)).all()
        dump = repr(conn.exec_driver_sql("select * from api_keys").fetchall())
    engine.dispose()
    assert rows[0].key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.split("_", 2)[2] not in dump
    listed = sqlite_cli("apikey", "list", workspace="acme")
    assert key not in listed.out and made.json()["key_id"] in listed.out
    bad = sqlite_cli("apikey", "create", "--role", "admin", workspace="acme")
    assert bad.code == 2 and "bad_role" in bad.err


def test_workspace_secrets_are_never_printed(sqlite_cli: Cli) -> None:
    """`workspace set --twilio-auth-token` stores it; nothing prints it, `secrets` says "set"."""
    _setup(sqlite_cli)
    done = sqlite_cli("workspace", "set", "acme", "--twilio-auth-token", TOKEN,
                      "--telnyx-public-key", PUBLIC_KEY)
    assert done.code == 0, done.err
    assert TOKEN not in done.out and PUBLIC_KEY not in done.out
    assert done.json()["secrets"] == {"twilio_auth_token": "set", "telnyx_public_key": "set"}
    shown = sqlite_cli("workspace", "show", "acme")
    assert TOKEN not in shown.out and shown.json()["secrets"]["twilio_auth_token"] == "set"
    history = sqlite_cli("--workspace", "acme", "audit", "verify")
    assert TOKEN not in history.out
    engine = make_engine(sqlite_cli.db)
    with engine.connect() as conn:
        ledger = conn.execute(text("select data from events")).fetchall()
    engine.dispose()
    assert all(TOKEN not in row.data for row in ledger)
    bad = sqlite_cli("workspace", "set", "acme", "--telnyx-public-key", "not-base64")
    assert bad.code == 2 and "telnyx_public_key" in bad.err
    cleared = sqlite_cli("workspace", "set", "acme", "--twilio-auth-token", "")
    assert cleared.json()["secrets"] == {"telnyx_public_key": "set"}
    assert sqlite_cli("workspace", "secrets", "acme").json()["secrets"] == {
        "telnyx_public_key": "set"}


def test_keys_and_secrets_changes_are_ledger_events(sqlite_cli: Cli) -> None:
    """Creating and revoking a key and setting or removing a secret are events in the chain,
    with who did it and which names, never a key, hash or secret value."""
    _setup(sqlite_cli)
    made = sqlite_cli("apikey", "create", "--role", "member", "--label", "shop",
                      workspace="acme").json()
    assert sqlite_cli("apikey", "revoke", made["key_id"], workspace="acme").code == 0
    sqlite_cli("workspace", "set", "acme", "--twilio-auth-token", TOKEN)
    sqlite_cli("workspace", "set", "acme", "--twilio-auth-token", "")
    exported = sqlite_cli("export", "ledger", "--format", "jsonl", workspace="acme")
    assert exported.code == 0, exported.err
    events = [json.loads(line) for line in exported.out.splitlines()]
    mine = [(e["type"], e["data"]) for e in events if e["type"].startswith(("api_", "secrets"))]
    assert mine == [
        ("api_key_created", {"key_id": made["key_id"], "role": "member", "label": "shop"}),
        ("api_key_revoked", {"key_id": made["key_id"]}),
        ("secrets_changed", {"set": ["twilio_auth_token"], "removed": []}),
        ("secrets_changed", {"set": [], "removed": ["twilio_auth_token"]}),
    ]
    assert all(e["actor"].startswith("agent:") for e in events if e["type"] in dict(mine))
    assert TOKEN not in exported.out and made["key"].split("_", 2)[2] not in exported.out
    assert sqlite_cli("audit", "verify", workspace="acme").json()["ok"] is True


def test_outbox_deliver_runs_one_pass(sqlite_cli: Cli, fake_telnyx: FakeProvider) -> None:
    """`outbox deliver` sends what is due once; a second pass sends nothing."""
    _setup(sqlite_cli)
    sqlite_cli("workspace", "set", "acme", "--telnyx-api-key", "KEY-cli")
    engine = make_engine(sqlite_cli.db)
    store = services.Store(engine)
    from smsconsent.storage import outbox

    def owe(conn: object, ws: object, sender: str, to: str, body: str) -> None:
        outbox.enqueue(conn, ws.id, "telnyx", sender, to, body, store.now())  # type: ignore

    services.handle_inbound(store, "+15551239999", "+15557654321", "HELP", on_reply=owe)
    engine.dispose()
    first = sqlite_cli("outbox", "deliver", "--telnyx-api-base", fake_telnyx.url)
    assert first.code == 0, first.err
    assert first.json() == {"claimed": 1, "delivered": 1, "failed": 0}
    assert sqlite_cli("outbox", "deliver", "--telnyx-api-base", fake_telnyx.url).json()[
        "claimed"] == 0
    sent = fake_telnyx.sent("+15557654321", "+15551239999")
    assert len(sent) == 1 and sent[0]["auth"] == "Bearer KEY-cli"


def test_serve_refuses_an_out_of_date_schema(sqlite_cli: Cli) -> None:
    """`serve` on a database at an older revision exits 2 and says to run `db upgrade`."""
    _setup(sqlite_cli)
    engine = make_engine(sqlite_cli.db)
    downgrade(engine, "0001")
    engine.dispose()
    proc = subprocess.run([sys.executable, "-m", "smsconsent.cli", "--db", sqlite_cli.db,
                           "serve", "--port", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "schema_out_of_date" in proc.stderr and "db upgrade" in proc.stderr
