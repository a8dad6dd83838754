"""``opensts audit query``: LookupEvents' filters on the store, while a server runs on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from opensts.identity.ids import account_from_access_key_id
from tests.conftest import ServerInfo
from tests.server.test_audit_lookup import new_account, users


def opensts(server: ServerInfo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opensts", "audit", "query", *args], env=server.env(),
                          capture_output=True, text=True, timeout=60)


def query(server: ServerInfo, *args: str) -> list[dict[str, Any]]:
    out = opensts(server, *args)
    assert out.returncode == 0, out.stderr
    events: list[dict[str, Any]] = json.loads(out.stdout)["Events"]
    return events


def test_query_filters_like_lookup_events(server: ServerInfo) -> None:
    creds = new_account(server)
    account = account_from_access_key_id(creds.access_key_id) or ""
    names = users(server, creds, 4)
    created = query(server, "--account", account, "--lookup-attribute", "EventName=CreateUser")
    assert [e["Resources"][0]["ResourceName"] for e in created] == names[::-1]
    assert all(e["ReadOnly"] == "false" and e["Username"] == "root" for e in created)
    assert json.loads(created[0]["CloudTrailEvent"])["eventID"] == created[0]["EventId"]
    # --max-results counts events in all (the command pages by itself).
    assert [e["EventId"] for e in query(server, "--account", account, "--lookup-attribute",
                                        "EventName=CreateUser", "--max-results", "3")] == [
        e["EventId"] for e in created[:3]]
    assert [e["EventName"] for e in query(server, "--account", account, "--lookup-attribute",
                                          f"ResourceName={names[1]}")] == ["CreateUser"]
    newest = created[0]["EventTime"]
    assert len(query(server, "--account", account, "--lookup-attribute", "EventName=CreateUser",
                     "--start-time", newest, "--end-time", newest)) >= 1
    assert query(server, "--account", account, "--start-time", "2999-01-01T00:00:00Z") == []
    # Another account's events are not shown for this one; the default account is the server's.
    others = query(server, "--lookup-attribute", f"AccessKeyId={creds.access_key_id}")
    assert others == []
    table = opensts(server, "--account", account, "--lookup-attribute", "EventName=CreateUser", "--output", "table")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert len(lines) == 4 and all("CreateUser  iam.amazonaws.com  root  -  " in line for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    (("--lookup-attribute", "Bogus=x"), "--lookup-attribute takes KEY=VALUE"),
    (("--lookup-attribute", "EventName"), "--lookup-attribute takes KEY=VALUE"),
    (("--lookup-attribute", "EventName=a", "--lookup-attribute", "EventName=b"), "at most one"),
    (("--lookup-attribute", "ReadOnly=maybe"), "InvalidLookupAttributesException"),
    (("--start-time", "yesterday"), "--start-time must be an ISO 8601 time"),
    (("--start-time", "2030-01-01", "--end-time", "2020-01-01"), "InvalidTimeRangeException"),
    (("--max-results", "0"), "--max-results must be between 1 and 10000"),
    (("--account", "000000000000"), "no account '000000000000'"),
])
def test_errors_are_one_line(server: ServerInfo, args: tuple[str, ...], message: str) -> None:
    out = opensts(server, *args)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and message in out.stderr and "Traceback" not in out.stderr


def test_missing_store_is_one_line(tmp_path: Any) -> None:
    out = subprocess.run([sys.executable, "-m", "opensts", "audit", "query", "--data-dir", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in os.environ.items() if not k.startswith("OPENSTS_")})
    assert out.returncode == 1 and out.stderr.startswith("opensts: error: no OpenSTS store")
    assert out.stderr.count("\n") == 1
