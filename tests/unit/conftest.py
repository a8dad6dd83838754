"""Fixtures of the unit tests: a store of one account on every configured backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opensts.store import Store
from opensts.tokens.master_key import MasterKey

ACCOUNT = "123456789012"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store holding the account :data:`ACCOUNT`."""
    s = Store(database_url, MasterKey.generate())
    s.accounts.create(ACCOUNT, "a")
    yield s
    s.close()
