"""Several processes on one store: worker processes, a second node, CLI commands, key rotation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import Credentials, ServerInfo, free_port, start_server, stop_server


def start_node(server: ServerInfo, *extra_args: str) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    """Another `opensts serve` on the same store and master key (the data dir holds the key)."""
    port = free_port()
    env = {**server.env(), "OPENSTS_TEST_CLOCK_FILE": str(server.clock_file)}
    log = open(server.data_dir / f"node-{port}.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "opensts", "serve", "--port", str(port), *extra_args], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("node did not start")


@pytest.fixture(scope="module")
def multi_worker(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    server = start_server(tmp_path_factory.mktemp("workers"), "sqlite")
    stop_server(server)  # restart the same store with two worker processes
    process, url = start_node(server, "--workers", "2")
    server.process, server.url = process, url
    yield server
    stop_server(server)


def test_two_workers_and_cli_writers_share_one_sqlite_file(multi_worker: ServerInfo) -> None:
    def identity(_: int) -> str:
        return multi_worker.client("sts").get_caller_identity()["Account"]

    def create_account(_: int) -> str:
        out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=multi_worker.env(),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["AccountId"]

    with ThreadPoolExecutor(8) as pool:
        creators = [pool.submit(create_account, i) for i in range(3)]
        accounts = list(pool.map(identity, range(60)))
        created = [f.result() for f in creators]
    assert set(accounts) == {multi_worker.account_id}
    listed = subprocess.run([sys.executable, "-m", "opensts", "account", "list", "--json"], env=multi_worker.env(),
                            capture_output=True, text=True, check=True)
    assert set(created) <= {a["AccountId"] for a in json.loads(listed.stdout)}
    # Metrics add up across worker processes.
    assert "opensts_requests_total" in httpx.get(multi_worker.url + "/metrics").text


def test_sessions_verify_on_another_node_and_survive_key_rotation(server: ServerInfo) -> None:
    session = server.client("sts").get_session_token()["Credentials"]
    creds = Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    rotated = subprocess.run([sys.executable, "-m", "opensts", "keys", "rotate"], env=server.env(),
                             capture_output=True, text=True, timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    new_key = json.loads(rotated.stdout)["ActiveKeyId"]
    node, url = start_node(server)
    try:
        other = ServerInfo(url, server.backend, server.data_dir, server.database_url, server.account_id, server.root,
                           server.clock_file, node)
        # A session sealed before the rotation still verifies on the new node (old keys verify)...
        assert other.client("sts", creds).get_caller_identity()["Account"] == server.account_id
        # ...and a session the new node seals with the new key verifies on the first node, which
        # reloads its key ring when it meets an unknown key id.
        fresh = other.client("sts").get_session_token()["Credentials"]
        fresh_creds = Credentials(fresh["AccessKeyId"], fresh["SecretAccessKey"], fresh["SessionToken"])
        assert server.client("sts", fresh_creds).get_caller_identity()["Account"] == server.account_id
    finally:
        node.terminate()
        node.wait(timeout=10)
    keys = subprocess.run([sys.executable, "-m", "opensts", "keys", "list"], env=server.env(), capture_output=True, text=True, check=True)
    assert f"* {new_key}" in keys.stdout


def test_iam_writes_on_one_node_reach_the_others_caches(server: ServerInfo) -> None:
    """A key deleted through one node stops working on another node within its poll interval."""
    from tests.iam.conftest import allow, make_user

    name, creds = make_user(server, allow("iam:ListRoles"))
    node, url = start_node(server)
    try:
        other = ServerInfo(url, server.backend, server.data_dir, server.database_url, server.account_id, server.root,
                           server.clock_file, node)
        other.client("iam", creds).list_roles()  # now cached on the other node
        server.client("iam").put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(allow("iam:ListUsers")))
        server.client("iam").delete_access_key(UserName=name, AccessKeyId=creds.access_key_id)
        time.sleep(1.0)  # more than the 0.25 s poll interval
        import botocore.exceptions

        with pytest.raises(botocore.exceptions.ClientError) as info:
            other.client("iam", creds).list_roles()
        assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"
    finally:
        node.terminate()
        node.wait(timeout=10)


def test_two_workers_share_one_audit_log_and_chain(tmp_path: Path) -> None:
    """`--workers 2 --audit-log FILE`: both workers append whole lines to the one file, and their
    events form one unbroken chain per account in the store (`opensts audit verify` exits 0)."""
    server = start_server(tmp_path, "sqlite")
    audit_log = tmp_path / "audit.jsonl"
    process, url = start_node(server, "--workers", "2", "--audit-log", str(audit_log))
    try:
        import boto3

        sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id=server.root.access_key_id,
                           aws_secret_access_key=server.root.secret_access_key)
        with ThreadPoolExecutor(8) as pool:
            request_ids = set(pool.map(
                lambda _: sts.get_caller_identity()["ResponseMetadata"]["RequestId"], range(200)))
        deadline = time.monotonic() + 20
        while True:
            lines = audit_log.read_text().splitlines() if audit_log.exists() else []
            records = [json.loads(line) for line in lines]  # every line is a whole record
            if request_ids <= {r["requestID"] for r in records} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert request_ids <= {r["requestID"] for r in records}
        verify = subprocess.run([sys.executable, "-m", "opensts", "audit", "verify"], env=server.env(),
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        process.terminate()
        process.wait(timeout=30)
        stop_server(server)
