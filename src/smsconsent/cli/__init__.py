"""The ``smsconsent`` command: a thin layer over the services (parse, call, print).

Every command prints JSON unless ``--format table``; exit codes are 0 (done or allowed),
1 (refused by a rule), 2 (bad input). Each command module registers itself on ``app``.
"""

from __future__ import annotations

from smsconsent.cli.app import app


def main() -> None:
    """Entry point of the console script."""
    from smsconsent.cli import (  # noqa: F401  (each registers its commands on import)
        admin,
        bulk,
        consent,
    )

    app()


__all__ = ["app", "main"]
