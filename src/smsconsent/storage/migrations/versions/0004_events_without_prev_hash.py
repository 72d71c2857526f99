"""Smaller event rows: the previous hash is no longer stored beside each event.

It always equalled the hash of the event before (``seq - 1``), so it was 64 bytes of every row
(a fifth of an imported event) that the chain already holds; readers join it back
(``storage/ledger.chained``) and ``audit verify`` chains the hashes it recomputes. No hash
changes: the hashed payload still holds the previous hash. Downgrading writes the column back
from the chain.

Contact states written from now on are ``ContactState.to_stored``'s smaller JSON (no phone,
no nulls); the states already stored keep their form (both read alike), so upgrading does not
touch them. Downgrading puts the phone back into each state: the only key older code requires
(it reads every other one with a default).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
HAS_PROVIDER_ID = sa.text("provider_id IS NOT NULL")
COLUMNS = ("workspace_id, seq, type, contact, occurred_at, recorded_at, actor, provider_id, "
           "data, hash")
PREVIOUS = (f"COALESCE((SELECT b.hash FROM events b WHERE b.workspace_id = e.workspace_id "
            f"AND b.seq = e.seq - 1), '{GENESIS}')")


def _events_table(name: str, *, prev_hash: bool) -> None:
    op.create_table(
        name,
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("contact", sa.String(20), nullable=True),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("provider_id", sa.String(128), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        *([sa.Column("prev_hash", sa.String(64), nullable=False)] if prev_hash else []),
        sa.Column("hash", sa.String(64), nullable=False),
        sqlite_with_rowid=False,
    )


def _rebuild_sqlite_events(*, prev_hash: bool) -> None:
    """SQLite: copy the events into a table of the new shape (as 0003 does)."""
    _events_table("events_new", prev_hash=prev_hash)
    if prev_hash:
        op.execute(f"INSERT INTO events_new ({COLUMNS}, prev_hash) "
                   f"SELECT {', '.join('e.' + c for c in COLUMNS.split(', '))}, {PREVIOUS} "
                   "FROM events e ORDER BY e.workspace_id, e.seq")
    else:
        op.execute(f"INSERT INTO events_new ({COLUMNS}) SELECT {COLUMNS} FROM events "
                   "ORDER BY workspace_id, seq")
    op.drop_table("events")
    op.rename_table("events_new", "events")
    op.create_index("uq_events_provider_id", "events", ["workspace_id", "provider_id"],
                    unique=True, sqlite_where=HAS_PROVIDER_ID)
    op.create_index("ix_events_contact", "events", ["workspace_id", "contact", "seq"])
    op.create_index("ix_events_recorded", "events", ["workspace_id", "recorded_at"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_events(prev_hash=False)
    else:
        op.drop_column("events", "prev_hash")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_events(prev_hash=True)
        op.execute("UPDATE contacts SET state = json_set(state, '$.phone', phone)")
    else:
        op.add_column("events", sa.Column("prev_hash", sa.String(64), nullable=True))
        op.execute(f"UPDATE events e SET prev_hash = {PREVIOUS}")
        op.alter_column("events", "prev_hash", nullable=False)
        op.execute("UPDATE contacts SET state = "
                   "(state::jsonb || jsonb_build_object('phone', phone))::text")
