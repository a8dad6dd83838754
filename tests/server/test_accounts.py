"""Accounts from the command line, while a server runs on the same store."""

from __future__ import annotations

import json
import subprocess
import sys

from opensts.identity.ids import account_from_access_key_id
from tests.conftest import Credentials, ServerInfo


def opensts(server: ServerInfo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opensts", *args], env=server.env(), capture_output=True, text=True, timeout=60)


def test_account_create_gives_working_root_credentials(server: ServerInfo) -> None:
    out = opensts(server, "account", "create", "--name", "team-b")
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert set(created) == {"AccountId", "AccessKeyId", "SecretAccessKey"}
    assert account_from_access_key_id(created["AccessKeyId"]) == created["AccountId"]
    identity = server.client("sts", Credentials(created["AccessKeyId"], created["SecretAccessKey"])).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{created['AccountId']}:root"
    listed = json.loads(opensts(server, "account", "list", "--json").stdout)
    assert {a["AccountId"] for a in listed} >= {server.account_id, created["AccountId"]}


def test_duplicate_and_invalid_account_ids_fail_cleanly(server: ServerInfo) -> None:
    for args, text in [
        (("--id", server.account_id), "already exists"),
        (("--id", "12345"), "12 digits"),
        (("--id", "abcdefghijkl"), "12 digits"),
    ]:
        out = opensts(server, "account", "create", *args)
        assert out.returncode != 0
        assert text in out.stderr
        assert "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_secrets_never_reach_the_server_log(server: ServerInfo) -> None:
    server.client("sts").get_caller_identity()
    log = (server.data_dir / "server.log").read_text()
    assert server.root.secret_access_key not in log
