"""GET /ready: 200 only when the store answers, the key ring is loaded and the store's schema is this
code's newest migration; else 503 naming the failed check, never a URL or a secret. GET /health stays
liveness. Two nodes starting at once on an empty database migrate it once and both become ready."""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opensts.store.migrate import head_revision
from tests.conftest import BACKENDS, POSTGRES_URL, ServerInfo, database_url_for, start_server, stop_server
from tests.server.nodes import spawn_node, wait_ready


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerInfo]:
    """A server of its own: these tests change its store under it."""
    info = start_server(tmp_path, request.param)
    yield info
    stop_server(info)


def set_schema_revision(database_url: str, revision: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def ready_until(url: str, status: int, seconds: float = 30) -> httpx.Response:
    """GET /ready until it answers ``status`` (the migration check's answer is kept briefly)."""
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.get(url + "/ready", timeout=5)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_ready_when_store_keyring_and_schema_are(own_server: ServerInfo) -> None:
    response = httpx.get(own_server.url + "/ready", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"store": "ok", "keyring": "ok", "migrations": "ok"}}
    assert httpx.get(own_server.url + "/health", timeout=5).json() == {"status": "ok"}


@pytest.mark.parametrize("revision, reason", [
    ("0001", "store schema at 0001"),  # an old schema (a store restored from an old backup)
    ("9999", "store schema at 9999"),  # migrated further by a newer node during a rolling upgrade
])
def test_not_ready_while_the_schema_is_not_this_versions(own_server: ServerInfo, revision: str, reason: str) -> None:
    set_schema_revision(own_server.database_url, revision)
    try:
        response = ready_until(own_server.url, 503)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready" and body["failed"] == ["migrations"]
        assert body["checks"]["migrations"] == f"{reason}, this version expects {head_revision()}"
        assert body["checks"]["store"] == "ok" and body["checks"]["keyring"] == "ok"
        # Liveness is not readiness: the process and its store are fine.
        assert httpx.get(own_server.url + "/health", timeout=5).status_code == 200
        # Requests are still served (readiness tells the balancer; it does not refuse work).
        assert own_server.client("sts").get_caller_identity()["Account"] == own_server.account_id
    finally:
        set_schema_revision(own_server.database_url, head_revision())
    assert ready_until(own_server.url, 200).status_code == 200


@pytest.mark.skipif(not POSTGRES_URL, reason="needs OPENSTS_TEST_POSTGRES_URL (a database the test can drop)")
def test_not_ready_when_the_store_is_gone(tmp_path: Path) -> None:
    server = start_server(tmp_path, "postgres")
    try:
        database = make_url(server.database_url)
        admin = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{database.database}" WITH (FORCE)'))
        finally:
            engine.dispose()
        response = ready_until(server.url, 503)
        assert response.status_code == 503
        body = response.json()
        assert body["failed"] == ["store", "migrations"]
        assert body["checks"] == {"store": "unreachable", "keyring": "ok", "migrations": "unknown (store unreachable)"}
        for secret_or_place in (str(database.host), str(database.port), database.database, "postgres", server.root.secret_access_key):
            assert secret_or_place not in response.text
        assert httpx.get(server.url + "/health", timeout=5).status_code == 503
    finally:
        stop_server(server)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_nodes_starting_at_once_on_an_empty_store_both_become_ready(backend: str, tmp_path: Path) -> None:
    """Both migrate the same empty database at the same moment: the migration lock (an advisory lock
    on PostgreSQL, a file lock beside SQLite) lets one apply it while the other waits, then finds it
    done."""
    data_dir = tmp_path / "data"
    database_url = database_url_for(backend, data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTS_")}
    env.update(OPENSTS_DATA_DIR=str(data_dir), OPENSTS_DATABASE_URL=database_url)
    # The first start makes the master key file: give both the same key, as docs/DEPLOY.md says.
    env["OPENSTS_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    nodes = []
    start = threading.Barrier(2)

    def spawn(i: int) -> None:
        start.wait()
        nodes.append(spawn_node(env, tmp_path / f"node-{i}.log"))

    threads = [threading.Thread(target=spawn, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        for node in nodes:
            assert wait_ready(node)["status"] == "ready"
        for node in nodes:
            assert "Traceback" not in node.log.read_text()
    finally:
        for node in nodes:
            node.stop()
