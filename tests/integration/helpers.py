"""Small builders the integration tests share."""

from __future__ import annotations

from smsconsent import services
from smsconsent.services import Store

OURS = "+15557654321"
OTHER = "+15557654322"
ALICE = "+15551234567"
BOB = "+15551234568"


def workspace(store: Store, name: str = "default", **options: object) -> str:
    """A workspace with one number (OURS); returns its name."""
    services.create_workspace(store, name, business_name="Acme Jobs",
                              contact="help@acme.test", **options)
    services.add_number(store, name, OURS if name == "default" else OTHER)
    return name


def head(store: Store, name: str = "default") -> int:
    """How many events the workspace's ledger holds."""
    return int(services.verify(store, name)["events"])
