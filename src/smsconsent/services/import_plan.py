"""What an import writes for a contact new to the ledger, made ready before the writer needs it.

An opt-out import gives every number the ledger has never seen one event of one kind, whose
values are a few of the row's fields (``FreshPlan``). The parser process, which reads the rows
beside the writer, also fills everything of those events that the row alone gives
(``storage/fresh.FreshForm.pieces``: the data JSON, most of the hash payload, the contact
row's state) and sends it with the run (``Prepared``). When none of a run's numbers is stored,
the writer then only numbers, hashes and inserts them (``Ledger.record_new``); otherwise it
decides each row as always and the pieces go unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from smsconsent.storage.fresh import FreshEvent, FreshSpec, fresh_form

WORKSPACE_KEY = "sms:workspace"
SOURCE = "import"


def opt_out_data(file_name: str, evidence: str | None, origin: str | None) -> dict[str, Any]:
    """An imported opt-out's data. Here, beside the plan, and not with the import's rules
    (imports.py): the parser process gets it pickled, and unpickling it imports its module,
    which must not bring in the storage layer (a tenth of a second before the first rows)."""
    return {"keys": [WORKSPACE_KEY], "method": SOURCE, "source": SOURCE,
            "evidence": evidence, "origin": origin, "file": file_name}


@dataclass(frozen=True)
class FreshPlan:
    """One ``spec`` event per new contact, its values the row's ``fields`` (attribute names
    of ``import_rows.Row``, the number first, then the time). Plain data, for the parser
    process (``spec.data`` must then be a module-level function or a partial of one)."""

    spec: FreshSpec
    fields: tuple[str, ...]

    def event(self, row: Any) -> FreshEvent:
        """The event this plan gives ``row`` (the import's rule, for a new contact)."""
        return FreshEvent(self.spec, *attrgetter(*self.fields)(row))


@dataclass(slots=True)
class Prepared:
    """A run's rows as ``Ledger.record_new`` takes them: columns of the plan's values and
    of their pieces."""

    values: list[Sequence[Any]]
    pieces: list[Sequence[str]]


def prepare_rows(plan: FreshPlan, rows: Sequence[Any]) -> Prepared | None:
    """``prepare`` for a run read in this process (``import_rows.Row`` objects)."""
    return prepare(plan, {name: list(map(attrgetter(name), rows)) for name in plan.fields})


def prepare(plan: FreshPlan, columns: dict[str, list[Any]]) -> Prepared | None:
    """The run given as ``columns`` (by field name), prepared; None if its kind or one of
    its rows cannot be stencilled (the writer then decides every row itself)."""
    form = fresh_form(plan.spec)
    if form is None:
        return None
    values: list[Sequence[Any]] = [columns[name] for name in plan.fields]
    pieces = form.pieces_many(values)
    return None if pieces is None else Prepared(values, list(pieces))
