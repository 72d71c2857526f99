"""Alembic environment: migrations run on the connection smsconsent hands over."""

from __future__ import annotations

from alembic import context

from smsconsent.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `smsconsent db upgrade`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
