"""The ledger: an append-only, hash-chained event log per workspace, and the contact states
folded from it.

Each event's hash covers its own fields and the previous event's hash, so a changed, removed or
reordered row breaks the chain from that point on; ``verify`` recomputes it and also refolds
every contact's state from the events and compares it with the stored one. The previous hash is
not stored beside each event (it is the hash of the event before, ``seq - 1``): readers join it
back (``chained``, storage/history.py, with the other readers), so every event read still
carries it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, literal_column, select, true, update

from smsconsent.domain.consent import ContactState
from smsconsent.domain.events import Event, RecordedEvent
from smsconsent.storage import tables as t
from smsconsent.storage.chain import canonical, event_hash
from smsconsent.storage.contact_row import CONTACT_COLUMNS
from smsconsent.storage.database import bulk_checkpoints, is_sqlite
from smsconsent.storage.fresh import FreshEvent, FreshKind, FreshSpec
from smsconsent.storage.history import chained, contact_events, fold, previous_hash, stored_text
from smsconsent.storage.pg_close import close_ledger, texts_reads
from smsconsent.storage.prepared import Prepared
from smsconsent.storage.rows import insert_rows, save_states, stored_contact, stored_texts
from smsconsent.storage.stencil import Unstencillable

EVENT_COLUMNS = ("workspace_id", "seq", "type", "contact", "occurred_at", "recorded_at", "actor",
                 "provider_id", "data", "hash")


@dataclass
class Ledger:
    """One write transaction's view of a workspace's ledger; made by ``Ledger.open``.

    Opening it locks the workspace row, so nothing else writes to this workspace until the
    transaction ends (storage/database.py explains the invariant).

    On PostgreSQL events are held until ``close`` writes them with the states and head in
    one statement (storage/pg_close.py); reading events, or taking ``conn``, writes them first.
    A ledger ``resume``d from one not closed takes over what that one has not written yet, so
    the texts of a group commit are written by one ``close`` (services/group_commit.GroupCommit).
    """

    _conn: Connection
    workspace_id: int
    head_seq: int
    head_hash: str
    recorded_at: str
    _states: dict[str, ContactState] = field(default_factory=dict)
    # Contacts whose state moved, with the ``recorded_at`` of the ledger that last moved each
    # (their row's ``updated_at``).
    _dirty: dict[str, str] = field(default_factory=dict)
    _stored: set[str] = field(default_factory=set)
    _kinds: dict[FreshSpec, FreshKind | None] = field(default_factory=dict)
    # The head event's ``recorded_at`` and ``head_seq`` when opened, for ``resume``.
    _head_at: str | None = None
    _opened_seq: int = 0
    _pending: list[tuple[Any, ...]] = field(default_factory=list)  # events not yet written
    held: dict[str, Any] = field(default_factory=dict)  # rows only the lock's holder changes
    _absent: set[str] = field(default_factory=set)  # provider ids not in the table (prefetch)
    _batched: bool = False

    @property
    def conn(self) -> Connection:
        """The transaction's connection, every event recorded so far written to it."""
        if self._pending:
            insert_rows(self._conn, t.events, EVENT_COLUMNS, self._pending)
            self._written()
        return self._conn

    def _written(self) -> None:
        """The events held are written: their provider ids are in the table now."""
        self._absent.difference_update(row[7] for row in self._pending)
        self._pending = []

    @classmethod
    def open(cls, conn: Connection, workspace_id: int, now: Callable[[], str]) -> Ledger:
        """Lock the workspace, then read the clock: never before, and never behind the head.

        A clock read before the lock, or a machine whose clock lags another's, would give a
        later event an earlier time, and the time-ordered fold would then apply a START before
        the STOP it followed. So ``recorded_at`` is at least the head event's.
        """
        head_seq, head_hash, last = _HEAD.first(conn, ws=workspace_id)
        if head_seq and last is None:  # the head's time comes with the lock, unless written
            # while the lock was waited for (not in _HEAD's snapshot): read on its own then
            (last,) = _EVENT_RECORDED.first(conn, ws=workspace_id, seq=head_seq)
        return cls._at(conn, workspace_id, head_seq, head_hash, last, now)

    @classmethod
    def resume(cls, previous: Ledger, now: Callable[[], str]) -> Ledger:
        """What ``open`` would give after ``previous`` in this same transaction (the group
        commit, services/group_commit.py), without reading it again: the lock is held already, the
        head is ``previous``'s, and so is the head event's time, and ``held``.

        On SQLite ``previous`` must be closed. On PostgreSQL it need not be: what it has not
        written (events, moved states) is handed on, with the states it holds, and written
        by this ledger's ``close`` (or a later one's); nothing else writes this workspace's
        rows meanwhile, as the lock is held."""
        last = previous.recorded_at if previous.head_seq != previous._opened_seq \
            else previous._head_at
        ledger = cls._at(previous._conn, previous.workspace_id, previous.head_seq,
                         previous.head_hash, last, now, previous.held)
        if previous._batched:
            ledger._pending, ledger._dirty = previous._pending, previous._dirty
            ledger._states, ledger._stored = previous._states, previous._stored
            ledger._absent = previous._absent
            previous._pending, previous._dirty = [], {}
        return ledger

    @classmethod
    def _at(cls, conn: Connection, workspace_id: int, head_seq: int, head_hash: str,
            last: str | None, now: Callable[[], str], held: dict[str, Any] | None = None
            ) -> Ledger:
        recorded_at = now()
        if last is not None:
            recorded_at = max(recorded_at, last)
        return cls(conn, workspace_id, head_seq, head_hash, recorded_at, _head_at=last,
                   _opened_seq=head_seq, _batched=not is_sqlite(conn), held=held or {})

    def bulk(self, *, ending: bool) -> None:
        """Mark this transaction as one of a bulk write's (``ending``: its last): on SQLite,
        checkpoints put off until the last (``database.bulk_checkpoints``)."""
        bulk_checkpoints(self.conn, ending=ending)

    # -- contacts ------------------------------------------------------------------------------
    def state(self, phone: str) -> ContactState:
        """The contact's current state (a new, empty one for a contact never seen)."""
        if phone not in self._states:
            self._hold(phone, stored_text(self._conn, self.workspace_id, phone))
        return self._states[phone]

    def prefetch(self, texts: Iterable[tuple[str | None, str]], numbers: Iterable[str] = ()
                 ) -> dict[str, tuple[Any, ...]]:
        """Read at once, for texts about to be recorded here (their provider id, or None, and
        contact), the contacts' states and which provider ids are recorded, and return the rows
        (``services.base.addressed``'s) of those of our ``numbers`` that exist: one round trip
        for a group commit's texts on PostgreSQL, not one each (a no-op on SQLite). What the
        lock holder records meanwhile is found as ever (held events first, then the table)."""
        if not self._batched:
            return {}
        wanted = list(texts)
        phones = [phone for phone in dict.fromkeys(c for _, c in wanted)
                  if phone not in self._states]
        ids = [p for p in dict.fromkeys(p for p, _ in wanted) if p is not None]
        stored, seen, ours = texts_reads(self._conn, self.workspace_id, phones, ids,
                                         list(dict.fromkeys(numbers)))
        for phone in phones:
            self._hold(phone, stored.get(phone))
        self._absent.update(p for p in ids if p not in seen)
        return ours

    def _hold(self, phone: str, text: str | None) -> None:
        """Hold the state stored as ``text`` (None: no row) for this transaction."""
        self._states[phone] = stored_contact(phone, text)
        if text is not None:
            self._stored.add(phone)

    def states(self, phones: Iterable[str], texts: dict[str, str] | None = None
               ) -> dict[str, ContactState]:
        """Many contacts' states at once, read in chunks (the bulk twin of ``state``).

        ``texts``: what ``stored_texts`` gave in this transaction for all of ``phones`` (a
        phone not in it has no row), so they are not read twice.
        """
        wanted = [p for p in dict.fromkeys(phones) if p not in self._states]
        found = stored_texts(self._conn, self.workspace_id, wanted) if texts is None \
            else ((p, texts[p]) for p in wanted if p in texts)
        for phone, text in found:
            self._hold(phone, text)
        for phone in wanted:
            self._states.setdefault(phone, ContactState(phone))
        return self._states

    def stored_texts(self, phones: Iterable[str]) -> dict[str, str]:
        """The stored state JSON of those of ``phones`` that have a row and are not held in
        this transaction (a caller that can decide from the text alone need not build the
        states; ``states`` takes the answer back)."""
        wanted = [p for p in dict.fromkeys(phones) if p not in self._states]
        return dict(stored_texts(self._conn, self.workspace_id, wanted))

    # -- events --------------------------------------------------------------------------------
    def seen_provider_id(self, provider_id: str, *, contact: str | None = None
                         ) -> RecordedEvent | None:
        """The event recorded with ``provider_id``, if any; with ``contact``, that contact's
        state is read in the same statement (one round trip less on PostgreSQL)."""
        for n, held in enumerate(self._pending):  # recorded here, not written yet
            if held[7] == provider_id:
                before = self._pending[n - 1][9] if n else \
                    previous_hash(self._conn, self.workspace_id, held[1])
                return RecordedEvent(held[1], held[2], held[4], held[5], held[6], held[3],
                                     json.loads(held[8]), held[7], before, held[9])
        if provider_id in self._absent and (contact is None or contact in self._states):
            return None
        params = {"ws": self.workspace_id, "provider_id": provider_id}
        if contact is None or contact in self._states:
            row = _BY_PROVIDER_ID.first(self._conn, **params)
        else:
            text, *row = _STATE_AND_PROVIDER_ID.first(self._conn, phone=contact, **params)
            self._hold(contact, text)
        return None if row is None or row[0] is None else RecordedEvent(  # prev_hash last
            seq=row[1], type=row[2], contact=row[3], occurred_at=row[4], recorded_at=row[5],
            actor=row[6], provider_id=row[7], data=json.loads(row[8]), hash=row[9],
            prev_hash=row[10])

    def record(self, event: Event) -> RecordedEvent:
        """Append ``event`` to the chain and move the contact's state by it (``append``);
        the event as recorded."""
        prev_hash = self.head_hash
        self.append(event)
        return RecordedEvent(self.head_seq, event.type.value, event.occurred_at,
                             self.recorded_at, event.actor, event.contact, event.data,
                             event.provider_id, prev_hash, self.head_hash)

    def append(self, event: Event) -> None:
        """Append ``event`` to the chain and move the contact's state by it.

        An event that happened before the contact's latest known event (a provider delivering
        late) is placed by its time: the state is refolded from the ledger in time order.
        """
        seq = self.head_seq + 1
        type_ = event.type.value
        data_json = canonical(event.data)
        digest = event_hash(self.head_hash, seq, type_, event.contact, event.occurred_at,
                            self.recorded_at, event.actor, event.provider_id, data_json)
        row = (self.workspace_id, seq, type_, event.contact, event.occurred_at,
               self.recorded_at, event.actor, event.provider_id, data_json, digest)
        if self._batched:
            self._pending.append(row)
        else:
            _INSERT_EVENT.run(self._conn, dict(zip(EVENT_COLUMNS, row, strict=True))).close()
        self.head_seq, self.head_hash = seq, digest
        if event.contact is not None:
            state = self.state(event.contact)
            if state.last_at is not None and event.occurred_at < state.last_at:
                self._states[event.contact] = fold(
                    event.contact, contact_events(self.conn, self.workspace_id, event.contact)
                )
            else:
                state.apply(type_, event.occurred_at, event.actor, event.data)
            self._dirty[event.contact] = self.recorded_at

    def record_many(self, events: Sequence[Event | FreshEvent]) -> int:
        """Append many events in one ``executemany``: the same chain, states and rules as
        ``record`` (late events refold their contact), at bulk speed. Call ``states`` first
        for the contacts concerned, or each unknown one costs a query.

        A ``FreshEvent`` for a contact with no row and no event yet is written from its kind's
        stencils (``FreshKind``): the same bytes, and the contact's new row at once; for any
        other contact it is recorded as the ``Event`` it stands for.
        """
        rows: list[tuple[Any, ...]] = []
        new_rows: list[tuple[Any, ...]] = []
        pending: dict[str, FreshEvent] = {}
        seq, prev, now, ws = self.head_seq, self.head_hash, self.recorded_at, self.workspace_id
        states, stored = self._states, self._stored
        late: set[str] = set()
        spec: FreshSpec | None = None
        kind: FreshKind | None = None
        for item in events:
            seq += 1
            if isinstance(item, FreshEvent):
                phone = item.contact
                state = states.get(phone) or self.state(phone)
                if item.spec is not spec:  # one kind after another, as a rule
                    spec = item.spec
                    kind = self._kind(spec)
                written = None
                if kind is not None and state.last_at is None and phone not in stored \
                        and phone not in pending:
                    written = kind.write(seq, prev, item.values)
                    if written is None:
                        self._kinds[spec] = kind = None
                if written is not None:
                    row, digest, new_row = written
                    rows.append(row)
                    new_rows.append(new_row)
                    pending[phone] = item
                    prev = digest
                    continue
                event = item.event()
            else:
                event = item
            data_json = canonical(event.data)
            digest = event_hash(prev, seq, event.type.value, event.contact, event.occurred_at,
                                now, event.actor, event.provider_id, data_json)
            rows.append((ws, seq, event.type.value, event.contact, event.occurred_at, now,
                         event.actor, event.provider_id, data_json, digest))
            prev = digest
            if event.contact is not None:
                if event.contact in pending:  # written fresh above: its state, in full
                    states[event.contact] = pending.pop(event.contact).state()
                    stored.add(event.contact)
                state = self.state(event.contact)
                if state.last_at is not None and event.occurred_at < state.last_at:
                    late.add(event.contact)
                else:
                    state.apply(event.type.value, event.occurred_at, event.actor, event.data)
                self._dirty[event.contact] = now
        insert_rows(self.conn, t.events, EVENT_COLUMNS, rows)
        if new_rows:
            insert_rows(self.conn, t.contacts, CONTACT_COLUMNS, new_rows)
        for phone in pending:  # read back from its row if asked for again
            states.pop(phone, None)
            stored.add(phone)
        self.head_seq, self.head_hash = seq, prev
        for phone in sorted(late):
            self._states[phone] = fold(phone, contact_events(self.conn, ws, phone))
        return len(rows)

    def record_new(self, spec: FreshSpec, values: list[Sequence[Any]],
                   pieces: list[Sequence[str]], *, unread: bool = False) -> bool:
        """``record_many`` of one ``spec`` event for each row of ``values`` (columns: the
        contacts, times and data values), ``pieces`` being their ``FreshForm.pieces`` in
        columns, for contacts that have no row (the caller's ``stored_texts`` found none in
        this transaction; ``unread``: it did not look, and a row found raises
        ``rows.AlreadyStored``) and appear once. The events, hashes and contact rows are those
        ``record_many`` writes; no per-row state is held. False, writing nothing: the kind
        cannot be stencilled here, or a contact is held already (use ``record_many``)."""
        phones = values[0]
        kind = self._kind(spec)
        if kind is None or not self._states.keys().isdisjoint(phones) \
                or not self._stored.isdisjoint(phones) or len(set(phones)) != len(phones):
            return False
        written = kind.write_many(self.head_seq, self.head_hash, values, pieces)
        if written is None:
            self._kinds[spec] = None
            return False
        rows, self.head_hash, new_rows = written
        insert_rows(self.conn, t.contacts, CONTACT_COLUMNS, new_rows, new_only=unread)
        insert_rows(self.conn, t.events, EVENT_COLUMNS, rows)
        self.head_seq += len(rows)
        self._stored.update(phones)
        return True

    def _kind(self, spec: FreshSpec) -> FreshKind | None:
        """The stencils of ``spec`` in this transaction (None if it cannot be stencilled)."""
        if spec not in self._kinds:
            try:
                self._kinds[spec] = FreshKind(spec, self.workspace_id, self.recorded_at,
                                              flags_as_ints=is_sqlite(self._conn))
            except Unstencillable:
                self._kinds[spec] = None
        return self._kinds[spec]

    def close(self, *, head: bool = True) -> None:
        """Write the moved states and the new chain head; called before the commit.

        ``head=False``: the head is left to the close of a ledger that ``resume``s this one
        in the same transaction (the group commit's next text of this workspace), which
        writes it anyway; where the head is a statement of its own (SQLite), one less.
        """
        dirty = [(self._states[p], self._dirty[p]) for p in sorted(self._dirty)]
        if self._batched:
            close_ledger(self._conn, self.workspace_id, self._pending, dirty, self._stored,
                         self.head_seq, self.head_hash)
            self._written()
        else:  # every state here was moved by this ledger (nothing is handed on)
            save_states(self._conn, self.workspace_id, [state for state, _ in dirty],
                        self._stored, self.recorded_at)
            if head:
                _SET_HEAD.run(self._conn, {"ws": self.workspace_id, "head_seq": self.head_seq,
                                           "head_hash": self.head_hash}).close()
        self._stored.update(self._dirty)
        self._dirty.clear()


# The single-event path's statements, compiled once (storage/prepared.py).
_EVENT_RECORDED = Prepared(select(t.events.c.recorded_at).where(
    t.events.c.workspace_id == bindparam("ws"), t.events.c.seq == bindparam("seq")))
_HEAD = Prepared(select(t.workspaces.c.head_seq, t.workspaces.c.head_hash, select(
    t.events.c.recorded_at).where(t.events.c.workspace_id == t.workspaces.c.id,
                                  t.events.c.seq == t.workspaces.c.head_seq).scalar_subquery())
    .where(t.workspaces.c.id == bindparam("ws")).with_for_update())
_PROVIDER_ID_EVENT = chained(t.events.c.workspace_id == bindparam("ws"),
                             t.events.c.provider_id == bindparam("provider_id"))
_BY_PROVIDER_ID = Prepared(_PROVIDER_ID_EVENT)
_SEEN = _PROVIDER_ID_EVENT.subquery("seen")  # one row: a state (or NULL) and the event (or NULLs)
_STATE_AND_PROVIDER_ID = Prepared(
    select(t.contacts.c.state, *_SEEN.c)
    .select_from(select(literal_column("1").label("one")).subquery("one")
                 .outerjoin(t.contacts, and_(t.contacts.c.workspace_id == bindparam("ws"),
                                             t.contacts.c.phone == bindparam("phone")))
                 .outerjoin(_SEEN, true())))
_INSERT_EVENT = Prepared(insert(t.events).values(
    {name: bindparam(name) for name in EVENT_COLUMNS}))
_SET_HEAD = Prepared(update(t.workspaces).where(t.workspaces.c.id == bindparam("ws"))
                     .values(head_seq=bindparam("head_seq"), head_hash=bindparam("head_hash")))


