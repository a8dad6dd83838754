"""Apply Alembic migrations on start, safely when several processes or nodes start at once, and
tell whether a store's schema is the one this code expects (``GET /ready``)."""

from __future__ import annotations

import contextlib
import fcntl
import functools
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from opensts.store.db import Database, create_migration_engine, is_sqlite, normalise_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Arbitrary constant: the PostgreSQL advisory lock that serialises migrations across nodes.
_ADVISORY_LOCK_ID = 0x0575_7301


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def head_revision() -> str:
    """The newest migration this code carries (the schema it expects)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the migrations are a single line
    return head


def schema_revision(engine: Engine | Database) -> str | None:
    """The migration the store was last brought to (None: the table is empty). Errors reaching
    the database, or a store never migrated (no table), propagate."""
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if revision is None else str(revision)


def upgrade_to_head(url: str) -> None:
    url = normalise_url(url)
    engine = create_migration_engine(url)
    try:
        with engine.connect() as connection, _migration_lock(url, connection):
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()


@contextlib.contextmanager
def _migration_lock(url: str, connection: Connection) -> Iterator[None]:
    """Serialise migrations: a file lock beside a SQLite database, an advisory lock on PostgreSQL."""
    if is_sqlite(url):
        database = make_url(url).database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _ADVISORY_LOCK_ID})
        connection.commit()
