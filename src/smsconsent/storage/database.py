"""Engines, transactions and schema versions, for SQLite and PostgreSQL from the same code.

The invariant, and the one place it is written down (docs point here): **once an opt-out has
committed, no send decided after it gets through, on any process or machine.** It holds because
every write to a workspace runs in one transaction that first takes the workspace's lock, with
the database's own means, never a process-local one:

* PostgreSQL: ``SELECT ... FOR UPDATE`` on the workspace's row (``Ledger.open``), in READ
  COMMITTED, pinned per transaction whatever the server's default. Every statement after the
  lock sees everything committed before the lock was granted. Each transaction locks exactly
  one workspace row, always first, or (the HTTP service's group commit, services/group_commit.py)
  several in ascending id order, so no two writers wait on each other in a cycle: no
  deadlocks; and READ COMMITTED with an explicit lock raises no serialization failures, so
  there is nothing to retry.
* SQLite: ``BEGIN IMMEDIATE`` takes the database's single writer lock before the first
  statement; a busy writer is waited for (``busy_timeout``, 60 s), never failed at once.

The row holds the head of the workspace's hash chain, so writes are applied one after the other
in commit order, and the ledger's clock is read under the lock and never runs backwards within a
workspace (``Ledger.open``), so sequence order is time order for everything recorded "now".
Everything a decision depends on (the contact's state, the workspace's policy, the number's
campaign) is read under the lock (services/sending.py, services/inbound.py). Contacts, numbers
and lists are only written under their workspace's lock, so their read-then-write upserts
cannot race; the unique keys behind them turn any slip into ``Conflict``, not a crash.

Reads take no lock and see one snapshot: ``BEGIN DEFERRED`` in WAL mode on SQLite,
``REPEATABLE READ, READ ONLY`` on PostgreSQL (so ``verify`` never sees half of a concurrent
write; read-only snapshots cannot fail to serialize).

A connection goes back to the pool rolled back (SQLAlchemy's reset on return), so no
transaction leaks to the next user; engines must not cross ``fork`` (the tests use ``spawn``).

SQLite, durability first: WAL (readers never block the writer), ``synchronous=FULL`` (a
commit is on disk before it returns, power loss included), foreign keys on, and the journal
mode checked, since a file system without WAL support would silently keep the rollback journal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
import weakref
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
SCHEMA_HEAD = "0004"

# Bytes per page for new SQLite databases (an existing file keeps its own). 16 KiB: a bulk
# import of 1M opt-outs takes ~20 % less time than at SQLite's 4 KiB (fewer pages written to
# the WAL and checkpointed, fewer B-tree levels), and webhooks, whose commits are grouped, pay
# ~3 % more CPU each for writing whole pages (BENCHMARKS.md, session 7; with one commit per
# webhook, as in session 4, the cost was ~10 %).
PAGE_SIZE = 16384
WRITE_ISOLATION = "READ COMMITTED"
READ_ISOLATION = "REPEATABLE READ"
MIGRATION_LOCK = 0x736D73636F6E  # pg_advisory_xact_lock key: one `db upgrade` at a time

# SQLite engines' in-process writer queue (see ``writing``).
_WRITERS: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()


class WriterQueue:
    """Where a SQLite file's writers wait for each other (see ``writing``): the threads of one
    process on a lock, and the processes (``serve --workers N``, the CLI beside a server) on
    an exclusive ``flock`` of a file beside the database, ``<database>-writer``.

    SQLite's own wait for its writer lock (``busy_timeout``) polls, sleeping up to 100 ms
    between tries: a process whose writer gave the lock up and took it again at once left the
    other's waiting writer asleep for seconds. A blocked ``flock`` wakes as soon as the lock is
    free. It is advisory and only ever taken before ``BEGIN IMMEDIATE``, so SQLite's own lock
    stays the guarantee (an older smsconsent, or the ``sqlite3`` shell, still waits on it).
    """

    def __init__(self, path: str | None) -> None:
        self._threads = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._path is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    weakref.finalize(self, os.close, self._fd)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _writer_file(url: str) -> str | None:
    """``<database>-writer`` for a SQLite file; None for memory databases and URI names."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}-writer"


def make_engine(url: str, *, connections: int | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync, foreign keys and one writer lock.

    ``connections``: a pool of exactly that many, handed out without the PostgreSQL
    liveness ping (a round trip per checkout): for the HTTP service's event-loop reader, whose
    one connection is in constant use; after a server restart its first read fails (500) and
    the next reconnects.
    """
    pool: dict[str, Any] = {} if connections is None else {
        "pool_size": connections, "max_overflow": 0}
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInput(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                               **pool)
        _sqlite_setup(engine, _writer_file(url))
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = str(parsed.set(drivername="postgresql+psycopg"))
        return create_engine(url, pool_pre_ping=connections is None,
                             isolation_level=WRITE_ISOLATION,
                             **(pool or {"pool_size": 10, "max_overflow": 10}))
    raise BadInput(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")


def _sqlite_setup(engine: Engine, writer_file: str | None) -> None:
    _WRITERS[engine] = WriterQueue(writer_file)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=60000")
        # Only a new, empty database takes it (a WAL database keeps its page size).
        cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
        mode = _use_wal(cur)
        if mode not in ("wal", "memory"):
            cur.close()
            raise BadInput(f"SQLite could not use WAL mode here (journal mode {mode!r})")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's statement
        # machinery cost more than the BEGIN itself.
        readonly = conn.get_execution_options().get("readonly")
        driver: Any = conn.connection.driver_connection
        if not driver.in_transaction:  # else begun on the driver (services/pinned.py)
            driver.execute(_BEGIN_READ if readonly else _BEGIN_WRITE)


_BEGIN_READ, _BEGIN_WRITE = "BEGIN DEFERRED", "BEGIN IMMEDIATE"
CACHE_KIB = 65536  # SQLite's page cache a connection: bulk imports insert into big indexes


def _use_wal(cur: Any) -> str:
    """Switch the file to WAL (it stays so) and return the journal mode.

    Connections opening a new file together (workers starting at once) can be refused the
    switch with "database is locked" at once, as SQLite does not call the busy handler there:
    so the switch is tried only when needed, and again for up to the busy timeout.
    """
    deadline = time.monotonic() + 60
    while True:
        try:
            mode = str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode in ("wal", "memory"):
                return mode
            return str(cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


DEFAULT_CHECKPOINT_PAGES = 1000  # SQLite's own default
BULK_CHECKPOINT_PAGES = 100_000  # of 4 KiB (~400 MB of WAL at most), during a bulk write only


def bulk_checkpoint_pages(page_size: int) -> int:
    """``BULK_CHECKPOINT_PAGES`` in pages of ``page_size`` bytes: the same WAL size."""
    return BULK_CHECKPOINT_PAGES * 4096 // page_size


def bulk_checkpoints(conn: Connection, *, ending: bool) -> None:
    """Checkpoint a bulk write's transactions only once it ends (``ending``: its last).

    SQLite copies the WAL back into the database (a checkpoint) after any commit that leaves
    the WAL over 1,000 pages: a bulk import would then rewrite the same index pages at every
    batch. During the import the connection checkpoints only past ``BULK_CHECKPOINT_PAGES``;
    its last batch restores the default, so its commit checkpoints. Durability is unchanged:
    every commit still syncs the WAL. Nothing to do on PostgreSQL.
    """
    if is_sqlite(conn):
        page = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        pages = DEFAULT_CHECKPOINT_PAGES if ending else bulk_checkpoint_pages(page)
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={pages}")


def is_sqlite(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "sqlite"


def held_writer(engine: Engine) -> Connection:
    """A connection of ``engine`` for a writer that keeps it for its life (the group commit);
    give it up with ``drop_writer``.

    On PostgreSQL its planner never picks a sequential scan where an index serves, and its
    prepared statements always run their generic plan. They are prepared once and that plan
    is kept for the connection's life: on a young database, a plan made while the statistics
    describe a few hundred contacts and events went on scanning whole tables grown tenfold
    since, once per group (the HTTP bench's first minute: the writer's backend spent most of
    its time there). Every statement of the writer looks rows up by a key that has an index
    (without one, a table is still scanned), so the generic plan is the right one whatever
    the values; left to choose, the server planned the group's reads anew at most runs
    (their few keys made a custom plan look cheaper than the generic one's guess of ten).
    """
    conn = engine.connect()
    if not is_sqlite(conn):
        driver = conn.connection.dbapi_connection  # not a transaction of the engine's events
        assert driver is not None
        for setting in WRITER_PLANNER:
            driver.execute(setting)
        driver.commit()
    return conn


def drop_writer(conn: Connection) -> None:
    """Close a ``held_writer`` connection; on PostgreSQL for good, as its setting must not
    go back to the pool, to another user."""
    if not is_sqlite(conn):
        with contextlib.suppress(Exception):
            conn.invalidate()
    conn.close()


WRITER_PLANNER = ("SET enable_seqscan = off", "SET plan_cache_mode = force_generic_plan")


@contextmanager
def writing(engine: Engine, held: Connection | None = None) -> Iterator[Connection]:
    """A write transaction: committed when the block ends, rolled back on any error; on a
    pooled connection, or on ``held``, one of ``engine``'s that the caller keeps open.

    On SQLite writers queue (``WriterQueue``: threads on a lock, processes on a file lock)
    before taking a connection: SQLite's own wait for its writer lock (``busy_timeout``)
    sleeps in steps of up to 100 ms, which under concurrent webhooks left the lock idle while
    every writer slept (p99 over a second). ``busy_timeout`` still covers any other writer.
    """
    queue = _WRITERS.get(engine)
    with queue if queue is not None else contextlib.nullcontext():
        if held is None:
            with engine.begin() as conn:
                yield conn
        else:
            with held.begin():
                yield held


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction on one snapshot that never waits for the writer."""
    with engine.connect() as raw:
        if is_sqlite(raw):
            conn = raw.execution_options(readonly=True)
        else:
            conn = raw.execution_options(isolation_level=READ_ISOLATION, postgresql_readonly=True)
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
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (``smsconsent db upgrade``), in one transaction.

    Instances starting together on an empty database each call this: the first migrates, the
    others wait for it (PostgreSQL advisory lock; SQLite's writer lock) and find nothing to do.
    """
    from alembic import command

    with _migrating(engine) as conn:
        command.upgrade(_alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (``smsconsent db downgrade``), in one transaction."""
    from alembic import command

    with _migrating(engine) as conn:
        command.downgrade(_alembic_config(conn), revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    from alembic.util.exc import CommandError

    try:
        with engine.begin() as conn:
            if not is_sqlite(conn):
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            yield conn
    except CommandError as exc:  # an unknown revision, say: the operator's input
        raise BadInput(f"migration refused: {exc}", code="bad_revision") from None


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
        # Decided again under the migration lock: another instance may be migrating right now.
        with _migrating(engine) as conn:
            current = _revision(conn)
            if current is None and not engine.dialect.has_table(conn, "workspaces"):
                from alembic import command

                command.upgrade(_alembic_config(conn), "head")
                current = head
        if current == head:
            return
    raise SchemaOutOfDate(
        f"the database schema is at {current or 'no revision'}, this smsconsent needs {head}: "
        "run `smsconsent db upgrade` first"
    )
