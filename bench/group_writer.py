"""Benchmark: the group commit's writer alone, on PostgreSQL (or SQLite), per text.

    .venv/bin/python bench/group_writer.py [--db URL] [--texts 3000] [--group 8]

The writer's share of an inbound webhook without HTTP, the event loop or the GIL shared with
them: texts of the bench's mix (STOP, START, HELP, a plain text; 2,000 contacts; each a new
provider id) are read and classified first (``read_inbound``), then handed to
``GroupCommit._commit`` in groups of ``--group`` in this thread, one group after another.
Prints one JSON line: wall time, this thread's CPU and (PostgreSQL) the writer's backend's
CPU, each in microseconds per text, and the round trips a group takes where counted. Pairs
of runs back to back compare two trees on a shared machine better than the HTTP bench.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path

from http_load import BODIES, SENDER, analyze, contact, database, prepare
from smsconsent import services
from smsconsent.services import InboundResult, Store
from smsconsent.services.group_commit import GroupCommit, _Job
from smsconsent.services.inbound import Inbound
from smsconsent.storage.database import make_engine
from smsconsent.storage.ledger import Ledger


def backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--stats", action="store_true", help="print the tables' scan counts")
    parser.add_argument("--perf", help="record the backend with perf into this file")
    args = parser.parse_args()
    with database(args.db) as db:
        prepare(db)
        store = Store(make_engine(db))
        texts = [services.read_inbound(store, contact(i), SENDER, BODIES[i % len(BODIES)],
                                       provider_id=f"SM{uuid.uuid4().hex}", workspace="bench")
                 for i in range(args.texts + 200)]
        writer = GroupCommit(store)
        def run(batch: list[Inbound]) -> None:
            for start in range(0, len(batch), args.group):
                jobs = [_Job(t.workspace.id, _body(t), Future(), (t.provider_id, t.contact), t.our)
                        for t in batch[start:start + args.group]]
                writer._commit(jobs)
                for job in jobs:
                    job.future.result()

        run(texts[:200])  # warm-up: the server prepares its statements from the fifth run
        analyze(db)  # as http_load.py does (and autovacuum would): plans for tables with rows
        driver = writer._conn.connection.dbapi_connection if writer._conn is not None else None
        pid = getattr(getattr(driver, "info", None), "backend_pid", None)
        perf = None
        if args.perf and pid is not None:
            perf = subprocess.Popen(["perf", "record", "-g", "-p", str(pid), "-o", args.perf],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        backend, cpu, wall = backend_cpu(pid), time.thread_time(), time.perf_counter()
        run(texts[200:])
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        backend = backend_cpu(pid) - backend
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(30)
        n = args.texts
        print(json.dumps({"db": db.split(":")[0], "texts": n, "group": args.group,
                          "wall_us": round(wall * 1e6 / n), "cpu_us": round(cpu * 1e6 / n),
                          "backend_us": round(backend * 1e6 / n),
                          "loadavg_1m": round(os.getloadavg()[0], 2)}))
        if args.stats and driver is not None:
            for row in driver.execute("SELECT generic_plans, custom_plans, statement "
                                      "FROM pg_prepared_statements ORDER BY 1 DESC"):
                print(*row)
            with store.engine.connect() as conn:
                for row in conn.exec_driver_sql(
                        "SELECT relname, seq_scan, seq_tup_read, idx_scan, n_tup_hot_upd "
                        "FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                        "AND seq_scan + idx_scan > 0 ORDER BY relname"):
                    print(*row)
        store.engine.dispose()


def _body(inbound: Inbound) -> Callable[[Ledger], InboundResult]:
    return partial(services.record_inbound, inbound=inbound)


if __name__ == "__main__":
    main()
