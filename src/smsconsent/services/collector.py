"""The cyclic garbage collector, paused for a bulk run (a filter, an import).

Such a run makes millions of short-lived rows, lists and tuples that form no cycles; the
collector walking them again and again was a sixth of a filter's time and a noticeable part
of an import's. Reference counting still frees everything as it goes, and the collector is
switched back on at the end (in the HTTP server, other requests run without it meanwhile).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Switch the collector off for the block, and back on after it if it was on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
