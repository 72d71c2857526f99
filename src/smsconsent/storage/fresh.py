"""Events of a kind never seen for their contact, written from stencils (the bulk import's
fast path): the event row, its hash and the contact's row filled from text made once per
kind, proven byte for byte equal to the generic path on the first row of every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import Event, EventType
from smsconsent.storage.chain import canonical, event_hash, hash_payload
from smsconsent.storage.rows import CONTACT_COLUMNS, state_row
from smsconsent.storage.stencil import (
    Stencil,
    Unstencillable,
    json_string,
    json_value,
    placeholder,
)


@dataclass(frozen=True)
class FreshSpec:
    """A kind of event that varies only in a few strings: its contact, its time and the
    ``slots`` values that ``data`` turns into its data (see ``FreshEvent``)."""

    type: EventType
    actor: str
    data: Callable[..., dict[str, Any]]
    slots: int

    def event(self, contact: str, occurred_at: str, *values: str | None) -> Event:
        return Event(self.type, occurred_at, self.actor, contact, self.data(*values))


class FreshEvent:
    """An event of a ``FreshSpec`` kind: ``values`` are its contact, time and data values.

    ``record_many`` writes it from stencils when the contact is new to the ledger (a bulk
    import's usual case), and as ``event()`` otherwise.
    """

    __slots__ = ("contact", "spec", "values")

    def __init__(self, spec: FreshSpec, contact: str, occurred_at: str, *values: str | None
                 ) -> None:
        self.spec, self.contact = spec, contact
        self.values: tuple[Any, ...] = (contact, occurred_at, *values)

    def event(self) -> Event:
        return self.spec.event(*self.values)

    def state(self) -> ContactState:
        """The state of the contact after this event, the contact being new."""
        event = self.event()
        state = ContactState(self.contact)
        state.apply(event.type.value, event.occurred_at, event.actor, event.data)
        return state


class FreshKind:
    """A ``FreshSpec``'s stencils in one transaction: the event's data JSON, its hash payload
    and the new contact's row, each made by the generic function (``canonical``,
    ``hash_payload``, ``ContactState.apply`` + ``state_row``) on placeholders.

    Slots: 0 the contact, 1 the time, then the data values, then the sequence number, the
    previous hash and the data JSON. The first event written is also made the generic way and
    compared; if they differ (a function that does more with a value than place it) the kind
    is dropped and every event goes the generic way. The stored state leaves out what is None
    (``ContactState.to_stored``), so a row whose value for a slot of the state is None is
    not stencilled either.
    """

    def __init__(self, spec: FreshSpec, workspace_id: int, recorded_at: str) -> None:
        n = spec.slots
        self._seq, self._prev, self._data = 2 + n, 3 + n, 4 + n
        width = 5 + n
        marks = [placeholder(i) for i in range(width)]
        data = spec.data(*marks[2:2 + n])
        self.spec, self.workspace_id, self.recorded_at = spec, workspace_id, recorded_at
        self.type = spec.type.value
        self.data = Stencil(canonical(data), width)
        self.payload = Stencil(hash_payload(
            marks[self._prev], marks[self._seq], spec.type.value, marks[0],  # type: ignore[arg-type]
            marks[1], recorded_at, spec.actor, None, marks[self._data]), width)
        state = ContactState(marks[0])
        state.apply(spec.type.value, marks[1], spec.actor, data)
        cells = state_row(workspace_id, state, recorded_at)
        if tuple(cells) != CONTACT_COLUMNS:
            raise Unstencillable("state_row's columns changed")
        self._fill_data, self._fill_payload = self.data.filler, self.payload.filler
        self.cells: list[tuple[int, Any]] = []  # (0, constant) | (1, raw slot) | (2, filler)
        state_slots: set[int] = set()
        for value in cells.values():
            cell = Stencil(value, width) if isinstance(value, str) else None
            if cell is None or cell.constant:
                self.cells.append((0, value))
            elif cell.raw_slot is not None:
                self.cells.append((1, cell.raw_slot))
            else:
                self.cells.append((2, cell.filler))
                state_slots.update(cell.holes)
        self.state_slots = sorted(state_slots)
        self.checked = False

    def write(self, seq: int, prev: str, values: tuple[Any, ...]
              ) -> tuple[tuple[Any, ...], str, tuple[Any, ...]] | None:
        """The event row, its hash and the contact's row (None: this kind cannot be
        stencilled after all)."""
        for slot in self.state_slots:
            if values[slot] is None:
                return None
        encoded = [json_string(v) if v.__class__ is str else json_value(v) for v in values]
        encoded += (str(seq), json_string(prev), "")
        data_json = self._fill_data(*encoded)
        encoded[self._data] = json_string(data_json)
        digest = sha256(self._fill_payload(*encoded).encode()).hexdigest()
        row = (self.workspace_id, seq, self.type, values[0], values[1], self.recorded_at,
               self.spec.actor, None, data_json, digest)
        new_row = tuple([x if k == 0 else values[x] if k == 1 else x(*encoded)
                         for k, x in self.cells])
        if not self.checked:
            if (row, new_row) != self._generic(seq, prev, values):
                return None
            self.checked = True
        return row, digest, new_row

    def _generic(self, seq: int, prev: str, values: tuple[Any, ...]
                 ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        event = self.spec.event(*values)
        data_json = canonical(event.data)
        digest = event_hash(prev, seq, event.type.value, event.contact, event.occurred_at,
                            self.recorded_at, event.actor, event.provider_id, data_json)
        state = ContactState(values[0])
        state.apply(event.type.value, event.occurred_at, event.actor, event.data)
        return ((self.workspace_id, seq, event.type.value, event.contact, event.occurred_at,
                 self.recorded_at, event.actor, event.provider_id, data_json, digest),
                tuple(state_row(self.workspace_id, state, self.recorded_at).values()))
