"""Benchmark: import N opt-outs into a new SQLite database, against the physical floor.

    .venv/bin/python bench/import_optouts.py [ROWS]     (default 1,000,000)

The floor is a raw ``sqlite3`` ``executemany`` of exactly the rows the import wrote (its
events and contact states, in the order it wrote them) into a fresh database with the same
schema and settings, in transactions of the same batch size and WAL checkpoint setting, ending
with the checkpoint the import's last commit makes, timed in the same run. Peak RSS is the
import command's (writer and parser process summed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import gen
from smsconsent.services.imports import BATCH
from smsconsent.storage.database import bulk_checkpoint_pages, ensure_schema, make_engine


def floor(source: Path, target: Path, batch: int) -> float:
    """Seconds to insert the import's rows again with plain executemany."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, isolation_level=None)
    page = dst.execute("PRAGMA page_size").fetchone()[0]
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-65536",
                   f"wal_autocheckpoint={bulk_checkpoint_pages(page)}"):
        dst.execute(f"PRAGMA {pragma}")
    spent = 0.0
    for table in ("events", "contacts"):
        cols = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        sql = f"INSERT INTO {table} ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})"
        cursor = src.execute(f"SELECT * FROM {table} WHERE contact IS NOT NULL ORDER BY seq"
                             if table == "events" else f"SELECT * FROM {table}")
        while rows := cursor.fetchmany(batch):
            started = time.perf_counter()
            dst.execute("BEGIN IMMEDIATE")
            dst.executemany(sql, rows)
            dst.execute("COMMIT")
            spent += time.perf_counter() - started
    # the import's last commit checkpoints the WAL into the database (its last batch puts
    # wal_autocheckpoint back): the floor does the same work, timed
    started = time.perf_counter()
    dst.execute("PRAGMA wal_checkpoint(PASSIVE)")
    return spent + time.perf_counter() - started


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = gen.opt_outs(folder / "opt-outs.csv", rows)
        db = folder / "bench.db"
        gen.workspace(f"sqlite:///{db}")
        os.sync()  # the generated file on disk first: its write-back is not the import's
        result = gen.run_cli(f"sqlite:///{db}", "import", "opt-outs", str(data))
        again = gen.run_cli(f"sqlite:///{db}", "import", "opt-outs", str(data))
        # the floor database has no foreign-key parent rows: copy the workspace row first
        target = folder / "floor.db"
        ensure_schema(make_engine(f"sqlite:///{target}"))
        con = sqlite3.connect(target)
        con.execute(f"ATTACH '{db}' AS src")
        con.execute("INSERT INTO workspaces SELECT * FROM src.workspaces")
        con.commit()
        con.close()
        raw = floor(db, target, BATCH)
        print(json.dumps({"rows": rows, "import": result, "reimport": again,
                          "floor_seconds": round(raw, 2),
                          "ratio_to_floor": round(float(str(result["wall_seconds"])) / raw, 2)},
                         indent=1))


if __name__ == "__main__":
    main()
