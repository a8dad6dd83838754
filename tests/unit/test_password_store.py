"""verify_password, the console sign-in's check: right and wrong passwords, missing users and
profiles (answered False, after the same hashing work), and only a hash at rest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from opensts.identity import ids
from opensts.store import Store, schema
from opensts.store.iam_passwords import hash_password, password_expired, verify_password
from opensts.tokens.master_key import MasterKey

ACCOUNT = "123456789012"


@pytest.fixture
def store(database_url: str):  # type: ignore[no-untyped-def]
    s = Store(database_url, MasterKey.generate())
    yield s
    s.close()


def test_verify_password(store: Store) -> None:
    store.accounts.create(ACCOUNT, "a")
    user = store.users.create(ACCOUNT, ids.new_user_id(), "alice")
    store.users.create(ACCOUNT, ids.new_user_id(), "bob")  # no login profile
    now = datetime.now(timezone.utc)
    store.passwords.create(user.user_id, ACCOUNT, hash_password("s3cret-Pass"), reset_required=False,
                           max_signin_session_duration=None, now=now)
    assert verify_password(store, ACCOUNT, "alice", "s3cret-Pass")
    assert verify_password(store, ACCOUNT, "ALICE", "s3cret-Pass")  # user names are case-insensitive
    assert not verify_password(store, ACCOUNT, "alice", "s3cret-pass")
    assert not verify_password(store, ACCOUNT, "bob", "s3cret-Pass")
    assert not verify_password(store, ACCOUNT, "nobody", "s3cret-Pass")
    assert not verify_password(store, "210987654321", "alice", "s3cret-Pass")
    with store.engine.connect() as conn:
        stored = conn.execute(select(schema.login_profiles.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "s3cret-Pass" not in stored
    assert "s3cret" not in repr(store.passwords.get(user.user_id))


def test_password_expiry() -> None:
    changed = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert not password_expired(changed, None, changed + timedelta(days=5000))
    assert not password_expired(changed, 90, changed + timedelta(days=89, hours=23))
    assert password_expired(changed, 90, changed + timedelta(days=90))


def test_password_requests_keep_passwords_secret() -> None:
    from opensts.fields import REDACTED, redacted, request_decoder
    from opensts.iam.login_profiles import ChangePasswordRequest, CreateLoginProfileRequest

    request = request_decoder(CreateLoginProfileRequest)({"UserName": "alice", "Password": "s3cret-Pass"})
    assert (request.user_name, request.password_reset_required, request.max_signin_session_duration) == (
        "alice", False, None)
    assert "s3cret" not in repr(request) and redacted(request)["password"] == REDACTED
    change = request_decoder(ChangePasswordRequest)({"OldPassword": "old-one-1", "NewPassword": "new-one-1"})
    assert "one-1" not in repr(change) and "one-1" not in str(redacted(change))
