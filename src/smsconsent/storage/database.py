"""Engines, transactions and schema versions, for SQLite and PostgreSQL from the same code.

Serialisation, in one place: every write to a workspace first locks that workspace's row
(``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` takes SQLite's single writer
lock). The row holds the head of the workspace's hash chain, so all writes of one workspace are
applied one after the other, in the order they commit, across processes and machines, and a
send decided under the lock sees every opt-out committed before it. Reads take no lock.
SQLite runs in WAL mode with ``synchronous=FULL``: durability first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smsconsent.errors import BadInput, SchemaOutOfDate

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration's revision; tests check it equals Alembic's head. Knowing it here keeps
# Alembic out of every command's start-up.
SCHEMA_HEAD = "0002"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync, foreign keys and one writer lock."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _sqlite_setup(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = str(parsed.set(drivername="postgresql+psycopg"))
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    raise BadInput(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk imports insert into big indexes
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: committed when the block ends, rolled back on any error."""
    with engine.begin() as conn:
        yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that never waits for the writer."""
    with engine.connect() as raw:
        conn = raw.execution_options(readonly=True)
        with conn.begin():
            yield conn


# -- migrations ------------------------------------------------------------------------------

def _alembic_config(conn: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    location = resources.files("smsconsent.storage") / "migrations"
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """Alembic's own idea of the head (slow: imports Alembic); see SCHEMA_HEAD."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with resources.as_file(resources.files("smsconsent.storage") / "migrations") as path:
        cfg = Config()
        cfg.set_main_option("script_location", str(path))
        head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (``smsconsent db upgrade``)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def ensure_schema(engine: Engine, *, create_if_empty: bool = True) -> None:
    """Refuse an out-of-date schema with a clear message; build a brand-new database.

    An empty database (a new SQLite file, say) is migrated to head so the quick start needs no
    extra step; a database at an older revision is never changed behind the operator's back.
    """
    current = current_revision(engine)
    head = SCHEMA_HEAD
    if current == head:
        return
    if current is None and create_if_empty:
        with engine.connect() as conn:
            empty = not engine.dialect.has_table(conn, "workspaces")
        if empty:
            upgrade(engine)
            return
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'no revision'}, this smsconsent needs {head}: "
        "run `smsconsent db upgrade` first"
    )
