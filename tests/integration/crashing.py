"""The victim of the crash test: writes inbound STOPs and STARTs in a loop and prints each
provider id once its transaction has committed, until it is killed (or a bound is hit)."""

from __future__ import annotations

import sys
import time

from smsconsent import services
from smsconsent.services import Store
from smsconsent.storage.database import make_engine

OURS, THEM = "+15557654321", "+15551234567"


def main(db_url: str) -> None:
    store = Store(make_engine(db_url))
    deadline = time.monotonic() + 60
    for i in range(100_000):
        if time.monotonic() > deadline:
            break
        services.handle_inbound(store, THEM, OURS, "STOP" if i % 2 == 0 else "START",
                                provider_id=f"SM{i}")
        sys.stdout.write(f"SM{i}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
