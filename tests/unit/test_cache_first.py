"""``cache_first`` (server/concurrency.py): work answered from caches runs on the event loop; work
that reaches the store runs again in a worker thread, and requests of one herd (after an IAM change
emptied the caches, a busy caller's) wait for the one run under way instead of each reading the
same rows in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from opensts.server.concurrency import cache_first
from opensts.store.db import Database, create_store_engine


class Policies:
    """A cache in front of a real store: ``lookup`` reads the store on a miss (which, on the event
    loop, aborts with StoreAccessDeferred before any statement runs)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.cached: dict[str, int] = {}
        self.reads = 0
        self.threads: set[int] = set()
        self.gate = threading.Event()
        self.gate.set()

    def lookup(self, name: str) -> int:
        if name in self.cached:
            return self.cached[name]
        with self.database.connect() as conn:
            self.reads += 1
            self.threads.add(threading.get_ident())
            assert self.gate.wait(10)
            value = conn.execute(text("SELECT n FROM t WHERE name = :name"), {"name": name}).scalar()
        self.cached[name] = value
        return value


@pytest.fixture
def policies(tmp_path: Path) -> Iterator[Policies]:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (name TEXT, n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES ('alice', 1), ('bob', 2)"))
    yield Policies(Database(engine))
    engine.dispose()


def run_together(policies: Policies, calls: list[tuple[str, object]]) -> list[int]:
    """Start every call at once with the store read held until all have started."""

    async def main() -> list[int]:
        policies.gate.clear()
        started = [asyncio.ensure_future(cache_first(policies.lookup, name, herd=herd)) for name, herd in calls]
        await asyncio.sleep(0.1)
        policies.gate.set()
        return list(await asyncio.gather(*started))

    return asyncio.run(main())


def test_a_cached_answer_runs_on_the_event_loop(policies: Policies) -> None:
    policies.cached["alice"] = 7
    assert asyncio.run(cache_first(policies.lookup, "alice", herd="alice")) == 7
    assert policies.reads == 0


def test_one_herd_reads_the_store_once(policies: Policies) -> None:
    assert run_together(policies, [("alice", "alice")] * 30) == [1] * 30
    assert policies.reads == 1


def test_without_a_herd_every_miss_reads_in_its_own_thread(policies: Policies) -> None:
    assert run_together(policies, [("alice", None)] * 5) == [1] * 5
    assert policies.reads == 5


def test_different_herds_read_side_by_side(policies: Policies) -> None:
    # Both reads are held at the gate at the same time: neither waits for the other.
    assert run_together(policies, [("alice", "alice"), ("bob", "bob")] * 5) == [1, 2] * 5
    assert policies.reads == 2
    assert len(policies.threads) == 2


def test_a_request_the_run_did_not_serve_reads_for_itself(policies: Policies) -> None:
    # Same herd, different rows: after waiting once, bob's request still misses and reads itself.
    assert run_together(policies, [("alice", "shared"), ("bob", "shared")]) == [1, 2]
    assert policies.reads == 2


def test_a_run_goes_on_for_the_others_when_its_own_request_is_cancelled(policies: Policies) -> None:
    async def main() -> int:
        policies.gate.clear()
        owner = asyncio.ensure_future(cache_first(policies.lookup, "alice", herd="alice"))
        await asyncio.sleep(0.05)
        waiter = asyncio.ensure_future(cache_first(policies.lookup, "alice", herd="alice"))
        await asyncio.sleep(0.05)
        owner.cancel()  # its client went away
        await asyncio.sleep(0.05)
        policies.gate.set()
        return await waiter

    assert asyncio.run(main()) == 1
    assert policies.reads == 1  # the waiter was served by the owner's run, not a second read
