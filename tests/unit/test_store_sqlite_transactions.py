"""How the store's SQLite transactions start (store/db.py, ``Database``).

Reads (``connect()``) start deferred: they read a snapshot and wait for no writer, so a credential
lookup does not queue behind the audit writer's commits. Writes (``begin()``) take the write lock at
BEGIN, so two writers queue on the busy timeout instead of failing with "database is locked".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from opensts.store.db import Database, create_store_engine


@pytest.fixture()
def database(tmp_path: Path) -> Iterator[Database]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    yield Database(engine)
    engine.dispose()


def test_a_read_goes_on_while_a_write_transaction_holds_the_lock_and_sees_the_last_commit(database: Database) -> None:
    # One thread: with the write lock held by the open write, a read that asked for the lock
    # (the old BEGIN IMMEDIATE) would wait out the 30 s busy timeout and fail.
    with database.begin() as writer:
        writer.execute(text("UPDATE t SET n = 2"))
        with database.connect() as reader:
            assert reader.execute(text("SELECT n FROM t")).scalar() == 1  # the uncommitted 2 is not seen
    with database.connect() as reader:
        assert reader.execute(text("SELECT n FROM t")).scalar() == 2


def test_a_read_transaction_keeps_one_snapshot(database: Database) -> None:
    with database.connect() as reader:
        assert reader.execute(text("SELECT n FROM t")).scalar() == 1
        with database.begin() as writer:
            writer.execute(text("UPDATE t SET n = 3"))
        # Committed meanwhile, but this transaction reads what it began with.
        assert reader.execute(text("SELECT n FROM t")).scalar() == 1


def test_what_is_written_on_a_read_connection_is_not_kept(database: Database) -> None:
    with database.connect() as reader:
        reader.execute(text("UPDATE t SET n = 4"))
    with database.connect() as reader:
        assert reader.execute(text("SELECT n FROM t")).scalar() == 1


def test_concurrent_read_then_write_transactions_queue_rather_than_fail(database: Database) -> None:
    # Each transaction reads, then writes what it read plus one. Deferred transactions would fail
    # ("database is locked": the snapshot went stale) or lose updates; write transactions queue.
    failures: list[BaseException] = []

    def increment() -> None:
        try:
            for _ in range(20):
                with database.begin() as conn:
                    n = conn.execute(text("SELECT n FROM t")).scalar()
                    conn.execute(text("UPDATE t SET n = :n"), {"n": n + 1})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with database.connect() as reader:
        assert reader.execute(text("SELECT n FROM t")).scalar() == 1 + 4 * 20
