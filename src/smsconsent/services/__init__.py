"""The use cases: the one place every interface (CLI, REST, webhooks, console) calls.

Each takes a ``Store`` (engine + clock) and plain values, and returns plain values or raises
an error from ``smsconsent.errors``.
"""

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
