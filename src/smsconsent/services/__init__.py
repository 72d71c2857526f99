"""The use cases: the one place every interface (CLI, REST, webhooks, console) calls.

Each takes a ``Store`` (engine + clock) and plain values, and returns plain values or raises
an error from ``smsconsent.errors``.

Names are imported on first use (``__getattr__``), not with the package: a command that needs
one use case (``filter``) then loads its modules only, not every service's (the classifier,
the import pipeline, the web pieces): a tenth of a second of every CLI start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smsconsent.lazy import lazy_names

if TYPE_CHECKING:
    from smsconsent.services.agents import (
        block,
        grant_consent,
        opt_in,
        opt_out,
        subscribe,
        unblock,
        unsubscribe,
    )
    from smsconsent.services.base import Store
    from smsconsent.services.exports import export_ledger, export_opt_outs
    from smsconsent.services.filtering import SPLIT_ROWS, filter_recipients
    from smsconsent.services.imports import import_contacts, import_opt_outs
    from smsconsent.services.inbound import (
        InboundResult,
        handle_inbound,
        read_inbound,
        record_inbound,
    )
    from smsconsent.services.queries import history, list_contacts, status, verify
    from smsconsent.services.sending import check, send
    from smsconsent.services.workspaces import (
        add_list,
        add_number,
        create_workspace,
        default_workspace,
        set_secrets,
        show_workspace,
        update_workspace,
    )

_HOMES = {
    "InboundResult": "inbound",
    "SPLIT_ROWS": "filtering",
    "Store": "base",
    "add_list": "workspaces",
    "add_number": "workspaces",
    "block": "agents",
    "check": "sending",
    "create_workspace": "workspaces",
    "default_workspace": "workspaces",
    "export_ledger": "exports",
    "export_opt_outs": "exports",
    "filter_recipients": "filtering",
    "grant_consent": "agents",
    "handle_inbound": "inbound",
    "history": "queries",
    "import_contacts": "imports",
    "import_opt_outs": "imports",
    "list_contacts": "queries",
    "opt_in": "agents",
    "opt_out": "agents",
    "read_inbound": "inbound",
    "record_inbound": "inbound",
    "send": "sending",
    "set_secrets": "workspaces",
    "show_workspace": "workspaces",
    "status": "queries",
    "subscribe": "agents",
    "unblock": "agents",
    "unsubscribe": "agents",
    "update_workspace": "workspaces",
    "verify": "queries",
}


__getattr__ = lazy_names(__name__, {name: f"smsconsent.services.{home}"
                                    for name, home in _HOMES.items()})


__all__ = [
    "SPLIT_ROWS",
    "InboundResult",
    "Store",
    "add_list",
    "add_number",
    "block",
    "check",
    "create_workspace",
    "default_workspace",
    "export_ledger",
    "export_opt_outs",
    "filter_recipients",
    "grant_consent",
    "handle_inbound",
    "history",
    "import_contacts",
    "import_opt_outs",
    "list_contacts",
    "opt_in",
    "opt_out",
    "read_inbound",
    "record_inbound",
    "send",
    "set_secrets",
    "show_workspace",
    "status",
    "subscribe",
    "unblock",
    "unsubscribe",
    "update_workspace",
    "verify",
]
