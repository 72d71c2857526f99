"""Benchmark: filter N recipients against N opted-out contacts (SQLite).

    .venv/bin/python bench/filter.py [ROWS] [OVERLAP]   (default 1,000,000 and 0.5)
    .venv/bin/python bench/filter.py 200000 0.5 --keep /tmp/fb --repeat 3
    .venv/bin/python bench/filter.py 1000000 0.5 --keep /tmp/fb --file-rows 5000000
    .venv/bin/python bench/filter.py 1000000 0.5 --keep /tmp/fb --unique-times

Builds the opted-out contacts with ``import opt-outs`` (not timed), writes a recipients file
in which every ``1/OVERLAP``-th row is opted out, then times the real ``filter`` command and
reports its wall and CPU seconds and peak RSS. ``--keep DIR`` keeps the database and files in
DIR and reuses them on the next run with the same ROWS and OVERLAP (the setup import of a
million opt-outs takes longer than the filter); ``--repeat N`` runs the filter N times.
``--file-rows M`` filters a file of M recipients (the first ROWS*OVERLAP of them opted out,
the rest new numbers) against the same ROWS opt-outs: memory on files of several million.
``--unique-times`` gives every opt-out its own time (kept apart, in DIR/...-unique), so every
stored state text differs, as in a real export; by default the times repeat every 28 days
and the opted-out contacts share 28 stored texts, whose verdicts the filter remembers.
Peak RSS is that of the command and its helper process summed (sampled from /proc).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("overlap", nargs="?", type=float, default=0.5)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the data in this folder")
    parser.add_argument("--repeat", type=int, default=1, help="filter runs (default 1)")
    parser.add_argument("--purpose", default="informational")
    parser.add_argument("--file-rows", type=int, help="recipients in the file (default ROWS)")
    parser.add_argument("--processes", type=int, default=1, help="filter --processes (1 or 2)")
    parser.add_argument("--unique-times", action="store_true",
                        help="every opt-out at its own time (distinct stored texts)")
    args = parser.parse_args()
    file_rows = args.file_rows or args.rows
    if args.keep is None:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(Path(tmp), args.rows, args.overlap, args.repeat, args.purpose,
                         file_rows, args.processes, args.unique_times)
    else:
        unique = "-unique" if args.unique_times else ""
        report = run(args.keep / f"filter-{args.rows}-{args.overlap}{unique}", args.rows,
                     args.overlap, args.repeat, args.purpose, file_rows, args.processes,
                     args.unique_times)
    print(json.dumps(report, indent=1))


def run(folder: Path, rows: int, overlap: float, repeat: int, purpose: str,
        file_rows: int, processes: int = 1, unique_times: bool = False) -> dict[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{folder / 'bench.db'}"
    base = folder / "recipients.csv"
    setup: dict[str, object] = {"imported": "reused"}
    if not base.exists():
        (folder / "bench.db").unlink(missing_ok=True)
        gen.workspace(db)
        opt_outs = gen.opt_outs(folder / "opt-outs.csv", rows, unique_times=unique_times)
        setup = gen.run_cli(db, "import", "opt-outs", str(opt_outs))
        gen.recipients(folder / "recipients.tmp", rows, rows, overlap).rename(base)
    recipients = base if file_rows == rows else folder / f"recipients-{file_rows}.csv"
    if not recipients.exists():
        gen.recipients(folder / "recipients.tmp", file_rows, rows, overlap).rename(recipients)
    runs = [gen.run_cli(db, "filter", str(recipients), "--from", "+15557654321",
                        "--purpose", purpose, "-o", str(folder / "send.csv"),
                        "--rejects", str(folder / "refused.csv"),
                        "--processes", str(processes))
            for _ in range(repeat)]
    return {"rows": file_rows, "processes": processes, "overlap": overlap,
            "unique_times": unique_times,
            "opted_out_contacts": setup["imported"],
            "filter": runs[0] if repeat == 1 else runs}


if __name__ == "__main__":
    main()
