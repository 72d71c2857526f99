"""Storage adapters: SQLAlchemy Core tables, the ledger, the unit of work, Alembic migrations."""
