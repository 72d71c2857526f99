"""Fixtures shared by every test: databases on both backends, the store, the CLI.

PostgreSQL tests use the real server named by ``SMSCONSENT_TEST_PG_URL`` (``.ci/run`` sets it);
each test gets a schema of its own, dropped afterwards. Without the variable, or with the
server down, those tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from smsconsent.services import Store
from smsconsent.services.pinned import PinnedStore
from smsconsent.storage.database import ensure_schema, make_engine

PG_ENV = "SMSCONSENT_TEST_PG_URL"


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL URL, checked once: a server that does not answer skips with the reason."""
    url = pg_base_url()
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no server here
        pytest.skip(f"PostgreSQL at {PG_ENV} does not answer: {exc}")
    return url


def new_pg_schema(base: str) -> tuple[str, str]:
    """A fresh schema on the real server, and a URL whose connections use it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return schema, f"{base}{sep}options=-csearch_path%3D{schema}"


def drop_pg_schema(base: str, schema: str) -> None:
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: a SQLite file, or a new PostgreSQL schema."""
    with fresh_database(request, tmp_path) as url:
        yield url


@contextmanager
def fresh_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """The URL of an empty database of the backend ``request.param`` names, dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'smsconsent.db'}"
        return
    base = request.getfixturevalue("pg_server")
    schema, url = new_pg_schema(base)
    try:
        yield url
    finally:
        drop_pg_schema(base, schema)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file only, for tests about SQLite itself."""
    return f"sqlite:///{tmp_path / 'smsconsent.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A Store on a migrated database of each backend."""
    engine = make_engine(db_url)
    ensure_schema(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def pinned(store: Store) -> Iterator[PinnedStore]:
    """The HTTP service's event-loop store (one held connection) on ``store``'s database."""
    loop_store = PinnedStore(make_engine(
        store.engine.url.render_as_string(hide_password=False), connections=1), store.clock)
    yield loop_store
    loop_store.close()
    loop_store.engine.dispose()


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """Runs the real ``smsconsent`` console script in a subprocess against one database."""

    db: str
    workspace: str | None = None

    def __call__(self, *args: str, input: str | None = None, workspace: str | None = None
                 ) -> CliResult:
        env = {k: v for k, v in os.environ.items() if k != "SMSCONSENT_WORKSPACE"}
        env["SMSCONSENT_DB"] = self.db
        if workspace or self.workspace:
            env["SMSCONSENT_WORKSPACE"] = workspace or self.workspace or ""
        proc = subprocess.run(
            [sys.executable, "-m", "smsconsent.cli", *args],
            input=input, capture_output=True, text=True, env=env, timeout=120,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(db_url: str) -> Cli:
    """The CLI on a fresh database of each backend."""
    return Cli(db_url)


@pytest.fixture
def sqlite_cli(sqlite_url: str) -> Cli:
    """The CLI on a fresh SQLite file only."""
    return Cli(sqlite_url)
