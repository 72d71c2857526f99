"""Data for the bulk benchmarks: CSV files of fictional +1 555 numbers, written to a temp dir.

Number ``i`` is ``+1 555`` followed by ``(A * i + B) mod 10**7``: an affine permutation, so the
numbers look scattered, never repeat, and a recipients file can hold exactly the opted-out ones
it should. A third are written in national form, ``(555) 123-4567``, the rest in E.164; one row
in a thousand is unreadable.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

SPACE = 10_000_000
A, B = 7_368_787, 1_234_567  # A shares no factor with 10**7


def number(i: int, row: int) -> str:
    if row % 1000 == 999:
        return "not-a-number"
    digits = f"555{(A * i + B) % SPACE:07d}"
    if row % 3 == 0:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return f"+1{digits}"


def opt_outs(path: Path, count: int) -> Path:
    """Opt-outs of numbers 0..count-1, with a time, a source and evidence."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "opted_out_at", "source", "evidence"])
        for i in range(count):
            writer.writerow([number(i, i), f"2024-03-{1 + i % 28:02d}T10:00:00Z",
                             "keyword STOP", "old tool export"])
    return path


def recipients(path: Path, count: int, opted_out: int, overlap: float) -> Path:
    """``count`` recipients with merge fields; every ``1/overlap``-th is one of the
    ``opted_out`` numbers of ``opt_outs``, the others never opted out."""
    every = max(1, round(1 / overlap)) if overlap > 0 else 0
    known, fresh = 0, opted_out
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["first_name", "phone", "city", "job"])
        for row in range(count):
            if every and row % every == 0 and known < opted_out:
                i, known = known, known + 1
            else:
                i, fresh = fresh, fresh + 1
            writer.writerow([f"Name{row}", number(i, row), "Lyon, FR" if row % 2 else "Austin",
                             "nurse"])
    return path


if __name__ == "__main__":
    kind, target, rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    if kind == "opt-outs":
        opt_outs(target, rows)
    else:
        recipients(target, rows, int(sys.argv[4]), float(sys.argv[5]))
