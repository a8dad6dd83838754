"""A new SQLite database is switched to WAL by its first connections. When two switch at once
(two nodes first-starting on one empty file), SQLite answers one of them "database is locked" at
once, without calling the busy handler (it would be a deadlock otherwise). The engine must retry."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from opensts.store.db import create_store_engine


def test_two_first_connections_at_once_both_open_the_new_database_in_wal_mode(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    modes: list[str] = []

    def first_connect(url: str, barrier: threading.Barrier) -> None:
        engine = create_store_engine(url)
        try:
            barrier.wait()
            with engine.connect() as conn:
                modes.append(conn.execute(text("PRAGMA journal_mode")).scalar())
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(exc)
        finally:
            engine.dispose()

    # Each round is a race that the unfixed code lost about one time in four.
    for round_ in range(30):
        url = f"sqlite:///{tmp_path / f'round-{round_}.db'}"
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=first_connect, args=(url, barrier)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert modes == ["wal"] * 60
