"""The schema, in SQLAlchemy Core. Every table is keyed by ``workspace_id`` first, so the data
can be distributed on it (e.g. Citus) without a redesign; ``numbers`` is the one small lookup
table read by number alone (a reference table when distributed).

On SQLite ``events`` is a WITHOUT ROWID table (its rows live in the primary key's B-tree), and
the provider id is unique where present (a partial index): both make bulk-written events cheaper.
An event's previous hash is not stored: it is the hash of the event before (storage/ledger.py).
A contact's ``state`` is ``ContactState.to_stored``'s JSON (no phone, no nulls).

The Alembic migrations under ``migrations/versions`` build exactly this; a test compares them.
``api_keys`` holds only a hash of each key; ``outbox`` holds the replies owed through a
provider's API (Telnyx), written in the same transaction as the ledger change that owes them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("business_name", String(200), nullable=False),
    Column("contact", String(200), nullable=False),
    Column("region", String(2), nullable=False, server_default="US"),
    Column("policy", Text, nullable=False),
    Column("templates", Text, nullable=False),
    Column("secrets", Text, nullable=False, server_default="{}"),
    Column("head_seq", BigInteger, nullable=False, server_default="0"),
    Column("head_hash", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
)

numbers = Table(
    "numbers",
    metadata,
    Column("number", String(20), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("campaign", String(64), nullable=True),
    Column("created_at", String(32), nullable=False),
    Index("ix_numbers_workspace", "workspace_id"),
)

contact_lists = Table(
    "contact_lists",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("keyword", String(64), nullable=True),
    Column("created_at", String(32), nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), primary_key=True),
    Column("phone", String(20), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("blocked", Boolean, nullable=False, server_default="0"),
    Column("lists", Text, nullable=False, server_default=""),
    Column("state", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_contacts_status", "workspace_id", "status"),
)

events = Table(
    "events",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(32), nullable=False),
    Column("contact", String(20), nullable=True),
    Column("occurred_at", String(32), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("provider_id", String(128), nullable=True),
    Column("data", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Index("uq_events_provider_id", "workspace_id", "provider_id", unique=True,
          sqlite_where=text("provider_id IS NOT NULL"),
          postgresql_where=text("provider_id IS NOT NULL")),
    Index("ix_events_contact", "workspace_id", "contact", "seq"),
    Index("ix_events_recorded", "workspace_id", "recorded_at"),
    sqlite_with_rowid=False,  # stored in (workspace_id, seq) order: no separate key index
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), primary_key=True),
    Column("key_id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("label", String(100), nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
    Index("ix_api_keys_key_id", "key_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), primary_key=True),
    Column("id", String(32), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("from_number", String(20), nullable=False),
    Column("to_number", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", String(32), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", String(32), nullable=True),
    Index("ix_outbox_due", "delivered_at", "next_attempt_at"),
)
