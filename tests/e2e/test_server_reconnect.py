"""After its PostgreSQL connections are cut (a server restart, an administrator ending the
backends), a running ``smsconsent serve`` answers the next requests as before, not with a 500.

The server is not restarted (it is shared): the test ends the backends of this server's own
connections only, found by the ``application_name`` its URL gives them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from smsconsent import services
from smsconsent.services import Store, apikeys
from smsconsent.storage.database import ensure_schema, make_engine
from tests.conftest import drop_pg_schema, new_pg_schema
from tests.e2e.conftest import Server

pytestmark = pytest.mark.postgres
OURS, TOKEN = "+15557654329", "tok-reconnect"


def terminate(base: str, application: str) -> int:
    """End every backend of connections named ``application``; how many there were."""
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = :name AND pid <> pg_backend_pid()"),
            {"name": application}).scalar_one()
    admin.dispose()
    return int(ended)


def test_requests_after_the_connections_are_cut(
        pg_server: str, start_server: Callable[..., Server], tmp_path: Path) -> None:
    """check, /v1/inbound and a Twilio webhook each answer 200 on the first try after
    every connection of the server was ended."""
    schema, url = new_pg_schema(pg_server)
    application = f"smsconsent_reconnect_{uuid.uuid4().hex[:8]}"
    db = f"{url}&application_name={application}"
    try:
        store = Store(make_engine(url))
        ensure_schema(store.engine)
        services.create_workspace(store, "rc", business_name="RC", contact="help@rc.test")
        services.add_number(store, "rc", OURS)
        services.set_secrets(store, "rc", twilio_auth_token=TOKEN)
        key = apikeys.create_api_key(store, "rc", "manager")["key"]
        store.engine.dispose()
        server = start_server(db, "--no-outbox-worker")
        auth = {"Authorization": f"Bearer {key}"}
        check = {"from": OURS, "to": "+15551239000"}

        def twilio(n: int) -> int:
            path = "/webhooks/twilio/rc"
            params = {"MessageSid": f"SMrc{n}", "From": "+15551239001", "To": OURS,
                      "Body": "HELP"}
            signature = RequestValidator(TOKEN).compute_signature(f"{server.url}{path}",
                                                                  params)
            return server.client.post(path, data=params,
                                      headers={"X-Twilio-Signature": signature}).status_code

        for round_ in range(2):
            assert server.client.post("/v1/check", json=check, headers=auth).status_code == 200
            assert twilio(round_ * 10) == 200
            assert terminate(pg_server, application) >= 1
            assert server.client.post("/v1/check", json=check, headers=auth).status_code == 200
            assert terminate(pg_server, application) >= 1
            assert twilio(round_ * 10 + 1) == 200
            assert terminate(pg_server, application) >= 1
            inbound = {"from": "+15551239002", "to": OURS, "body": "STOP"}
            assert server.client.post("/v1/inbound", json=inbound,
                                      headers=auth).status_code == 200
    finally:
        drop_pg_schema(pg_server, schema)
