"""Apply Alembic migrations on start, safely when several processes or nodes start at once."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from opensts.store.db import create_migration_engine, is_sqlite, normalise_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Arbitrary constant: the PostgreSQL advisory lock that serialises migrations across nodes.
_ADVISORY_LOCK_ID = 0x0575_7301


def upgrade_to_head(url: str) -> None:
    url = normalise_url(url)
    engine = create_migration_engine(url)
    try:
        with engine.connect() as connection, _migration_lock(url, connection):
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
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
