"""nginx in front of two OpenSTS nodes on one store (docs/DEPLOY.md), the boto3 flows through it.

Two `opensts serve` processes share the store (one SQLite data dir, or one PostgreSQL database) and
the master key, with ``--trusted-proxies 127.0.0.1/32``; nginx balances them round-robin with
kept-alive upstream connections, preserving the Host header (SigV4 signs it) and setting
X-Forwarded-For/-Proto. nginx's access log names the node behind each request, so the test checks
that both served the flows: a key created through one node works on the other, and so do session
credentials and presigned URLs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.authorize.conftest import call, inner_request, instance_arn
from tests.conftest import BACKENDS, Credentials, ServerInfo, random_name, start_server, stop_server
from tests.server.nodes import Node, another_node, start_nginx, wait_ready

CALLS = 8  # per flow: round-robin over two nodes sends some to each


@pytest.fixture(scope="module", params=BACKENDS)
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerInfo, list[str], Path]]:
    """(the store's server info with the URL of nginx, the nodes' host:port, nginx's access log)."""
    first = start_server(tmp_path_factory.mktemp("two-nodes"), request.param, {"OPENSTS_TRUSTED_PROXIES": "127.0.0.1/32"})
    second: Node | None = None
    nginx = None
    try:
        second = another_node(first, "node-2.log", "--trusted-proxies", "127.0.0.1/32")
        wait_ready(second)
        nodes = [first.url.removeprefix("http://"), second.url.removeprefix("http://")]
        nginx, url, access_log = start_nginx(tmp_path_factory.mktemp("nginx"), nodes)
        yield replace(first, url=url), nodes, access_log
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        if second is not None:
            second.stop()
        stop_server(first)


def served_by(access_log: Path, since: int) -> tuple[set[str], list[str]]:
    """(upstreams, statuses) of the access-log lines after line ``since``."""
    lines = access_log.read_text().splitlines()[since:]
    return {line.split()[0] for line in lines}, [line.split()[1] for line in lines]


def log_length(access_log: Path) -> int:
    return len(access_log.read_text().splitlines()) if access_log.exists() else 0


def test_flows_through_nginx_reach_both_nodes(cluster: tuple[ServerInfo, list[str], Path]) -> None:
    proxied, nodes, access_log = cluster
    start = log_length(access_log)

    # Root's identity.
    for _ in range(CALLS):
        assert proxied.client("sts").get_caller_identity()["Account"] == proxied.account_id

    # A user and a key made through one node, used through both.
    iam = proxied.client("iam")
    user = random_name("alice")
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    alice = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    for _ in range(CALLS):
        assert proxied.client("sts", alice).get_caller_identity()["Arn"] == user_arn

    # A role alice may assume; its session credentials work on both nodes.
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=random_name("deployer"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    issued = proxied.client("sts", alice).assume_role(RoleArn=role["Arn"], RoleSessionName="ci")["Credentials"]
    session = Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
    assumed = f"arn:aws:sts::{proxied.account_id}:assumed-role/{role['RoleName']}/ci"
    for _ in range(CALLS):
        assert proxied.client("sts", session).get_caller_identity()["Arn"] == assumed

    # A presigned GetCallerIdentity URL (the Host it signed is the proxy's, which nginx passes on).
    url = proxied.client("sts", session).generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=300, HttpMethod="GET")
    for _ in range(CALLS):
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200 and assumed in response.text

    upstreams, statuses = served_by(access_log, start)
    assert upstreams == set(nodes), upstreams
    assert set(statuses) == {"200"}


def test_authorize_through_nginx_on_both_nodes(cluster: tuple[ServerInfo, list[str], Path]) -> None:
    """/v1/authorize: the outer request is signed for the proxy's Host; the decision is the same on both nodes."""
    proxied, nodes, access_log = cluster
    iam = proxied.client("iam")
    user = random_name("svc")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="stop", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    start = log_length(access_log)
    for action, decision in [("ec2:StopInstances", "Allow"), ("ec2:TerminateInstances", "Deny")] * (CALLS // 2):
        payload = {"request": inner_request(creds), "action": action, "resource": instance_arn(proxied.account_id)}
        response = call(proxied, payload)
        assert response.status_code == 200, response.text
        assert response.json()["decision"] == decision, response.text
    upstreams, statuses = served_by(access_log, start)
    assert upstreams == set(nodes) and set(statuses) == {"200"}


def test_ready_through_nginx(cluster: tuple[ServerInfo, list[str], Path]) -> None:
    proxied, _, _ = cluster
    for _ in range(4):
        response = httpx.get(proxied.url + "/ready", timeout=5)
        assert response.status_code == 200 and response.json()["status"] == "ready"
