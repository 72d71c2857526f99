"""Benchmark: filter N recipients against N opted-out contacts (SQLite).

    .venv/bin/python bench/filter.py [ROWS] [OVERLAP]   (default 1,000,000 and 0.5)

Builds the opted-out contacts with ``import opt-outs`` (not timed), writes a recipients file
in which every ``1/OVERLAP``-th row is opted out, then times the real ``filter`` command and
reports its peak RSS.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import gen


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    overlap = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = f"sqlite:///{folder / 'bench.db'}"
        gen.workspace(db)
        opt_outs = gen.opt_outs(folder / "opt-outs.csv", rows)
        setup = gen.run_cli(db, "import", "opt-outs", str(opt_outs))
        recipients = gen.recipients(folder / "recipients.csv", rows, rows, overlap)
        result = gen.run_cli(db, "filter", str(recipients), "--from", "+15557654321",
                             "--purpose", "informational", "-o", str(folder / "send.csv"),
                             "--rejects", str(folder / "refused.csv"))
        print(json.dumps({"rows": rows, "overlap": overlap, "opted_out_contacts":
                          setup["imported"], "filter": result}, indent=1))


if __name__ == "__main__":
    main()
