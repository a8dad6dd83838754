"""``opensts audit verify`` / ``opensts audit tail`` and the audit events of CLI commands, over the real
command line (a subprocess per command) on SQLite and PostgreSQL."""

from __future__ import annotations

import getpass
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from opensts.config import Settings
from opensts.runtime import open_runtime


@dataclass
class Store:
    env: dict[str, str]
    database_url: str
    default_account: str


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    data_dir = tmp_path / "data"
    runtime = open_runtime(Settings(data_dir=data_dir, database_url=database_url))
    account = runtime.default_account_id
    runtime.close()
    env = {**os.environ, "OPENSTS_DATA_DIR": str(data_dir), "OPENSTS_DATABASE_URL": database_url}
    yield Store(env, database_url, account)


def opensts(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opensts", *args], env=store.env, capture_output=True, text=True,
                          timeout=120)


def records(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines()]


def test_cli_changes_are_recorded_and_verify(store: Store) -> None:
    created = opensts(store, "account", "create", "--name", "team-b")
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    rotated = opensts(store, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    tail = opensts(store, "audit", "tail")
    assert tail.returncode == 0, tail.stderr
    events = records(tail.stdout)
    assert [e["eventName"] for e in events] == ["CreateAccount", "RotateSigningKey"]
    create = events[0]
    assert create["userIdentity"] == {"type": "AWSService", "invokedBy": "opensts-cli", "userName": getpass.getuser()}
    assert create["eventType"] == "AwsServiceEvent"
    assert create["recipientAccountId"] == store.default_account
    assert create["responseElements"]["accessKeyId"] == account["AccessKeyId"]
    assert create["requestParameters"] == {"accountId": account["AccountId"], "accountName": "team-b"}
    assert account["SecretAccessKey"] not in tail.stdout
    assert events[1]["responseElements"]["activeKeyId"] == json.loads(rotated.stdout)["ActiveKeyId"]

    verified = opensts(store, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{store.default_account}  intact    2 events" in verified.stdout
    as_json = json.loads(opensts(store, "audit", "verify", "--json").stdout)
    assert as_json["Intact"] is True


def test_verify_names_the_tampered_event(store: Store) -> None:
    for _ in range(3):
        assert opensts(store, "keys", "rotate").returncode == 0
    events = records(opensts(store, "audit", "tail").stdout)
    from sqlalchemy import create_engine

    engine = create_engine(store.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET record = replace(record, 'RotateSigningKey', 'Nothing') "
                          "WHERE seq = 2"))
    engine.dispose()
    verified = opensts(store, "audit", "verify")
    assert verified.returncode == 1
    line = verified.stdout.strip()
    assert line.startswith(f"{store.default_account}  TAMPERED  modified at seq 2, event {events[1]['eventID']}")
    problem = json.loads(opensts(store, "audit", "verify", "--json").stdout)["Accounts"][0]["Problem"]
    assert (problem["Kind"], problem["Seq"], problem["EventId"]) == ("modified", 2, events[1]["eventID"])


def test_verify_without_a_store_is_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "OPENSTS_DATA_DIR": str(tmp_path / "nothing")}
    env.pop("OPENSTS_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "opensts", "audit", "verify"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("opensts: error:") and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_tail_follows_new_events(store: Store) -> None:
    assert opensts(store, "keys", "rotate").returncode == 0
    follower = subprocess.Popen([sys.executable, "-m", "opensts", "audit", "tail", "-f", "-n", "1",
                                 "--account", store.default_account],
                                env=store.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        assert json.loads(lines.get(timeout=60))["eventName"] == "RotateSigningKey"
        created = opensts(store, "account", "create")
        assert created.returncode == 0, created.stderr
        followed = json.loads(lines.get(timeout=60))
        assert followed["eventName"] == "CreateAccount"
        assert followed["responseElements"]["accountId"] == json.loads(created.stdout)["AccountId"]
    finally:
        follower.terminate()
        follower.wait(timeout=30)


def test_tail_rejects_a_bad_account(store: Store) -> None:
    out = opensts(store, "audit", "tail", "--account", "12")
    assert out.returncode == 2 and "12 digits" in out.stderr


def test_audit_off_records_nothing(store: Store) -> None:
    store.env["OPENSTS_AUDIT"] = "off"
    assert opensts(store, "keys", "rotate").returncode == 0
    assert opensts(store, "audit", "tail").stdout == ""


def test_a_running_server_signs_checkpoints_that_verify(tmp_path: Path) -> None:
    """The server's background task signs each grown chain head; verify then checks the signatures."""
    import time

    from tests.conftest import start_server, stop_server

    server = start_server(tmp_path, "sqlite", {"OPENSTS_AUDIT_CHECKPOINT_SECONDS": "1"})
    try:
        server.client("sts").get_caller_identity()
        store = Store(server.env(), server.database_url, server.account_id)
        deadline = time.monotonic() + 60
        while True:
            report = json.loads(opensts(store, "audit", "verify", "--json").stdout)
            mine = [a for a in report["Accounts"] if a["AccountId"] == server.account_id]
            if mine and mine[0]["Checkpoints"] >= 1:
                break
            assert time.monotonic() < deadline, report
            time.sleep(0.5)
        assert report["Intact"] is True
        assert mine[0]["Events"] >= 1
    finally:
        stop_server(server)
