"""Benchmark: the least an import's writer could do, per stored form of an event.

    .venv/bin/python bench/ideal_writer.py FORM [ROWS] [--no-hash]   (FORM: now | slim)

Not the product: a bound for it. Each batch of 10,000 rows (phone order within 100,000, as
the import writes them) is what a parser process would hand over, made before the clock
starts: numbers, times, the contact states' JSON and the hash payload's text between the
sequence number and the time. Timed, per batch, in one transaction with the import's settings:
the lookup of the batch's numbers (none is stored), the hash chain (one SHA-256 a row, the
only per-row Python left), the events and contact rows built by ``zip`` (no Python frame a
row) and inserted with ``executemany``, the commit (the last one checkpoints). ``now`` is
today's event row (migration 0004); ``slim`` keeps only the sequence number, contact, time,
a reference to a shared per-import record (type, time recorded, actor, data) and the hash as
32 bytes, without ``ix_events_recorded``. Prints one JSON line: wall and CPU seconds, and
the CPU seconds of each step.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from hashlib import sha256
from itertools import repeat
from pathlib import Path

import gen
from floor import DATA, SMALL_STATE
from smsconsent.services.imports import BATCH
from smsconsent.storage.database import (
    DEFAULT_CHECKPOINT_PAGES,
    bulk_checkpoint_pages,
    make_engine,
    upgrade,
)

WINDOW = 100_000
LOOKUP = ("SELECT phone, state FROM contacts WHERE workspace_id = ? "
          "AND phone IN (SELECT value FROM json_each(?))")
INSERT_CONTACT = ("INSERT INTO contacts (workspace_id, phone, status, blocked, lists, state, "
                  "updated_at) VALUES (?,?,?,?,?,?,?)")
INSERT_EVENT = {
    "now": "INSERT INTO events (workspace_id, seq, type, contact, occurred_at, recorded_at, "
           "actor, provider_id, data, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
    "slim": "INSERT INTO events VALUES (?,?,?,?,?,?)",
}
AFTER_TIME = ('",' + '"agent:root",null,' + json.dumps(DATA) + ',"').encode()

Batch = tuple[list[str], list[str], list[bytes], list[str]]


def prepare(path: Path, form: str) -> sqlite3.Connection:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "head")
    engine.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("INSERT INTO workspaces (id, name, business_name, contact, region, policy, "
                "templates, secrets, head_seq, head_hash, created_at) VALUES (1, 'bench', 'B', "
                "'c', 'US', '{}', '{}', '{}', 0, '', '')")
    if form == "slim":
        con.execute("DROP TABLE events")
        con.execute("CREATE TABLE events (workspace_id INTEGER NOT NULL, seq BIGINT NOT NULL, "
                    "contact VARCHAR(20), occurred_at VARCHAR(32) NOT NULL, ref INTEGER, "
                    "hash BLOB NOT NULL, PRIMARY KEY (workspace_id, seq)) WITHOUT ROWID")
        con.execute("CREATE INDEX ix_events_contact ON events (workspace_id, contact, seq)")
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536",
                   "foreign_keys=ON"):
        con.execute(f"PRAGMA {pragma}")
    return con


def batches(rows: int) -> list[Batch]:
    """What a parser process would send: a batch's numbers, times, hash payload pieces
    and state JSON texts."""
    order = list(range(rows))
    for run in range(0, rows, WINDOW):
        order[run:run + WINDOW] = sorted(order[run:run + WINDOW], key=lambda i: gen.number(i, 1))
    made = []
    for start in range(0, rows, BATCH):
        idx = order[start:start + BATCH]
        phones = [f"+1{gen.number(i, 1)[2:]}" for i in idx]
        ats = [f"2024-03-{1 + i % 28:02d}T10:00:00.000000Z" for i in idx]
        middles = [f',"opted_out",{json.dumps(p)},{json.dumps(a)},"'.encode()
                   for p, a in zip(phones, ats, strict=True)]
        made.append((phones, ats, middles, [SMALL_STATE.format(at=a) for a in ats]))
    return made


def run(form: str, rows: int, hashing: bool, folder: Path) -> dict[str, object]:
    con = prepare(folder / "ideal.db", form)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    made = batches(rows)
    seq, prev = 0, b"0" * 64
    spent = dict.fromkeys(("lookup", "hash", "events", "contacts", "commit"), 0.0)
    wall, cpu = time.perf_counter(), time.process_time()
    for number, (phones, ats, middles, states) in enumerate(made):
        last = number == len(made) - 1
        con.execute("PRAGMA wal_autocheckpoint="
                    f"{DEFAULT_CHECKPOINT_PAGES if last else bulk_checkpoint_pages(page)}")
        con.execute("BEGIN IMMEDIATE")
        clock = time.process_time()

        def lap(step: str) -> None:
            nonlocal clock
            spent[step] += time.process_time() - clock
            clock = time.process_time()

        if con.execute(LOOKUP, (1, json.dumps(phones))).fetchall():
            raise AssertionError("a number of a fresh import is stored already")
        recorded = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        lap("lookup")
        first, at = seq + 1, recorded.encode()
        hashes: list[bytes | str] = []
        for middle in middles:
            seq += 1
            digest = sha256(b"".join((b"[%d," % seq, middle, at, AFTER_TIME, prev, b'"]'))
                            ).digest() if hashing else bytes(32)
            prev = digest.hex().encode()
            hashes.append(digest if form == "slim" else prev.decode())
        lap("hash")
        numbers = range(first, seq + 1)
        if form == "slim":
            con.executemany(INSERT_EVENT[form], zip(repeat(1), numbers, phones, ats, repeat(1),
                                                    hashes))
        else:
            con.executemany(INSERT_EVENT[form], zip(
                repeat(1), numbers, repeat("opted_out"), phones, ats, repeat(recorded),
                repeat("agent:root"), repeat(None), repeat(DATA), hashes))
        lap("events")
        con.executemany(INSERT_CONTACT, zip(repeat(1), phones, repeat("opted_out"), repeat(0),
                                            repeat(""), states, repeat(recorded)))
        lap("contacts")
        con.execute("COMMIT")
        lap("commit")
    result = {"form": form, "rows": rows, "seconds": round(time.perf_counter() - wall, 2),
              "cpu_seconds": round(time.process_time() - cpu, 2),
              **{k: round(v, 2) for k, v in spent.items()}, "load": os.getloadavg()[0]}
    con.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("form", choices=sorted(INSERT_EVENT))
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--no-hash", action="store_true", help="leave the hash chain out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(args.form, args.rows, not args.no_hash, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
