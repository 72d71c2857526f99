"""A process killed with SIGKILL in the middle of writing loses nothing it acknowledged and
leaves nothing half-written, on each backend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from smsconsent import services
from smsconsent.services import Store
from smsconsent.services.base import load_workspace
from smsconsent.storage.database import make_engine
from tests.integration.crashing import OURS
from tests.integration.racing import ledger_events

ROOT = Path(__file__).resolve().parents[2]
ACKNOWLEDGED = 40  # ids to read before the kill


def test_sigkill_mid_run_keeps_every_acknowledged_write(db_url: str, store: Store) -> None:
    """Every id the killed writer reported is in the ledger, which verifies, with whole writes,
    and the next writer is not blocked by the dead one."""
    services.create_workspace(store, "default", business_name="Acme", contact="help@acme.test")
    services.add_number(store, "default", OURS)
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.crashing", db_url],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reported: list[str] = []
    try:
        while len(reported) < ACKNOWLEDGED:
            line = proc.stdout.readline()
            assert line, f"the writer died on its own: {proc.stderr.read() if proc.stderr else ''}"
            reported.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    after = Store(make_engine(db_url))  # a fresh start, as after a crash
    assert services.verify(after, "default")["ok"]
    with after.read() as conn:
        ws = load_workspace(conn, "default")
    events = ledger_events(after, ws.id)
    services.send(after, OURS, "+15551234567", "hi")  # the dead writer's lock is gone
    after.engine.dispose()
    ids = [ev.provider_id for ev in events if ev.provider_id]
    assert ids[: len(reported)] == reported
    assert len(ids) <= len(reported) + 1  # at most the one committed but not yet printed
    by_seq = {ev.seq: ev for ev in events}
    for ev in events:  # each text's transaction is whole: its consent change and reply
        if ev.type == "inbound_received" and ev.data["action"] in ("opted_out", "opted_in"):
            assert [by_seq[ev.seq + 1].type, by_seq[ev.seq + 2].type] == [
                ev.data["action"], "reply_sent"]
