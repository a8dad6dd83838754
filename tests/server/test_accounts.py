"""Accounts from the command line, while a server runs on the same store."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading

import pytest

from opensts.identity.ids import account_from_access_key_id, new_account_id
from opensts.store import AccountExists, Store
from opensts.store.accounts import AccountNameExists
from opensts.tokens.master_key import MasterKey
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


# --- account names are unique ------------------------------------------------------------------------
def test_account_names_are_unique(server: ServerInfo) -> None:
    name = f"team-{secrets.token_hex(4)}"
    first = opensts(server, "account", "create", "--name", name)
    assert first.returncode == 0, first.stderr
    for args in (("--name", name), ("--name", "default"), ("--name", name, "--id", new_account_id())):
        again = opensts(server, "account", "create", *args)
        assert again.returncode != 0
        assert "already exists" in again.stderr and "Traceback" not in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1
        assert again.stdout == ""
    listed = json.loads(opensts(server, "account", "list", "--json").stdout)
    assert [a["AccountId"] for a in listed if a["Name"] == name] == [json.loads(first.stdout)["AccountId"]]
    assert [a["Name"] for a in listed].count("default") == 1


def test_concurrent_creates_of_one_name_let_one_through(server: ServerInfo) -> None:
    name = f"race-{secrets.token_hex(4)}"
    processes = [
        subprocess.Popen([sys.executable, "-m", "opensts", "account", "create", "--name", name],
                         env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) + (p.returncode,) for p in processes]
    assert sorted(code == 0 for _, _, code in results) == [False, False, False, True], results
    listed = json.loads(opensts(server, "account", "list", "--json").stdout)
    assert [a["Name"] for a in listed].count(name) == 1


def test_store_account_name_check_is_serialised(database_url: str) -> None:
    """Each thread has its own engine (its own connections): one create of a name wins, on both backends."""
    key = MasterKey.generate()
    stores = [Store(database_url, key) for _ in range(6)]
    try:
        barrier = threading.Barrier(len(stores))
        outcomes: list[str] = []

        def create(store: Store) -> None:
            barrier.wait()
            try:
                store.accounts.create(new_account_id(), "same-name")
                outcomes.append("created")
            except AccountNameExists:
                outcomes.append("name taken")

        threads = [threading.Thread(target=create, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(outcomes) == ["created"] + ["name taken"] * (len(stores) - 1)
        assert [a.name for a in stores[0].accounts.list()] == ["same-name"]
        with pytest.raises(AccountExists):
            stores[0].accounts.create(stores[0].accounts.list()[0].account_id, "other-name")
    finally:
        for s in stores:
            s.close()
