"""The console's store: sign-in tokens are single-use and expire; sessions close everywhere; expired rows go."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from opensts.store import Store
from opensts.tokens.master_key import MasterKey

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    s = Store(database_url, MasterKey.generate())
    yield s
    s.close()


def test_a_signin_token_is_redeemed_once(store: Store) -> None:
    store.console.add_signin_token("h1", "token-1", NOW + timedelta(hours=1), NOW + timedelta(minutes=15))
    grant = store.console.redeem_signin_token("h1", NOW)
    assert grant is not None and grant.session_token == "token-1"
    assert store.console.redeem_signin_token("h1", NOW) is None


def test_an_expired_signin_token_is_refused_and_gone(store: Store) -> None:
    store.console.add_signin_token("h2", "token-2", NOW + timedelta(hours=1), NOW + timedelta(minutes=15))
    assert store.console.redeem_signin_token("h2", NOW + timedelta(minutes=15)) is None
    store.console.add_signin_token("h2", "token-2", NOW + timedelta(hours=1), NOW + timedelta(minutes=15))  # the row went


def test_sessions_open_expire_close_and_are_pruned(store: Store) -> None:
    store.console.open_session("s1", "123456789012", "arn:aws:iam::123456789012:root", "tok", NOW, NOW + timedelta(hours=1))
    store.console.open_session("s2", "123456789012", "arn:aws:iam::123456789012:root", "tok", NOW, NOW + timedelta(minutes=1))
    found = store.console.get_session("s1", NOW)
    assert found is not None and found.session_token == "tok" and found.account_id == "123456789012"
    assert store.console.get_session("s2", NOW + timedelta(minutes=1)) is None  # expired
    assert store.console.close_session("s1") and not store.console.close_session("s1")
    assert store.console.get_session("s1", NOW) is None
    assert store.console.prune(NOW + timedelta(minutes=2)) == 1  # s2


def test_the_session_token_is_sealed_at_rest(store: Store) -> None:
    from sqlalchemy import select

    from opensts.store import schema

    store.console.open_session("s3", "123456789012", "arn", "very-secret-token", NOW, NOW + timedelta(hours=1))
    with store.engine.connect() as conn:
        sealed = conn.execute(select(schema.console_sessions.c.session_token_sealed)).scalar()
    assert b"very-secret-token" not in bytes(sealed)
