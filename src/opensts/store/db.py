"""Database engines: SQLite (default, WAL mode) and PostgreSQL (psycopg 3), and :class:`Database`,
the engine as repositories use it: ``connect()`` for reads, ``begin()`` for writes.

SQLite transactions start in one of two ways. A write transaction takes the write lock at its start
(``BEGIN IMMEDIATE``), so that concurrent writers queue on ``busy_timeout`` rather than fail with
"database is locked" when a read snapshot taken earlier in the transaction has gone stale. A read
transaction starts deferred (``BEGIN``): in WAL mode it reads one consistent snapshot and waits for
no writer, so a credential lookup does not queue behind the audit writer's commits. On PostgreSQL
both are ordinary READ COMMITTED transactions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.pool import NullPool, QueuePool

from opensts.errors import InvalidInput


class StoreAccessDeferred(BaseException):
    """Raised when code running on the event loop reaches for the database.

    The HTTP edge runs some actions on the event loop first, because when every answer they need is
    cached they finish without I/O. The first database access aborts that attempt (before any
    statement runs) and the edge runs the action again in a worker thread. A BaseException, so
    that no ``except Exception`` on the way swallows it.
    """


T = TypeVar("T")
# A connection execution option: its transactions only read (SQLite starts them deferred).
_READS_ONLY = "opensts_reads_only"
_store_forbidden: ContextVar[bool] = ContextVar("opensts_store_forbidden", default=False)


def run_without_store(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, raising :class:`StoreAccessDeferred` if it reaches for the database."""
    token = _store_forbidden.set(True)
    try:
        return fn(*args)
    finally:
        _store_forbidden.reset(token)


class _GuardedPool(QueuePool):
    """A connection pool that refuses to hand out a connection inside :func:`run_without_store`.
    It refuses before taking one from the pool: an exception raised from the pool's own "checkout"
    event would make SQLAlchemy close that connection (measured: every deferred attempt opened a
    new PostgreSQL connection, doubling the first decision after an IAM change)."""

    def connect(self) -> Any:
        if _store_forbidden.get():
            raise StoreAccessDeferred()
        return super().connect()


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_store_engine(url: str) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        # NullPool is not needed: pooled SQLite connections are fine in WAL mode and much faster.
        # hide_parameters everywhere: a database error's message must never carry the values bound
        # to its statement (password hashes, sealed secrets) into a log.
        engine = create_engine(url, poolclass=_GuardedPool, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, poolclass=_GuardedPool, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               hide_parameters=True)
    event.listen(engine, "handle_error", _nul_is_bad_input)
    return engine


class Database:
    """The store's engine as repositories see it: ``connect()`` gives a connection for reads (on
    SQLite one snapshot that waits for no writer; on PostgreSQL READ COMMITTED, a snapshot per
    statement), ``begin()`` a write transaction. Nothing may be written on a ``connect()``
    connection: on SQLite such a write would fail at once with "database is locked" rather than queue."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._reads = engine.execution_options(**{_READS_ONLY: True})  # shares the engine's pool

    def connect(self) -> Connection:
        return self._reads.connect()

    def begin(self) -> AbstractContextManager[Connection]:
        return self.engine.begin()

    def raw_connection(self) -> Any:
        return self.engine.raw_connection()


def _sqlite_begin(conn: Connection) -> None:
    # The driver is in autocommit mode (_sqlite_pragmas): this is the transaction's only BEGIN.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READS_ONLY) else "BEGIN IMMEDIATE")


def _nul_is_bad_input(context: ExceptionContext) -> BaseException | None:
    """A backstop: PostgreSQL's text type cannot hold NUL, and psycopg refuses such a parameter.
    Input is validated before it gets here (params.py); should a NUL slip through, the client hears
    InvalidInput (400), not InternalFailure. Nothing is stored: the statement never ran."""
    original = context.original_exception
    if isinstance(original, ValueError) or type(original).__name__ == "DataError":
        if "NUL" in str(original):
            return InvalidInput("Text may not contain the NUL character (U+0000).")
    return None


def create_migration_engine(url: str) -> Engine:
    """A short-lived engine for migrations, without pooling."""
    url = normalise_url(url)
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, poolclass=NullPool)


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Autocommit mode at the driver level: SQLAlchemy's "begin" listener issues BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_SQLITE_BUSY_TIMEOUT_MS = 30_000


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode, once (the mode is stored in the file).

    Switching a new database to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once instead of calling the busy handler: two nodes first-starting on one empty
    file would see it. So retry, for as long as the busy timeout, with a short sleep between."""
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
