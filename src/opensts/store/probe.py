"""Look at a store without creating or changing anything: is there an OpenSTS store at this URL?

Start-up decisions need this before anything is written (``runtime.open_runtime``): commands other
than ``serve`` open an existing store only; a store that holds sealed data needs its master key; a
new store must not take over another store's root-credentials file. Opening the database for these
questions must not create it: a SQLite file is opened with ``mode=rw`` (an error if it is missing,
never a new file), PostgreSQL is only read. Migrations are not run.

A store *is initialised* once its default account exists (the last step of the first start that
writes to the store before the root key); it *holds sealed data* once it has a signing key or an
access key (sealed with the master key).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from opensts.store import schema
from opensts.store.db import is_sqlite, normalise_url


@dataclass(frozen=True)
class StoreState:
    """What a store at a URL already holds (all empty/False when there is no database at all)."""

    database_exists: bool = False
    default_account_id: str | None = None  # set: the store is initialised
    holds_sealed_data: bool = False
    root_key_ids: tuple[str, ...] = ()  # of the default account

    @property
    def initialised(self) -> bool:
        return self.default_account_id is not None


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other backends and in-memory databases."""
    url = normalise_url(url)
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def probe_store(url: str) -> StoreState:
    """What is at ``url``, read without creating anything. Errors reaching the database propagate."""
    url = normalise_url(url)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is None or not path.is_file():
            return StoreState()
        target = f"file:{quote(str(path.resolve()))}?mode=rw"
        engine = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(target, uri=True, timeout=30), poolclass=NullPool
        )
    else:
        engine = create_engine(url, poolclass=NullPool)
    try:
        return _read_state(engine)
    finally:
        engine.dispose()


def _read_state(engine: Engine) -> StoreState:
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if "meta" not in tables or "accounts" not in tables:
            return StoreState(database_exists=True)
        sealed = False
        for table in (schema.signing_keys, schema.access_keys):
            if table.name in tables and conn.execute(select(func.count()).select_from(table)).scalar():
                sealed = True
        account_id = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "default_account_id")
        ).scalar()
        if account_id is None or conn.execute(
            select(schema.accounts.c.account_id).where(schema.accounts.c.account_id == account_id)
        ).first() is None:
            return StoreState(database_exists=True, holds_sealed_data=sealed)
        keys = schema.access_keys
        root_keys: tuple[str, ...] = ()
        if keys.name in tables:
            rows = conn.execute(
                select(keys.c.access_key_id).where(keys.c.account_id == account_id, keys.c.user_id.is_(None))
            )
            root_keys = tuple(r.access_key_id for r in rows)
        return StoreState(True, account_id, sealed, root_keys)
