"""Events of a kind never seen for their contact, written from stencils (the bulk import's
fast path): the event row, its hash and the contact's row filled from text made once per
kind, proven byte for byte equal to the generic path on the first row of every kind.

The filling is in two steps, so that a bulk import's parser process can do the first, beside
the writer: ``FreshForm.pieces`` fills all that a row's own values give; ``FreshKind`` then
puts in what only the writer knows (sequence numbers, the previous hash, the time recorded,
the workspace) and takes the hashes, one SHA-256 an event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from itertools import repeat
from typing import Any

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import Event, EventType
from smsconsent.storage.chain import canonical, event_hash, hash_payload
from smsconsent.storage.contact_row import CONTACT_COLUMNS, state_row
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


class FreshForm:
    """A ``FreshSpec``'s stencils, free of any transaction: what a process that only reads
    the rows (an import's parser process) can fill, ahead of the writer.

    Slots: 0 the contact, 1 the time, then the data values (the ``row`` first slots are the
    row's own values), then the data JSON (made from them), then the writer's: the sequence
    number, the previous hash, the time recorded and the workspace. ``pieces`` fills, from a
    row's values, all the text that does not hold a writer's slot: the data JSON, the hash
    payload's two texts between its sequence number, time recorded and previous hash, and the
    contact row's filled cells; ``FreshKind`` puts the writer's values between them.
    """

    def __init__(self, spec: FreshSpec) -> None:
        n = spec.slots
        self.spec, self.type, self.row = spec, spec.type.value, 2 + n
        data = 2 + n
        seq, prev, recorded, ws = data + 1, data + 2, data + 3, data + 4
        width = data + 5
        marks = [placeholder(i) for i in range(width)]
        content = spec.data(*marks[2:2 + n])
        self.data = Stencil(canonical(content), width)
        if not set(self.data.holes) <= set(range(self.row)):
            raise Unstencillable("the data holds a slot that is not the row's")
        (head, *between, tail), order = Stencil(hash_payload(
            marks[prev], marks[seq], self.type, marks[0], marks[1],  # type: ignore[arg-type]
            marks[recorded], spec.actor, None, marks[data]), width).cut({seq, prev, recorded})
        if order != [seq, recorded, prev] or not head.constant or not tail.constant:
            raise Unstencillable("the hash payload's layout changed")
        self.head, self.tail = head.fill(()), tail.fill(())
        state = ContactState(marks[0])
        state.apply(self.type, marks[1], spec.actor, content)
        cells = state_row(marks[ws], state, marks[recorded])  # type: ignore[arg-type]
        if tuple(cells) != CONTACT_COLUMNS:
            raise Unstencillable("state_row's columns changed")
        # each cell: (0, constant) | (1, a row's slot) | (2, a filled piece) | (3, writer's slot)
        self.cells: list[tuple[int, Any]] = []
        self.fillers: list[Callable[..., str]] = []
        cell_holes: list[tuple[int, ...]] = []
        state_slots: set[int] = set()
        for value in cells.values():
            cell = Stencil(value, width) if isinstance(value, str) else None
            if cell is None or cell.constant:
                self.cells.append((0, value))
            elif cell.raw_slot is not None:
                self.cells.append((1 if cell.raw_slot < self.row else 3, cell.raw_slot))
            elif max(cell.holes) > data:
                raise Unstencillable("a contact cell holds a writer's slot inside its text")
            else:
                self.cells.append((2, 3 + len(self.fillers)))
                self.fillers.append(cell.filler)
                cell_holes.append(cell.holes)
                state_slots.update(cell.holes)
        self.state_slots = sorted(s for s in state_slots if s < self.row)  # the row's values
        self.recorded, self.ws = recorded, ws
        # the payload's two texts, then the contact row's cells; those that hang on the data
        # values alone (not on the contact or the time) are the same for rows alike
        self.fills = [b.filler for b in between] + self.fillers
        data_slots = set(range(2, data + 1))
        self.by_data = frozenset(i for i, holes in enumerate(
            [b.holes for b in between] + cell_holes) if set(holes) <= data_slots)
        self.by_row = [(1 + i, fill) for i, fill in enumerate(self.fills)
                       if i not in self.by_data]  # (index in the pieces, filler)

    def pieces(self, values: tuple[Any, ...], memo: dict[tuple[Any, ...], Any] | None = None
               ) -> list[str] | None:
        """The data JSON, the payload's two texts and the contact row's filled cells for a
        row's values (None: the row cannot be stencilled; the stored state leaves out what
        is None, so a None in a slot of the state is refused).

        ``memo``: what hangs on the data values alone (their encoding, the data JSON, the
        pieces made of them), by those values, kept from row to row: the very same string
        objects then, which a pickle sends once.
        """
        for slot in self.state_slots:
            if values[slot] is None:
                return None
        contact, at = values[0], values[1]
        encoded = [json_string(contact) if contact.__class__ is str else json_value(contact),
                   json_string(at) if at.__class__ is str else json_value(at)]
        key = values[2:]
        shared = None if memo is None else memo.get(key)
        if shared is None:
            encoded += [json_string(v) if v.__class__ is str else json_value(v) for v in key]
            data_json = self.data.filler(*encoded)
            encoded.append(json_string(data_json))
            shared = ([data_json, *[fill(*encoded) if i in self.by_data else ""
                                    for i, fill in enumerate(self.fills)]], encoded[2:])
            if memo is not None:
                memo[key] = shared
        else:
            encoded += shared[1]
        made: list[str] = shared[0].copy()
        for i, fill in self.by_row:
            made[i] = fill(*encoded)
        return made

    def pieces_many(self, values: list[Sequence[Any]]) -> list[list[str]] | None:
        """``pieces`` for rows given as columns of their values, as columns (None: a row
        cannot be stencilled). Rows whose data values are all alike (an export's evidence
        and source, as a rule) are filled a column at a time, by ``map``: no Python frame a
        row; others a row at a time."""
        count = len(values[0])
        for slot in self.state_slots:
            if None in values[slot]:
                return None
        key = tuple(column[0] for column in values[2:]) if count else ()
        try:
            if not count or any(list(column).count(first) != count
                                for column, first in zip(values[2:], key, strict=True)):
                raise TypeError
            contacts, times = list(map(json_string, values[0])), list(map(json_string, values[1]))
        except TypeError:  # not a str, or data values that vary: a row at a time
            memo: dict[tuple[Any, ...], Any] = {}
            rows = [self.pieces(row, memo) for row in zip(*values, strict=True)]
            if None in rows:
                return None
            return [list(c) for c in zip(*rows, strict=True)] if rows \
                else [[] for _ in range(1 + len(self.fills))]
        shared = self.pieces(("", "", *key))
        assert shared is not None  # the state's slots were checked above
        made = [[piece] * count for piece in shared]
        tail = [repeat(x) for x in self._encoded_data(key)]
        for i, fill in self.by_row:
            made[i] = list(map(fill, contacts, times, *tail))
        return made

    def _encoded_data(self, key: tuple[Any, ...]) -> list[str]:
        """The data values and the data JSON, encoded as the fillers take them."""
        encoded = ["", "", *[json_string(v) if v.__class__ is str else json_value(v)
                             for v in key]]
        encoded.append(json_string(self.data.filler(*encoded)))
        return encoded[2:]


_FORMS: dict[FreshSpec, FreshForm | None] = {}


def fresh_form(spec: FreshSpec) -> FreshForm | None:
    """``spec``'s form, made once per process (None: it cannot be stencilled)."""
    if spec not in _FORMS:
        try:
            _FORMS[spec] = FreshForm(spec)
        except Unstencillable:
            _FORMS[spec] = None
    return _FORMS[spec]


Written = tuple[list[tuple[Any, ...]], str, list[tuple[Any, ...]]]


class FreshKind:
    """A ``FreshSpec``'s form in one transaction (its workspace and time recorded): the
    event rows, their hashes and the new contacts' rows from each row's values and pieces
    (``FreshForm.pieces``, made here or by the parser process).

    The first event written is also made the generic way (``canonical``, ``event_hash``,
    ``ContactState.apply`` + ``state_row``) and compared; if they differ (a function that
    does more with a value than place it) the kind is dropped and every event goes the
    generic way.
    """

    def __init__(self, spec: FreshSpec, workspace_id: int, recorded_at: str, *,
                 flags_as_ints: bool = False) -> None:
        form = fresh_form(spec)
        if form is None:
            raise Unstencillable(f"{spec.type.value} events cannot be stencilled")
        self.form, self.spec, self.type = form, spec, form.type
        # SQLite stores a flag as the integer 0 or 1 either way, and its driver binds an int
        # as it is but looks a bool up among its adapters first (~0.6 µs a contact row)
        self.cells = [(k, int(x) if k == 0 and flags_as_ints and isinstance(x, bool) else x)
                      for k, x in form.cells]
        self.workspace_id, self.recorded_at = workspace_id, recorded_at
        self._recorded = json_string(recorded_at)
        self._late = {form.ws: workspace_id, form.recorded: recorded_at}
        self.checked = False

    def write(self, seq: int, prev: str, values: tuple[Any, ...]
              ) -> tuple[tuple[Any, ...], str, tuple[Any, ...]] | None:
        """Event ``seq``'s row, its hash and the contact's row (None: this kind cannot be
        stencilled after all)."""
        pieces = self.form.pieces(values)
        if pieces is None:
            return None
        form = self.form
        digest = sha256(f"{form.head}{seq}{pieces[1]}{self._recorded}{pieces[2]}"
                        f"{json_string(prev)}{form.tail}".encode()).hexdigest()
        row = (self.workspace_id, seq, self.type, values[0], values[1], self.recorded_at,
               form.spec.actor, None, pieces[0], digest)
        new_row = tuple([x if k == 0 else values[x] if k == 1 else pieces[x] if k == 2
                         else self._late[x] for k, x in self.cells])
        if not self.checked:
            if (row, new_row) != self._generic(seq, prev, values):
                return None
            self.checked = True
        return row, digest, new_row

    def write_many(self, seq: int, prev: str, values: list[Sequence[Any]],
                   pieces: list[Sequence[str]]) -> Written | None:
        """Events ``seq + 1`` on, after ``prev``, for rows given as columns of their values
        and of their pieces: the event rows, the last hash and the contact rows (None: the
        first row differs from the generic path's)."""
        form, head, tail, recorded = self.form, self.form.head, self.form.tail, self._recorded
        first, quoted = seq + 1, json_string(prev)
        digests = []
        for after_seq, after_recorded in zip(pieces[1], pieces[2], strict=True):
            seq += 1
            digest = sha256(f"{head}{seq}{after_seq}{recorded}{after_recorded}{quoted}{tail}"
                            .encode()).hexdigest()
            digests.append(digest)
            quoted = f'"{digest}"'  # a hash is hex digits: JSON writes it as it is, quoted
        ws, at, actor = repeat(self.workspace_id), repeat(self.recorded_at), repeat(form.spec.actor)
        rows = list(zip(ws, range(first, seq + 1), repeat(self.type), values[0], values[1], at,
                        actor, repeat(None), pieces[0], digests))
        new_rows = list(zip(*[repeat(x) if k == 0 else values[x] if k == 1
                              else pieces[x] if k == 2 else repeat(self._late[x])
                              for k, x in self.cells], strict=False))  # repeat() is endless
        if not rows:
            return rows, prev, new_rows
        if not self.checked:
            if (rows[0], new_rows[0]) != self._generic(first, prev, tuple(v[0] for v in values)):
                return None
            self.checked = True
        return rows, digests[-1] if digests else prev, new_rows

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
