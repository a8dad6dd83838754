"""Query pieces the repositories share (store/queries.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from opensts.store import Store
from opensts.tokens.master_key import MasterKey

from tests.unit.conftest import ACCOUNT
NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_path_prefixes_match_case_sensitively_and_literally_for_every_entity(store: Store) -> None:
    """PathPrefix compares as AWS does: case-sensitively (SQLite's LIKE would not), and ``_`` or
    ``%`` in a path are plain characters."""
    paths = ["/Eng/", "/eng/", "/e_g/", "/e%g/", "/eng/sub/"]
    for i, path in enumerate(paths):
        store.users.create(ACCOUNT, f"AIDAUSER{i:013}", f"u{i}", path)
        store.groups.create(ACCOUNT, f"AGPAGROUP{i:012}", f"g{i}", path)
        store.roles.create(
            role_id=f"AROAROLE{i:013}", account_id=ACCOUNT, name=f"r{i}", path=path, assume_role_policy="{}",
            description=None, max_session_duration=3600, permissions_boundary_arn=None, created_at=NOW,
        )
        store.managed_policies.create(
            policy_id=f"ANPAPOLICY{i:011}", account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:policy{path}p{i}",
            name=f"p{i}", path=path, description=None, document="{}", created_at=NOW,
        )
    listings = (store.users.list, store.groups.list, store.roles.list, store.managed_policies.list)
    for listing in listings:
        assert sorted(e.path for e in listing(ACCOUNT, "/eng/")) == ["/eng/", "/eng/sub/"]
        assert [e.path for e in listing(ACCOUNT, "/E")] == ["/Eng/"]
        assert [e.path for e in listing(ACCOUNT, "/e_")] == ["/e_g/"]
        assert [e.path for e in listing(ACCOUNT, "/e%")] == ["/e%g/"]
        assert len(listing(ACCOUNT, "/")) == len(paths)
