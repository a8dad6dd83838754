"""Entity tags (store/tags.py): one implementation of AWS's rules for every taggable entity.

The limit counts distinct keys, compared case-insensitively, after the call: the 51st key is
refused, a call that only overwrites keys never is, and an overwrite keeps the new spelling.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import pytest
from sqlalchemy import insert

from opensts.store import Store, schema, tags
from opensts.store.errors import NoSuchDevice, NoSuchProvider, TooManyTags
from opensts.tokens.master_key import MasterKey

from tests.unit.conftest import ACCOUNT
NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _fifty() -> list[tuple[str, str]]:
    return [(f"key{i:02}", f"v{i}") for i in range(50)]


def _stored(store: Store, entity_type: str, entity_id: str) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return tags.read_tags(conn, entity_type, entity_id)


# --- the rule, on the functions ---------------------------------------------------------------
def test_the_51st_distinct_key_is_refused_and_nothing_is_written(store: Store) -> None:
    with store.engine.begin() as conn:
        tags.merge_tags(conn, tags.USER, "u1", _fifty())
    with pytest.raises(TooManyTags) as refused:
        with store.engine.begin() as conn:
            tags.merge_tags(conn, tags.USER, "u1", [("key00", "new"), ("another", "x")])
    assert refused.value.limit == tags.MAX_TAGS_PER_ENTITY == 50
    assert _stored(store, tags.USER, "u1") == _fifty()


def test_overwriting_keys_at_the_limit_succeeds(store: Store) -> None:
    with store.engine.begin() as conn:
        tags.merge_tags(conn, tags.USER, "u1", _fifty())
        tags.merge_tags(conn, tags.USER, "u1", [(f"KEY{i:02}", "again") for i in range(50)])
    stored = _stored(store, tags.USER, "u1")
    assert stored == [(f"KEY{i:02}", "again") for i in range(50)]


def test_a_call_that_only_overwrites_never_fails_even_past_the_limit(store: Store) -> None:
    """An entity that somehow holds more than the limit can still have its tags overwritten."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(schema.tags),
            [
                {"entity_type": "user", "entity_id": "u1", "key_lower": f"k{i:02}", "key": f"k{i:02}", "value": ""}
                for i in range(52)
            ],
        )
        tags.merge_tags(conn, tags.USER, "u1", [("K00", "x")])
        with pytest.raises(TooManyTags):
            tags.merge_tags(conn, tags.USER, "u1", [("K01", "y"), ("new", "z")])
    assert _stored(store, tags.USER, "u1")[0] == ("K00", "x")


def test_new_keys_that_fit_with_overwrites_are_counted_once(store: Store) -> None:
    with store.engine.begin() as conn:
        tags.merge_tags(conn, tags.USER, "u1", _fifty()[:49])
        # Overwrites of existing keys do not count again: 49 + 1 new = 50.
        tags.merge_tags(conn, tags.USER, "u1", [("KEY00", "a"), ("Key01", "b"), ("key49", "c")])
    assert len(_stored(store, tags.USER, "u1")) == 50


def test_a_case_insensitive_overwrite_keeps_the_new_spelling(store: Store) -> None:
    with store.engine.begin() as conn:
        tags.merge_tags(conn, tags.ROLE, "r1", [("team", "a"), ("Zone", "z")])
        tags.merge_tags(conn, tags.ROLE, "r1", [("TEAM", "b")])
    assert _stored(store, tags.ROLE, "r1") == [("TEAM", "b"), ("Zone", "z")]


def test_tags_read_sorted_by_lowercase_key_remove_and_drop(store: Store) -> None:
    with store.engine.begin() as conn:
        tags.merge_tags(conn, tags.MFA, "d1", [("b", "2"), ("A", "1"), ("C", "3")])
        tags.merge_tags(conn, tags.MFA, "d2", [("x", "9")])
    assert _stored(store, tags.MFA, "d1") == [("A", "1"), ("b", "2"), ("C", "3")]
    with store.engine.connect() as conn:
        assert tags.read_tags_of(conn, tags.MFA, ["d1", "d2", "d3"]) == {
            "d1": [("A", "1"), ("b", "2"), ("C", "3")],
            "d2": [("x", "9")],
            "d3": [],
        }
        assert tags.read_tags_of(conn, tags.MFA, []) == {}
    with store.engine.begin() as conn:
        tags.remove_tags(conn, tags.MFA, "d1", ["B", "missing"])
    assert _stored(store, tags.MFA, "d1") == [("A", "1"), ("C", "3")]
    with store.engine.begin() as conn:
        tags.drop_tags(conn, tags.MFA, "d1")
    assert _stored(store, tags.MFA, "d1") == []
    assert _stored(store, tags.MFA, "d2") == [("x", "9")]


# --- every repository follows it ----------------------------------------------------------------
def _user(store: Store) -> tuple[str, str, Callable[..., None]]:
    store.users.create(ACCOUNT, "AIDAUSER0000000000001", "alice")
    return tags.USER, "AIDAUSER0000000000001", store.users.tag


def _role(store: Store) -> tuple[str, str, Callable[..., None]]:
    store.roles.create(
        role_id="AROAROLE0000000000001", account_id=ACCOUNT, name="r", path="/", assume_role_policy="{}",
        description=None, max_session_duration=3600, permissions_boundary_arn=None, created_at=NOW,
    )
    return tags.ROLE, "AROAROLE0000000000001", store.roles.tag


def _policy(store: Store) -> tuple[str, str, Callable[..., None]]:
    store.managed_policies.create(
        policy_id="ANPAPOLICY00000000001", account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:policy/p", name="p",
        path="/", description=None, document="{}", created_at=NOW,
    )
    return tags.POLICY, "ANPAPOLICY00000000001", store.managed_policies.tag


def _oidc(store: Store) -> tuple[str, str, Callable[..., None]]:
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com"
    store.providers.create_oidc(arn, ACCOUNT, "https://example.com", ["a"], [], [], NOW)
    return tags.OIDC, arn, lambda arn_, new: store.providers.tag(tags.OIDC, arn_, new)


def _mfa(store: Store) -> tuple[str, str, Callable[..., None]]:
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/d"
    store.mfa.create(serial, ACCOUNT, "d", "/", "JBSWY3DPEHPK3PXP", [], NOW)
    return tags.MFA, serial, store.mfa.tag


@pytest.mark.parametrize("make", [_user, _role, _policy, _oidc, _mfa], ids=lambda f: f.__name__.strip("_"))
def test_every_repository_applies_the_same_limit(
    store: Store, make: Callable[[Store], tuple[str, str, Callable[..., None]]]
) -> None:
    entity_type, entity_id, tag = make(store)
    tag(entity_id, _fifty())
    tag(entity_id, [("KEY07", "overwritten")])
    with pytest.raises(TooManyTags):
        tag(entity_id, [("one-more", "x")])
    stored = _stored(store, entity_type, entity_id)
    assert len(stored) == 50 and ("KEY07", "overwritten") in stored


def test_tagging_a_missing_provider_or_device_is_refused(store: Store) -> None:
    with pytest.raises(NoSuchProvider):
        store.providers.tag(tags.SAML, f"arn:aws:iam::{ACCOUNT}:saml-provider/none", [("k", "v")])
    with pytest.raises(NoSuchProvider):
        store.providers.untag(tags.OIDC, f"arn:aws:iam::{ACCOUNT}:oidc-provider/none", ["k"])
    with pytest.raises(NoSuchDevice):
        store.mfa.tag(f"arn:aws:iam::{ACCOUNT}:mfa/none", [("k", "v")])
    with store.engine.connect() as conn:
        assert conn.execute(schema.tags.select()).all() == []

