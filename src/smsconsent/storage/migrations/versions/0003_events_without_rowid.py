"""Cheaper event rows for bulk imports: on SQLite the events table is stored in its primary
key's order (WITHOUT ROWID: one B-tree, not a row table and a key index), and the provider id
is unique only where there is one (a partial index that the many provider-less events, such as
imported ones, never touch). Webhook idempotency still finds a provider id by that index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

HAS_PROVIDER_ID = sa.text("provider_id IS NOT NULL")
COLUMNS = ("workspace_id, seq, type, contact, occurred_at, recorded_at, actor, provider_id, "
           "data, prev_hash, hash")


def _events(name: str, *, rowid: bool, unique_constraint: bool) -> None:
    extra: list[sa.schema.SchemaItem] = []
    if unique_constraint:
        extra.append(sa.UniqueConstraint("workspace_id", "provider_id",
                                         name="uq_events_provider_id"))
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
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        *extra,
        sqlite_with_rowid=rowid,
    )


def _rebuild_sqlite_events(*, rowid: bool) -> None:
    """SQLite cannot change a table's storage in place: copy it into a new one."""
    _events("events_new", rowid=rowid, unique_constraint=rowid)
    op.execute(f"INSERT INTO events_new ({COLUMNS}) SELECT {COLUMNS} FROM events "
               "ORDER BY workspace_id, seq")
    op.drop_table("events")
    op.rename_table("events_new", "events")
    op.create_index("ix_events_contact", "events", ["workspace_id", "contact", "seq"])
    op.create_index("ix_events_recorded", "events", ["workspace_id", "recorded_at"])


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_events(rowid=False)
    else:
        op.drop_constraint("uq_events_provider_id", "events", type_="unique")
    op.create_index("uq_events_provider_id", "events", ["workspace_id", "provider_id"],
                    unique=True, sqlite_where=HAS_PROVIDER_ID, postgresql_where=HAS_PROVIDER_ID)


def downgrade() -> None:
    op.drop_index("uq_events_provider_id", table_name="events")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_events(rowid=True)
    else:
        op.create_unique_constraint("uq_events_provider_id", "events",
                                    ["workspace_id", "provider_id"])
