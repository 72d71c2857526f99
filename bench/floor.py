"""Benchmark: what the physical floor of a bulk import is made of.

    .venv/bin/python bench/floor.py [ROWS] [--only NAME,NAME] [--repeat N]   (default 1,000,000)

The floor is the raw ``sqlite3`` ``executemany`` of an import's rows: one event and one new
contact row per opted-out number, in transactions of the import's batch size (events, then
the batch's contacts), with the import's settings (WAL, ``synchronous=FULL``, 64 MiB cache,
``wal_autocheckpoint`` raised during the bulk write and restored for the last batch, whose
commit checkpoints). Each variant changes one thing — a table, an index, the stored bytes, a
setting — on a fresh database made by the real migrations (up to 0003, the schema before the leaner
rows of 0004: ``lean`` is what 0004 and today's code write), so its figure says
what that thing costs. Rows are made like the import's (the same data JSON, state JSON, times
and actor; random 32-byte hashes) outside the timed part; only BEGIN … COMMIT is timed, in
wall seconds and in this process's CPU seconds (SQLite runs in it).

Prints one JSON line per variant: seconds, CPU seconds, bytes per event and contact row
(values as SQLite stores them) and the file's pages per table and index (``dbstat``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gen
from smsconsent.services.imports import BATCH
from smsconsent.storage.database import (
    BULK_CHECKPOINT_PAGES,
    DEFAULT_CHECKPOINT_PAGES,
    make_engine,
    upgrade,
)

BASE_SCHEMA = "0003"  # the schema before the leaner rows; every variant starts from it
RECORDED = "2026-11-23T19:05:55.263899Z"
ACTOR = "agent:root"
REF = '{"@":1}'  # data as a reference to the import's shared record
DATA = ('{"evidence":"old tool export","file":"opt-outs.csv","keys":["sms:workspace"],'
        '"method":"import","origin":"keyword STOP","source":"import"}')
STATE = ('{{"blocked":false,"consents":{{"sms:workspace":{{"by":"agent:root","method":"import",'
         '"opted_in_at":null,"opted_out_at":"{at}","source":"import","status":"opted_out",'
         '"type":null}}}},"first_sent_at":null,"grants":{{}},"last_at":"{at}","lists":{{}},'
         '"phone":"{phone}"}}')
TINY_STATE = '{{"@":1,"at":"{at}"}}'  # a reference and the row's own time: a lower bound
SMALL_STATE = ('{{"consents":{{"sms:workspace":{{"by":"agent:root","method":"import",'
               '"opted_out_at":"{at}","source":"import","status":"opted_out"}}}},'
               '"last_at":"{at}"}}')


@dataclass
class Variant:
    """One thing changed from the import's floor."""

    name: str
    what: str
    events: bool = True
    contacts: bool = True
    state: str = STATE
    prev_hash: bool = True
    hash_blob: bool = False
    drop: tuple[str, ...] = ()  # indexes dropped after the schema is built
    contacts_no_pk: bool = False  # contacts rebuilt without its primary key (no autoindex)
    contacts_without_rowid: bool = False  # contacts keyed by (workspace_id, phone) alone
    page_size: int = 4096
    cache_kib: int = 65536
    sync_during: str = "FULL"  # the last batch always commits with FULL
    checkpoint_pages: int = BULK_CHECKPOINT_PAGES
    batch: int = BATCH
    pragmas: dict[str, Any] = field(default_factory=dict)
    by_phone: int = 0  # rows in phone order within runs of this many (0: the file's order)
    # The event row's form: "full" (every column), "ref" (data stored as a short reference to
    # a shared per-import record), "slim" (only seq, contact, occurred_at, the reference and
    # the hash: type, recorded_at, actor and data live in the shared record)
    form: str = "full"


VARIANTS = [
    Variant("base", "the import's rows, schema and settings"),
    Variant("events_only", "events alone", contacts=False),
    Variant("contacts_only", "contact rows alone", events=False),
    Variant("no_ix_events_contact", "without ix_events_contact", drop=("ix_events_contact",)),
    Variant("no_ix_events_recorded", "without ix_events_recorded",
            drop=("ix_events_recorded",)),
    Variant("no_ix_contacts_status", "without ix_contacts_status",
            drop=("ix_contacts_status",)),
    Variant("no_contacts_pk", "contacts without its primary key (no autoindex)",
            contacts_no_pk=True),
    Variant("small_state", "state JSON without phone, nulls, false and empty maps",
            state=SMALL_STATE),
    Variant("no_prev_hash", "events without prev_hash", prev_hash=False),
    Variant("hash_blob", "hash and prev_hash as 32-byte blobs", hash_blob=True),
    Variant("lean", "small state and no prev_hash (what 0004 writes)", state=SMALL_STATE,
            prev_hash=False),
    Variant("page_8192", "8 KiB pages", page_size=8192),
    Variant("page_16384", "16 KiB pages", page_size=16384),
    Variant("cache_256m", "256 MiB page cache", cache_kib=262144),
    Variant("sync_normal", "synchronous=NORMAL for all but the last batch (FULL)",
            sync_during="NORMAL"),
    Variant("checkpoint_default", "wal_autocheckpoint left at 1,000 pages",
            checkpoint_pages=DEFAULT_CHECKPOINT_PAGES),
    Variant("batch_50k", "transactions of 50,000 rows", batch=50_000),
    Variant("batch_200k", "transactions of 200,000 rows", batch=200_000),
    Variant("lean_page_8192", "lean rows and 8 KiB pages", state=SMALL_STATE,
            prev_hash=False, page_size=8192),
    Variant("lean_page_16384", "lean rows and 16 KiB pages", state=SMALL_STATE,
            prev_hash=False, page_size=16384),
    Variant("lean_sync_normal", "lean rows and NORMAL until the last batch", state=SMALL_STATE,
            prev_hash=False, sync_during="NORMAL"),
    Variant("lean_by_phone", "lean rows inserted in phone order", state=SMALL_STATE,
            prev_hash=False, by_phone=10**9),
    Variant("lean_by_phone_200k", "lean rows in phone order within runs of 200,000",
            state=SMALL_STATE, prev_hash=False, by_phone=200_000),
    Variant("lean_by_phone_100k", "lean rows in phone order within runs of 100,000",
            state=SMALL_STATE, prev_hash=False, by_phone=100_000),
    Variant("lean_by_phone_100k_batch_50k", "phone order within 100,000, transactions of 50,000",
            state=SMALL_STATE, prev_hash=False, by_phone=100_000, batch=50_000),
    Variant("lean_by_phone_100k_events_only", "phone order within 100,000: events alone",
            state=SMALL_STATE, prev_hash=False, by_phone=100_000, contacts=False),
    Variant("lean_by_phone_100k_contacts_only", "phone order within 100,000: contacts alone",
            state=SMALL_STATE, prev_hash=False, by_phone=100_000, events=False),
    Variant("lean_by_phone_100k_no_ix_events_contact",
            "phone order within 100,000, without ix_events_contact", state=SMALL_STATE,
            prev_hash=False, by_phone=100_000, drop=("ix_events_contact",)),
    Variant("lean_by_phone_100k_no_ix_events_recorded",
            "phone order within 100,000, without ix_events_recorded", state=SMALL_STATE,
            prev_hash=False, by_phone=100_000, drop=("ix_events_recorded",)),
    Variant("lean_by_phone_100k_sync_off", "phone order within 100,000, synchronous=OFF "
            "(not durable: how much is fsync)", state=SMALL_STATE, prev_hash=False,
            by_phone=100_000, sync_during="OFF"),
    Variant("lean_by_phone_50k", "lean rows in phone order within runs of 50,000",
            state=SMALL_STATE, prev_hash=False, by_phone=50_000),
    # Session 5: stored forms that would take an import under 10 s (all in phone order within
    # 100,000 rows, lean states, as the import writes today; "now" is today's form).
    *[Variant(f"{name}{suffix}", f"{what}{said}",
              **{"state": SMALL_STATE, "prev_hash": False, "by_phone": 100_000, **kwargs,
                 **extra})
      for name, what, kwargs in [
          ("now", "today's form (0004 rows, phone order within 100,000)", {}),
          ("ref", "data as a reference to a shared record", {"form": "ref"}),
          ("ref_blob", "data as a reference, hash as a 32-byte blob",
           {"form": "ref", "hash_blob": True}),
          ("ref_blob_no_recorded", "data as a reference, hash blob, no ix_events_recorded",
           {"form": "ref", "hash_blob": True, "drop": ("ix_events_recorded",)}),
          ("slim", "events of seq, contact, time, reference, hash blob (no "
           "ix_events_recorded)", {"form": "slim", "hash_blob": True}),
          ("slim_no_contact_ix", "slim events without ix_events_contact",
           {"form": "slim", "hash_blob": True, "drop": ("ix_events_contact",)}),
          ("slim_tiny_state", "slim events, contact rows with a 20-byte state",
           {"form": "slim", "hash_blob": True, "state": TINY_STATE}),
          # Session 6: a rollback journal for the bulk write (pages written once, not
          # to the WAL and again by the checkpoint)
          ("now_journal_delete", "today's form, journal_mode=DELETE",
           {"pragmas": {"journal_mode": "DELETE"}}),
          ("now_journal_truncate", "today's form, journal_mode=TRUNCATE",
           {"pragmas": {"journal_mode": "TRUNCATE"}}),
          ("now_journal_persist", "today's form, journal_mode=PERSIST",
           {"pragmas": {"journal_mode": "PERSIST"}}),
          ("now_journal_16k", "today's form, journal_mode=TRUNCATE, 16 KiB pages",
           {"pragmas": {"journal_mode": "TRUNCATE"}, "page_size": 16384}),
          ("now_16k", "today's form, 16 KiB pages", {"page_size": 16384}),
          ("now_contacts_without_rowid", "today's form, contacts WITHOUT ROWID",
           {"contacts_without_rowid": True}),
      ]
      for suffix, said, extra in [("", "", {}),
                                  ("_events_only", ": events alone", {"contacts": False}),
                                  ("_contacts_only", ": contacts alone", {"events": False})]],
]


def batches(rows: int, variant: Variant) -> Iterator[tuple[list[tuple[Any, ...]],
                                                            list[tuple[Any, ...]]]]:
    """The import's rows for numbers 0..rows-1, a batch at a time (events, contacts)."""
    prev = bytes(32)
    order = list(range(rows))
    for run in range(0, rows, variant.by_phone or rows):
        order[run:run + variant.by_phone] = sorted(order[run:run + variant.by_phone],
                                                   key=lambda i: gen.number(i, 1))
    for start in range(0, rows, variant.batch):
        events, contacts = [], []
        for seq, i in enumerate(order[start:start + variant.batch], start):
            phone = f"+1{gen.number(i, 1)[2:]}"
            at = f"2024-03-{1 + i % 28:02d}T10:00:00.000000Z"
            digest = hashlib.sha256(phone.encode()).digest()
            h, p = (digest, prev) if variant.hash_blob else (digest.hex(), prev.hex())
            row: tuple[Any, ...]
            if variant.form == "slim":
                row = (1, seq + 1, phone, at, 1)
            else:
                row = (1, seq + 1, "opted_out", phone, at, RECORDED, ACTOR, None,
                       DATA if variant.form == "full" else REF)
            events.append(row + ((p, h) if variant.prev_hash else (h,)))
            contacts.append((1, phone, "opted_out", 0, "", variant.state.format(at=at, phone=phone),
                             RECORDED))
            prev = digest
        yield events, contacts


def stored_bytes(row: tuple[Any, ...]) -> int:
    """The values' bytes as SQLite's record holds them (integers as 1-8 bytes)."""
    size = 0
    for v in row:
        if isinstance(v, str):
            size += len(v.encode())
        elif isinstance(v, bytes):
            size += len(v)
        elif isinstance(v, int):
            size += 0 if v in (0, 1) else next(n for n in (1, 2, 3, 4, 6, 8)
                                               if -(1 << (8 * n - 1)) <= v < 1 << (8 * n - 1))
    return size


def prepare(path: Path, variant: Variant) -> sqlite3.Connection:
    """A fresh database with the real schema, changed as the variant says."""
    con = sqlite3.connect(path)  # the page size first: make_engine's applies to new files only
    con.execute(f"PRAGMA page_size={variant.page_size}")
    con.execute("CREATE TABLE floor_page_size (x)")
    con.close()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, BASE_SCHEMA)
    engine.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("INSERT INTO workspaces (id, name, business_name, contact, region, policy, "
                "templates, secrets, head_seq, head_hash, created_at) VALUES (1, 'bench', 'B', "
                "'c', 'US', '{}', '{}', '{}', 0, '', '')")
    for index in variant.drop:
        con.execute(f"DROP INDEX {index}")
    if not variant.prev_hash:
        con.execute("ALTER TABLE events DROP COLUMN prev_hash")
    if variant.form == "slim":
        con.execute("DROP TABLE events")
        con.execute("CREATE TABLE events (workspace_id INTEGER NOT NULL, seq BIGINT NOT NULL, "
                    "contact VARCHAR(20), occurred_at VARCHAR(32) NOT NULL, ref INTEGER, "
                    "hash BLOB NOT NULL, PRIMARY KEY (workspace_id, seq)) WITHOUT ROWID")
        if "ix_events_contact" not in variant.drop:
            con.execute("CREATE INDEX ix_events_contact ON events (workspace_id, contact, seq)")
    if variant.contacts_no_pk:
        con.execute("DROP TABLE contacts")
        con.execute("CREATE TABLE contacts (workspace_id INTEGER, phone VARCHAR(20), "
                    "status VARCHAR(16), blocked BOOLEAN, lists TEXT, state TEXT, "
                    "updated_at VARCHAR(32))")
        con.execute("CREATE INDEX ix_contacts_status ON contacts (workspace_id, status)")
    if variant.contacts_without_rowid:
        con.execute("DROP TABLE contacts")
        con.execute("CREATE TABLE contacts (workspace_id INTEGER NOT NULL, phone VARCHAR(20) "
                    "NOT NULL, status VARCHAR(16) NOT NULL, blocked BOOLEAN NOT NULL, lists "
                    "TEXT NOT NULL, state TEXT NOT NULL, updated_at VARCHAR(32) NOT NULL, "
                    "PRIMARY KEY (workspace_id, phone)) WITHOUT ROWID")
        con.execute("CREATE INDEX ix_contacts_status ON contacts (workspace_id, status)")
    for pragma, value in {"journal_mode": "WAL", "synchronous": "FULL",
                          "cache_size": -variant.cache_kib, "foreign_keys": "ON",
                          **variant.pragmas}.items():
        con.execute(f"PRAGMA {pragma}={value}")
    return con


def run(variant: Variant, rows: int, folder: Path) -> dict[str, Any]:
    path = folder / f"{variant.name}.db"
    con = prepare(path, variant)
    n_event = 5 if variant.form == "slim" else 10 if variant.prev_hash else 9
    insert_event = f"INSERT INTO events VALUES ({','.join('?' * (n_event + 1))})"
    insert_contact = "INSERT INTO contacts VALUES (?,?,?,?,?,?,?)"
    wall = cpu = 0.0
    event_bytes = contact_bytes = 0
    last_start = ((rows - 1) // variant.batch) * variant.batch
    for start, (events, contacts) in zip(range(0, rows, variant.batch), batches(rows, variant),
                                         strict=True):
        event_bytes += sum(map(stored_bytes, events))
        contact_bytes += sum(map(stored_bytes, contacts))
        last = start == last_start
        t0, c0 = time.perf_counter(), time.process_time()
        con.execute(f"PRAGMA synchronous={'FULL' if last else variant.sync_during}")
        pages = variant.checkpoint_pages * 4096 // variant.page_size  # the same WAL bytes
        con.execute("PRAGMA wal_autocheckpoint="
                    f"{DEFAULT_CHECKPOINT_PAGES if last else pages}")
        con.execute("BEGIN IMMEDIATE")
        if variant.events:
            con.executemany(insert_event, events)
        if variant.contacts:
            con.executemany(insert_contact, contacts)
        con.execute("COMMIT")
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    pages = dict(con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name "
                             "HAVING sum(pgsize) > 65536 ORDER BY 2 DESC").fetchall())
    con.close()
    os.unlink(path)
    return {"variant": variant.name, "what": variant.what, "rows": rows,
            "page_size": variant.page_size,
            "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "event_row_bytes": round(event_bytes / rows, 1) if variant.events else None,
            "contact_row_bytes": round(contact_bytes / rows, 1) if variant.contacts else None,
            "mib": {k: round(v / 2**20, 1) for k, v in pages.items()},
            "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the databases go (default: a temp dir)")
    args = parser.parse_args()
    wanted = [v for v in VARIANTS if not args.only or v.name in args.only.split(",")]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for _ in range(args.repeat):
            for variant in wanted:
                print(json.dumps(run(variant, args.rows, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
