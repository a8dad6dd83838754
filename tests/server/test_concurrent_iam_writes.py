"""Concurrent IAM writes on a fresh store all succeed (issue 12, item 7).

On PostgreSQL the IAM change counter's row used to be created by the first write (UPDATE, then
INSERT), and concurrent first writes answered 500 (UniqueViolation on ``pk_versions``) although
their rows had committed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, random_name, start_server, stop_server

WRITERS = 12


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_concurrent_iam_writes_on_a_fresh_store_all_succeed(tmp_path: Path, backend: str) -> None:
    server = start_server(tmp_path, backend)
    try:
        clients = [server.client("iam") for _ in range(WRITERS)]
        names = [random_name("u") for _ in range(WRITERS)]
        with ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(lambda cn: cn[0].create_user(UserName=cn[1]), zip(clients, names)))
        assert [r["User"]["UserName"] for r in results] == names
        listed = {u["UserName"] for u in clients[0].list_users()["Users"]}
        assert set(names) <= listed
    finally:
        stop_server(server)
