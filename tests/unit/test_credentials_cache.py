"""The long-term credential cache (credentials_cache.py): one store read per key however many
requests ask at once, and a key in steady use served from the cache while one background read
refreshes it. Time is faked (the cache's clock)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from opensts.identity import ids
from opensts.cache import Caches
from opensts.credentials_cache import CredentialCache
from opensts.store import Store
from opensts.tokens.master_key import MasterKey

ACCOUNT = "123456789012"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class CountingKeys:
    """Stands in for ``store.access_keys``: counts reads; ``gate`` holds them until set."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.reads = 0
        self.gate = threading.Event()
        self.gate.set()
        self.failure: Exception | None = None
        self.deactivated = False

    def get(self, access_key_id: str) -> Any:
        self.reads += 1
        credential = self.real.get(access_key_id)  # what the store holds when the read begins...
        if self.deactivated and credential:
            credential = replace(credential, status="Inactive")
        assert self.gate.wait(10)  # ...reaching the cache only when the gate opens
        if self.failure is not None:
            raise self.failure
        return credential


@pytest.fixture
def setup(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[CredentialCache, CountingKeys, Clock, str]]:
    store = Store(database_url, MasterKey.generate())
    store.accounts.create(ACCOUNT, "a")
    key_id = ids.new_long_term_access_key_id(ACCOUNT)
    store.access_keys.create(key_id, ids.new_secret_access_key(), ACCOUNT)
    keys = CountingKeys(store.access_keys)
    monkeypatch.setattr(store, "access_keys", keys)
    clock = Clock()
    yield CredentialCache(store, Caches().credentials, ttl=5.0, miss_ttl=1.0, clock=clock.monotonic), keys, clock, key_id
    store.close()


def test_many_requests_for_an_uncached_key_read_the_store_once(setup: Any) -> None:
    cache, keys, _, key_id = setup

    async def main() -> list[Any]:
        keys.gate.clear()  # hold the read until every request is waiting on it
        waiting = [asyncio.ensure_future(cache.get(key_id)) for _ in range(50)]
        await asyncio.sleep(0.05)
        keys.gate.set()
        return await asyncio.gather(*waiting)

    answers = asyncio.run(main())
    assert keys.reads == 1
    assert {a.access_key_id for a in answers} == {key_id}


def test_a_stale_entry_is_served_while_one_background_read_refreshes_it(setup: Any) -> None:
    cache, keys, clock, key_id = setup

    async def main() -> None:
        assert (await cache.get(key_id)).active
        assert keys.reads == 1
        keys.deactivated = True  # changed by another node; this one has not polled yet
        clock.now += 5.5  # past the TTL, inside the extra TTL
        keys.gate.clear()
        for _ in range(20):  # answered at once from the cache, the read being held
            assert (await cache.get(key_id)).active
        keys.gate.set()
        await asyncio.sleep(0.1)
        assert keys.reads == 2  # one refresh for twenty requests
        assert not (await cache.get(key_id)).active  # the refreshed answer

    asyncio.run(main())


def test_past_the_extra_ttl_a_request_waits_for_the_store(setup: Any) -> None:
    cache, keys, clock, key_id = setup

    async def main() -> None:
        assert (await cache.get(key_id)).active
        keys.deactivated = True
        clock.now += 10.5
        assert not (await cache.get(key_id)).active
        assert keys.reads == 2

    asyncio.run(main())


def test_unknown_keys_are_cached_as_missing_for_the_shorter_ttl(setup: Any) -> None:
    cache, keys, clock, _ = setup
    unknown = ids.new_long_term_access_key_id(ACCOUNT)

    async def main() -> None:
        assert await cache.get(unknown) is None
        assert await cache.get(unknown) is None
        assert keys.reads == 1
        clock.now += 2.5  # past miss_ttl twice over: read again, waiting for it
        assert await cache.get(unknown) is None
        assert keys.reads == 2

    asyncio.run(main())


def test_a_failed_read_reaches_every_waiting_request_and_the_next_request_reads_again(setup: Any) -> None:
    cache, keys, _, key_id = setup
    keys.failure = RuntimeError("store down")

    async def main() -> None:
        keys.gate.clear()
        waiting = [asyncio.ensure_future(cache.get(key_id)) for _ in range(5)]
        await asyncio.sleep(0.05)
        keys.gate.set()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)
        assert keys.reads == 1
        keys.failure = None
        assert (await cache.get(key_id)).access_key_id == key_id
        assert keys.reads == 2

    asyncio.run(main())


def test_an_iam_change_empties_the_cache_at_once_stale_entries_included(setup: Any) -> None:
    cache, keys, clock, key_id = setup

    async def main() -> None:
        assert (await cache.get(key_id)).active
        keys.deactivated = True
        clock.now += 5.5
        cache._entries.clear()  # what every IAM change does (Caches.drop_iam_data)
        assert not (await cache.get(key_id)).active  # no stale answer after a change

    asyncio.run(main())


def test_a_request_after_an_iam_change_does_not_join_a_read_that_began_before_it(setup: Any) -> None:
    cache, keys, _, key_id = setup

    async def main() -> None:
        keys.gate.clear()
        before = asyncio.ensure_future(cache.get(key_id))  # its read is held at the gate
        await asyncio.sleep(0.05)
        keys.deactivated = True
        cache._entries.clear()  # the key deactivated on this node while that read is under way
        after = asyncio.ensure_future(cache.get(key_id))
        await asyncio.sleep(0.05)
        keys.gate.set()
        assert (await before).active  # read before the change: handed to the request that asked then
        assert not (await after).active  # a read of its own
        assert keys.reads == 2
        assert cache._entries.get(key_id) is not None and not (await cache.get(key_id)).active

    asyncio.run(main())
