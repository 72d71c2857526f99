"""The first released schema: workspaces, numbers, lists, contacts and the event ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("business_name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("region", sa.String(2), nullable=False, server_default="US"),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("templates", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=False, server_default="{}"),
        sa.Column("head_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "numbers",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("campaign", sa.String(64), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_numbers_workspace", "numbers", ["workspace_id"])
    op.create_table(
        "contact_lists",
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("keyword", sa.String(64), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), primary_key=True),
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("blocked", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("lists", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_contacts_status", "contacts", ["workspace_id", "status"])
    op.create_table(
        "events",
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
        sa.UniqueConstraint("workspace_id", "provider_id", name="uq_events_provider_id"),
    )
    op.create_index("ix_events_contact", "events", ["workspace_id", "contact", "seq"])
    op.create_index("ix_events_recorded", "events", ["workspace_id", "recorded_at"])


def downgrade() -> None:
    for index, table in (
        ("ix_events_recorded", "events"),
        ("ix_events_contact", "events"),
        ("ix_contacts_status", "contacts"),
        ("ix_numbers_workspace", "numbers"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("events", "contacts", "contact_lists", "numbers", "workspaces"):
        op.drop_table(table)
