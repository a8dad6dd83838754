"""The store on every backend: migrations, accounts, sealed secrets, the key ring, bootstrap."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from opensts.config import Settings
from opensts.identity import ids
from opensts.runtime import BootstrapError, open_runtime, rotate_keyring
from opensts.store import AccountExists, Store, schema
from opensts.tokens.master_key import MasterKey


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    s = Store(database_url, MasterKey.generate())
    yield s
    s.close()


def test_migrations_are_idempotent(database_url: str) -> None:
    key = MasterKey.generate()
    Store(database_url, key).close()
    Store(database_url, key).close()


def test_accounts_are_unique(store: Store) -> None:
    store.accounts.create("123456789012", "a")
    with pytest.raises(AccountExists):
        store.accounts.create("123456789012", "b")
    assert [a.account_id for a in store.accounts.list()] == ["123456789012"]


def test_access_key_secrets_are_sealed_at_rest(store: Store) -> None:
    store.accounts.create("123456789012", "a")
    key_id = ids.new_long_term_access_key_id("123456789012")
    secret = ids.new_secret_access_key()
    store.access_keys.create(key_id, secret, "123456789012")
    with store.engine.connect() as conn:
        sealed = conn.execute(select(schema.access_keys.c.secret_sealed)).scalar_one()
    assert secret.encode() not in sealed
    credential = store.access_keys.get(key_id)
    assert credential is not None and credential.secret_access_key == secret and credential.is_root


def test_bootstrap_creates_account_root_key_and_keyring(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=database_url)
    runtime = open_runtime(settings)
    try:
        creds = (tmp_path / "d" / "root-credentials")
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        text = creds.read_text()
        assert "aws_access_key_id" in text and "aws_secret_access_key" in text
        assert runtime.store.accounts.get(runtime.default_account_id) is not None
        assert len(runtime.keyring) == 1
    finally:
        runtime.close()
    # A second start reuses everything.
    again = open_runtime(settings)
    try:
        assert again.default_account_id == runtime.default_account_id
        assert (tmp_path / "d" / "root-credentials").read_text() == text
    finally:
        again.close()


def test_bootstrap_with_configured_account_and_root_key(tmp_path: Path, database_url: str) -> None:
    key_id = ids.new_long_term_access_key_id("210987654321")
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, account_id="210987654321",
        root_access_key_id=key_id, root_secret_access_key="s" * 40,
    )
    runtime = open_runtime(settings)
    try:
        credential = runtime.store.access_keys.get(key_id)
        assert credential is not None and credential.account_id == "210987654321"
        assert not (tmp_path / "root-credentials").exists()
    finally:
        runtime.close()


@pytest.mark.parametrize("overrides", [{"account_id": "12"}, {"root_access_key_id": "lower-case-id-123", "root_secret_access_key": "x"}, {"root_access_key_id": "AKIAONLYID1234567"}])
def test_bootstrap_rejects_bad_configuration(tmp_path: Path, overrides: dict) -> None:
    with pytest.raises(BootstrapError):
        open_runtime(Settings(data_dir=tmp_path, **overrides))


def test_key_rotation_keeps_old_keys(tmp_path: Path, database_url: str) -> None:
    runtime = open_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    try:
        first = runtime.keyring.active_key_id
        second = rotate_keyring(runtime)
        assert second != first
        assert set(runtime.keyring) == {first, second}
    finally:
        runtime.close()


def test_master_key_from_environment_must_be_valid(tmp_path: Path) -> None:
    from opensts.tokens.errors import TokenError

    with pytest.raises((ValueError, TokenError)):
        open_runtime(Settings(data_dir=tmp_path, master_key="not-a-key"))
    assert not os.path.exists(tmp_path / "master-key")


def test_store_access_on_the_event_loop_is_deferred_not_performed(store: Store) -> None:
    from opensts.store.db import StoreAccessDeferred, run_without_store

    store.accounts.create("123456789012", "a")
    with pytest.raises(StoreAccessDeferred):
        run_without_store(store.accounts.get, "123456789012")
    with pytest.raises(StoreAccessDeferred):
        run_without_store(store.accounts.create, "210987654321", "b")
    assert run_without_store(len, "no store needed") == 15
    # Nothing was written, and the pool still works afterwards.
    assert [a.account_id for a in store.accounts.list()] == ["123456789012"]


def test_a_deferred_store_access_keeps_the_pooled_connections(store: Store) -> None:
    """Deferring is control flow: it must not cost a connection (reconnecting to PostgreSQL doubled
    the first decision after every IAM change)."""
    from sqlalchemy import event

    from opensts.store.db import StoreAccessDeferred, run_without_store

    store.accounts.create("123456789012", "a")
    store.accounts.get("123456789012")  # a connection is in the pool now
    opened: list[object] = []
    event.listen(store.engine, "connect", lambda *_: opened.append(1))
    for _ in range(5):
        with pytest.raises(StoreAccessDeferred):
            run_without_store(store.accounts.get, "123456789012")
        assert store.accounts.get("123456789012") is not None
    assert opened == []


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    """A schema change without a migration (or the reverse) fails here, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []


def test_signing_keys_rotate_when_due(tmp_path: Path, database_url: str) -> None:
    from datetime import datetime, timezone

    from sqlalchemy import update

    from opensts.runtime import rotate_keyring_if_due

    runtime = open_runtime(Settings(data_dir=tmp_path, database_url=database_url))
    try:
        first = runtime.keyring.active_key_id
        assert rotate_keyring_if_due(runtime) is None  # a new key is not due
        with runtime.store.engine.begin() as conn:  # age the key past 30 days
            conn.execute(update(schema.signing_keys).values(created_at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
        second = rotate_keyring_if_due(runtime)
        assert second is not None and second != first
        assert set(runtime.keyring) == {first, second}
    finally:
        runtime.close()


def test_concurrent_rotations_lose_no_key(tmp_path: Path, database_url: str) -> None:
    """Workers or nodes rotating at the same moment rotate one after the other: every key any of
    them made active is still in the store (a lost key would kill the sessions it sealed)."""
    import threading

    from opensts.runtime import rotate_keyring

    settings = Settings(data_dir=tmp_path, database_url=database_url)
    runtimes = [open_runtime(settings) for _ in range(3)]
    made: list[str | None] = []
    barrier = threading.Barrier(len(runtimes))

    def rotate(runtime) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        made.append(rotate_keyring(runtime))

    try:
        threads = [threading.Thread(target=rotate, args=(r,)) for r in runtimes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = {r.key_id for r in runtimes[0].store.signing_keys.load()}
        assert None not in made and set(made) <= stored  # type: ignore[operator]
        assert len(stored) == 1 + len(runtimes)
    finally:
        for r in runtimes:
            r.close()


def test_a_load_that_races_an_invalidation_is_not_cached(store: Store) -> None:
    from opensts.cache import Caches
    from opensts.credentials_cache import CredentialCache

    store.accounts.create("123456789012", "a")
    key_id = ids.new_long_term_access_key_id("123456789012")
    store.access_keys.create(key_id, ids.new_secret_access_key(), "123456789012")
    entries = Caches().credentials
    cache = CredentialCache(store, entries)
    real_get = store.access_keys.get

    def get_then_change(access_key_id: str):  # type: ignore[no-untyped-def]
        credential = real_get(access_key_id)
        entries.clear()  # an IAM write lands while the read is in flight
        return credential

    store.access_keys.get = get_then_change  # type: ignore[method-assign]
    assert cache.load(key_id) is not None  # the request itself gets an answer...
    assert entries.get(key_id) is None  # ...but nothing is kept: the next one reads the store again


def test_long_client_supplied_regions_do_not_poison_last_used(store: Store) -> None:
    from datetime import datetime, timezone

    store.accounts.create("123456789012", "a")
    key_id = ids.new_long_term_access_key_id("123456789012")
    store.access_keys.create(key_id, ids.new_secret_access_key(), "123456789012")
    store.access_keys.record_last_used([(key_id, datetime.now(timezone.utc), "s" * 64, "r" * 64)])
    with store.engine.connect() as conn:
        region = conn.execute(select(schema.access_keys.c.last_used_region)).scalar_one()
    assert region == "r" * 32
