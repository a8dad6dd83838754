"""The IAM change counter moves in the same transaction as the IAM write it announces (issue 12, item 7)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from opensts.store import Store, meta, schema
from opensts.tokens.master_key import MasterKey

from tests.unit.conftest import ACCOUNT


def _create_user(store: Store, name: str) -> None:
    store.users.create(ACCOUNT, f"AIDA{name.upper():0<17}"[:21], name)


def test_a_fresh_store_has_the_counter_row(store: Store) -> None:
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.versions.c.name, schema.versions.c.value)).all()
    assert [tuple(r) for r in rows] == [("iam", 0)]


def test_an_iam_write_bumps_the_counter_itself(store: Store) -> None:
    before = store.meta.version("iam")
    _create_user(store, "alice")
    assert store.meta.version("iam") == before + 1


def test_a_write_whose_bump_fails_is_not_stored(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """One transaction: a node dying between the row write and the bump leaves neither."""
    before = store.meta.version("iam")

    def fail(conn, name):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed between the write and its bump")

    monkeypatch.setattr(meta, "bump_counter", fail)
    with pytest.raises(RuntimeError):
        _create_user(store, "bob")
    monkeypatch.undo()
    assert store.users.get(ACCOUNT, "bob") is None
    assert store.meta.version("iam") == before


def test_a_failed_write_does_not_bump(store: Store) -> None:
    _create_user(store, "carol")
    before = store.meta.version("iam")
    with pytest.raises(Exception):
        _create_user(store, "carol")  # NameTaken: rolled back, with its bump
    assert store.meta.version("iam") == before


def test_a_missing_counter_row_is_recreated(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(schema.versions))
    _create_user(store, "dave")
    assert store.meta.version("iam") == 1
