"""The one bounded cache type, the runtime's caches, and the edge's memos built on them.

Every cache is bounded whatever callers send; the caches of IAM data are dropped together at each
IAM change; a read that raced a change is not kept.
"""

from __future__ import annotations

import json
import threading

import pytest

from opensts.cache import BoundedCache, Caches
from opensts.server import auth
from opensts.tokens import KeyRing, SessionClaims
from opensts.tokens.errors import InvalidSessionToken
from opensts.tokens.session_token import encode_session_token
from tests.tokens.conftest import make_claims



def test_oldest_entries_go_first_and_the_size_holds() -> None:
    cache: BoundedCache[int, str] = BoundedCache("t", 3)
    for n in range(5):
        assert cache.put(n, str(n)) == str(n)
    assert len(cache) == 3 and [cache.get(n) for n in range(5)] == [None, None, "2", "3", "4"]
    cache.put(2, "two")  # a new value for a key kept: no eviction, same place in line
    cache.put(5, "5")
    assert [cache.get(n) for n in (2, 3, 4, 5)] == [None, "3", "4", "5"]


def test_get_is_the_dicts_own_and_survives_clear() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t", 10)
    get = cache.get
    cache.put("a", 1)
    cache.clear()
    assert len(cache) == 0 and get("a") is None
    cache.put("a", 2)
    assert get("a") == 2 and get("b", 7) == 7  # type: ignore[call-arg]


def test_a_put_read_before_a_clear_is_not_kept() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t", 10)
    generation = cache.generation
    cache.clear()  # an IAM change lands while the value is being read
    assert cache.put("k", 1, generation) == 1  # the reader gets its answer...
    assert cache.get("k") is None  # ...but it is not kept
    cache.put("k", 2, cache.generation)
    assert cache.get("k") == 2


def test_concurrent_puts_keep_the_bound() -> None:
    cache: BoundedCache[tuple[int, int], int] = BoundedCache("t", 100)

    def fill(worker: int) -> None:
        for n in range(5000):
            cache.put((worker, n), n)

    threads = [threading.Thread(target=fill, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 100


def test_iam_changes_drop_exactly_the_caches_of_iam_data() -> None:
    caches = Caches()
    for cache in caches:
        cache.put("k", "v")  # type: ignore[arg-type]
    caches.drop_iam_data()
    kept = {cache.name for cache in caches if len(cache)}
    assert kept == {"session-tokens", "authorize-actions", "context-keys"}
    assert {c.name for c in caches if c.iam_data} >= {
        "credentials", "callers", "policy-sets", "caller-policies", "decisions", "decision-keys"
    }
    caches.clear()
    assert all(len(cache) == 0 for cache in caches)


def test_a_runtime_drops_its_iam_caches_when_the_counter_moves(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from opensts.config import Settings
    from opensts.runtime import open_runtime

    runtime = open_runtime(Settings(data_dir=tmp_path))
    try:
        runtime.caches.policy_sets.put(("user", "AIDA"), (runtime.iam_version, None))
        runtime.caches.session_tokens.put("token", ("ring", "claims"))
        runtime.store.users.create(runtime.default_account_id, "alice", "/")  # an IAM write, counted
        assert len(runtime.caches.policy_sets) == 0
        assert len(runtime.caches.session_tokens) == 1
    finally:
        runtime.close()


# --- the edge's memos ---------------------------------------------------------------------------
def claims() -> SessionClaims:
    return make_claims(session_policy=json.dumps({"Version": "2012-10-17", "Statement": []}))


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate(now=1_795_000_000)


def test_a_token_is_decoded_once_per_key_ring(ring: KeyRing) -> None:
    memo = Caches().session_tokens
    token = encode_session_token(claims(), ring)
    first = auth.decoded_session_token(token, ring, memo)
    assert first == claims()
    assert auth.decoded_session_token(token, ring, memo) is first  # remembered
    reloaded = KeyRing([ring[key_id] for key_id in ring], ring.active_key_id)  # what a reload builds
    again = auth.decoded_session_token(token, reloaded, memo)  # a reloaded ring decodes afresh
    assert again == claims() and again is not first


def test_a_ring_without_the_key_rejects_a_remembered_token(ring: KeyRing) -> None:
    memo = Caches().session_tokens
    token = encode_session_token(claims(), ring)
    auth.decoded_session_token(token, ring, memo)
    with pytest.raises(InvalidSessionToken):
        auth.decoded_session_token(token, KeyRing.generate(now=1_795_000_000), memo)


def test_bad_tokens_are_not_remembered(ring: KeyRing) -> None:
    memo = Caches().session_tokens
    bad = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    for _ in range(2):
        with pytest.raises(InvalidSessionToken):
            auth.decoded_session_token(bad, ring, memo)
    assert bad not in memo
