"""How a contact's state is stored as a ``contacts`` row.

Apart from ``rows.py`` (the statements) so that an import's parser process, which fills
contact rows ahead of the writer (``fresh.py``), starts without loading SQLAlchemy: a tenth
of a second the writer would spend waiting for its first rows.
"""

from __future__ import annotations

from typing import Any

from smsconsent.domain.consent import ContactState
from smsconsent.storage.chain import canonical


def state_row(workspace_id: int, state: ContactState, now: str) -> dict[str, Any]:
    """The ``contacts`` row that stores ``state``: the summary columns and the whole state."""
    return {
        "workspace_id": workspace_id,
        "phone": state.phone,
        "status": state.status,
        "blocked": state.blocked,
        "lists": "".join(f",{n}" for n, s in sorted(state.lists.items())
                         if s.status == "subscribed") + ("," if state.lists else ""),
        "state": canonical(state.to_stored()),
        "updated_at": now,
    }


CONTACT_COLUMNS = tuple(state_row(0, ContactState(""), ""))
