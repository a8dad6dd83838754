"""Small key/value facts about the store (e.g. the default account) and change counters.

The IAM change counter (row ``iam`` of ``versions``) is how every process learns that IAM data
changed: each polls it and drops its caches when it moves. It is bumped *inside* the transaction of
the write it announces (:class:`CountedWrites`), so a write is never visible without its bump, nor a
bump without its write, even when the process dies between the two statements. Its row is created
by migration 0004; :func:`bump_counter` still creates a missing row (insert-on-conflict-do-nothing),
so concurrent first writes on a store that somehow lost it cannot collide on the primary key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from opensts.store import schema
from opensts.store.db import Database

IAM_COUNTER = "iam"


def bump_counter(conn: Connection, name: str) -> None:
    """Add one to counter ``name`` in ``conn``'s transaction (the row is locked until it ends)."""
    table = schema.versions
    bump = update(table).where(table.c.name == name).values(value=table.c.value + 1)
    if conn.execute(bump).rowcount:
        return
    # The row is missing: create it without failing if a concurrent transaction does too, then bump.
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(name=name, value=0).on_conflict_do_nothing())
    conn.execute(bump)


class CountedWrites(Database):
    """The engine as the IAM repositories see it: ``begin()`` is a write transaction that also bumps
    the IAM change counter, as its last statement, before it commits.

    Every IAM write goes through a repository's ``begin()``, so none can be missed; a transaction
    that raises (a conflict, a quota) rolls back its bump with it. Taking the counter's row lock last
    keeps the time it is held short and the lock order the same in every transaction (no deadlock).
    Writes that change nothing any cache holds (last-used dates, accepted TOTP steps) use
    :meth:`begin_uncounted`, so that signing in does not drop every node's caches.
    """

    def __init__(self, engine: Engine, counter: str = IAM_COUNTER) -> None:
        super().__init__(engine)
        self._counter = counter
        self._listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every counted write commits (the runtime drops its caches then)."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn
            bump_counter(conn, self._counter)
        for listener in self._listeners:
            listener()

    def begin_uncounted(self) -> contextlib.AbstractContextManager[Connection]:
        return super().begin()


class MetaRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def get(self, key: str) -> str | None:
        with self._engine.connect() as conn:
            return conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()

    def set_if_absent(self, key: str, value: str) -> str:
        """Set ``key`` unless another process already did; return the value that holds."""
        with self._engine.begin() as conn:
            current = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()
            if current is not None:
                return current
            conn.execute(insert(schema.meta).values(key=key, value=value))
            return value

    def version(self, name: str) -> int:
        with self._engine.connect() as conn:
            value = conn.execute(select(schema.versions.c.value).where(schema.versions.c.name == name)).scalar()
        return int(value or 0)

    def bump_version(self, name: str) -> None:
        """Bump counter ``name`` in a transaction of its own (IAM writes bump inside theirs instead)."""
        with self._engine.begin() as conn:
            bump_counter(conn, name)
