"""Data for the bulk benchmarks: CSV files of fictional +1 555 numbers, written to a temp dir.

Number ``i`` is ``+1 555`` followed by ``(A * i + B) mod 10**7``: an affine permutation, so the
numbers look scattered, never repeat, and a recipients file can hold exactly the opted-out ones
it should. A third are written in national form, ``(555) 123-4567``, the rest in E.164; one row
in a thousand is unreadable.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime, timedelta
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


def opt_outs(path: Path, count: int, *, unique_times: bool = False) -> Path:
    """Opt-outs of numbers 0..count-1, with a time, a source and evidence. The times repeat
    every 28 days, so the stored states share 28 texts; with ``unique_times`` each opt-out has
    its own second (as in a real export), so every stored text differs."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["phone", "opted_out_at", "source", "evidence"])
        for i in range(count):
            at = (start + timedelta(seconds=97 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") \
                if unique_times else f"2024-03-{1 + i % 28:02d}T10:00:00Z"
            writer.writerow([number(i, i), at, "keyword STOP", "old tool export"])
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


def run_cli(db: str, *args: str) -> dict[str, object]:
    """Run the real ``smsconsent`` command; its summary JSON plus wall time, CPU seconds (its
    processes, helpers included), the peak of their resident memory summed (sampled from /proc
    every 20 ms) and the load average when it began."""
    import json
    import os
    import resource
    import threading
    import time

    env = {**os.environ, "SMSCONSENT_DB": db, "SMSCONSENT_WORKSPACE": "bench"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "smsconsent.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    sampler = threading.Thread(target=_sample_rss, args=(proc, peak), daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, out, err)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, object] = json.loads(out) if out.strip() else {}
    result.update(wall_seconds=round(wall, 2),
                  cpu_seconds=round(after.ru_utime + after.ru_stime
                                    - before.ru_utime - before.ru_stime, 2),
                  peak_rss_mb=round(peak[0] / 1024, 1), load_average=load)
    return result


def _sample_rss(proc: subprocess.Popen[str], peak: list[int]) -> None:
    """The largest sum of VmRSS (KiB) over ``proc`` and its descendants, until it ends."""
    import time

    pid = proc.pid
    while proc.poll() is None:
        total, todo = 0, [pid]
        while todo:
            current = todo.pop()
            try:
                with open(f"/proc/{current}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                            break
                with open(f"/proc/{current}/task/{current}/children") as children:
                    todo.extend(int(c) for c in children.read().split())
            except (OSError, ValueError):
                continue
        peak[0] = max(peak[0], total)
        time.sleep(0.02)


def workspace(db: str) -> None:
    """A workspace ``bench`` with the sending number +1 555 765 4321."""
    run_cli(db, "workspace", "create", "bench", "--business-name", "Bench",
            "--contact", "help@bench.test")
    run_cli(db, "number", "add", "+15557654321")
