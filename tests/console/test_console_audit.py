"""The audit trail and the sessions pages over HTTP, against a real server."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta, timezone
from unittest import mock

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerInfo, random_name
from tests.console.helpers import browser, role_session, sign_in, signed_in, signed_in_as_root
from tests.iam.conftest import allow, make_user
from tests.sts.outbound import new_account


def poll(read: Callable[[], httpx.Response], ready: Callable[[httpx.Response], bool], timeout: float = 15) -> httpx.Response:
    """``read()`` until ``ready`` (read-only calls are recorded asynchronously), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        page = read()
        if ready(page) or time.monotonic() > deadline:
            return page
        time.sleep(0.3)


def session_row(page: httpx.Response, access_key_id: str) -> dict[str, str] | None:
    found = re.search(rf'<tr id="session-{access_key_id}".*?</tr>', page.text, re.S)
    if not found:
        return None
    cells = re.findall(r'<td class="session-([a-z-]+)"[^>]*>(.*?)</td>', found.group(0), re.S)
    return {name: html.unescape(re.sub(r"<[^>]+>", "", value)).strip() for name, value in cells}


def event_rows(page: httpx.Response) -> list[dict[str, str]]:
    rows = []
    for row in re.findall(r'<tr id="event-[^"]+" class="event[^"]*">.*?</tr>', page.text, re.S):
        cells = dict(re.findall(r'<td class="event-([a-z]+)">(.*?)</td>', row, re.S))
        name = re.search(r'<td class="event-name">([^<]*)<', row).group(1).strip()  # type: ignore[union-attr]
        rows.append({"name": name, **{k: html.unescape(re.sub(r"<[^>]+>", "", v)).strip() for k, v in cells.items()
                                       if k != "name"}})
    return rows


def expired_role_session(server: ServerInfo) -> dict:
    """AssumeRole credentials issued 1,000 s ago for 900 s (server clock and signer moved back together)."""
    iam = server.client("iam")
    _, user = make_user(server, allow("sts:AssumeRole"))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=random_name("old"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    sts = server.client("sts", user)
    server.set_clock_offset(-1000)
    then = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=1000)
    try:
        with mock.patch("botocore.auth.get_current_datetime", return_value=then):
            return sts.assume_role(RoleArn=arn, RoleSessionName="gone-by-now", DurationSeconds=900)["Credentials"]
    finally:
        server.set_clock_offset(0)


def test_sessions_lists_a_new_role_session_and_not_an_expired_one(clock: ServerInfo) -> None:
    server = clock
    old = expired_role_session(server)
    assert old["Expiration"] < datetime.now(timezone.utc)
    role_arn, creds = role_session(server)
    with closing(signed_in_as_root(server)) as client:
        page = client.get("/console/sessions")
        assert page.status_code == 200, page.text
        row = session_row(page, creds["AccessKeyId"])
        assert row is not None, "the new session is not listed"
        assert row["role"] == role_arn and row["name"] == "console-test" and row["ip"] == "127.0.0.1"
        assert row["who"].startswith(f"arn:aws:iam::{server.account_id}:user/") and row["mfa"] == "no"
        assert row["key"] == creds["AccessKeyId"]
        assert session_row(page, old["AccessKeyId"]) is None, "an expired session is listed"
        issued = client.get("/console/audit", params={"attribute": "ResourceName", "value": old["AccessKeyId"]})
        assert [r["name"] for r in event_rows(issued)] == ["AssumeRole"]  # it is in the trail, 1,000 s old
        event_link = re.search(rf'id="session-event-{creds["AccessKeyId"]}"', page.text)
        assert event_link is not None


def test_sessions_show_mfa_and_source_identity(server: ServerInfo) -> None:
    name, user = make_user(server, allow(["sts:AssumeRole", "sts:SetSourceIdentity"]))
    iam = server.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}
    arn = iam.create_role(RoleName=random_name("si"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    creds = server.client("sts", user).assume_role(RoleArn=arn, RoleSessionName="with-source",
                                                   SourceIdentity="alice@example.com")["Credentials"]
    federated = server.client("sts", user).get_session_token()["Credentials"]
    with closing(signed_in_as_root(server)) as client:
        page = client.get("/console/sessions")
        row = session_row(page, creds["AccessKeyId"])
        assert row is not None and row["source-identity"] == "alice@example.com"
        plain = session_row(page, federated["AccessKeyId"])
        assert plain is not None and plain["who"].endswith(f":user/{name}") and plain["role"] == ""


def test_audit_page_filters_pages_and_charts_denials(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("sts:GetCallerIdentity"))
    iam = server.client("iam", creds)
    for _ in range(2):
        with pytest.raises(ClientError):
            iam.list_roles()  # AccessDenied, recorded
    server.client("sts", creds).get_caller_identity()
    with closing(signed_in_as_root(server)) as client:
        def read() -> httpx.Response:
            return client.get("/console/audit", params={"attribute": "Username", "value": name})

        page = poll(read, lambda p: sum(r["name"] == "ListRoles" for r in event_rows(p)) == 2
                    and any(r["name"] == "GetCallerIdentity" for r in event_rows(p)))
        assert page.status_code == 200, page.text
        rows = event_rows(page)
        assert {r["name"] for r in rows} >= {"ListRoles", "GetCallerIdentity"}
        assert all(r["user"] == name for r in rows)
        denied = [r for r in rows if r["name"] == "ListRoles"]
        assert [r["error"] for r in denied] == ["AccessDenied", "AccessDenied"] and denied[0]["ip"] == "127.0.0.1"
        assert 'selected>Username<' in page.text.replace('value="Username" selected', "selected")
        # each event's full record
        record = re.search(r'<pre id="record-[^"]+">(.*?)</pre>', page.text, re.S).group(1)  # type: ignore[union-attr]
        assert json.loads(html.unescape(record))["userIdentity"]["userName"] == name
        # the chart: an SVG with a bucket holding the denials
        assert '<svg id="audit-chart"' in page.text
        buckets = re.findall(r'<g class="bucket[^"]*" id="bucket-\d+" data-start="[^"]+" data-calls="(\d+)" '
                             r'data-errors="(\d+)" data-denials="(\d+)"', page.text)
        assert sum(int(c) for c, _, _ in buckets) == len(rows)
        assert sum(int(d) for _, _, d in buckets) == 2
        assert re.search(r'<rect class="bar denied"', page.text)
        # paging: one event per page, Next follows NextToken
        first = client.get("/console/audit", params={"attribute": "Username", "value": name, "max": "1"})
        assert len(event_rows(first)) == 1
        next_link = re.search(r'href="(/console/audit\?[^"]+)" id="next-page"', first.text)
        assert next_link, "no Next link"
        second = client.get(html.unescape(next_link.group(1)))
        assert second.status_code == 200 and len(event_rows(second)) == 1
        assert re.findall(r'<tr id="(event-[^"]+)"', second.text) != re.findall(r'<tr id="(event-[^"]+)"', first.text)
        assert 'id="first-page"' in second.text
        # a time range after the events: none of them
        later = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        empty = client.get("/console/audit", params={"attribute": "Username", "value": name, "start": later})
        assert empty.status_code == 200 and event_rows(empty) == [] and 'id="no-events"' in empty.text
        assert 'id="chart-empty"' in empty.text
        by_name = client.get("/console/audit", params={"attribute": "EventName", "value": "ListRoles", "max": "50"})
        assert event_rows(by_name) and all(r["name"] == "ListRoles" for r in event_rows(by_name))
        bad = client.get("/console/audit", params={"start": "yesterday"})
        assert bad.status_code == 400 and "is not a time" in bad.text
        assert client.get("/console/audit", params={"max": "51"}).status_code == 400
        backwards = client.get("/console/audit", params={"start": "2024-02-01T00:00", "end": "2024-01-01T00:00"})
        assert backwards.status_code == 400 and "InvalidTimeRange" in backwards.text
        assert 'value="2024-02-01T00:00"' in backwards.text  # the filters are kept
        edited = client.get("/console/audit", params={"attribute": "Username", "value": name, "max": "1",
                                                      "next": "not-a-token"})
        assert edited.status_code == 400 and "InvalidNextToken" in edited.text
        assert client.get("/console/audit", params={"attribute": "Password", "value": "x"}).status_code == 400


def test_the_chart_says_when_it_stopped_early(server: ServerInfo) -> None:
    """More events than the chart reads (10 pages of 50): the page says so."""
    _, creds = make_user(server)
    sts = server.client("sts", creds)
    key = creds.access_key_id
    for _ in range(505):
        sts.get_caller_identity()
    with closing(signed_in_as_root(server)) as client:
        page = poll(lambda: client.get("/console/audit", params={"attribute": "AccessKeyId", "value": key}),
                    lambda p: 'id="chart-partial"' in p.text, timeout=30)
        assert 'id="chart-partial"' in page.text
        assert "Only the newest 500 events are counted" in page.text


def test_a_principal_without_lookup_events_is_refused(server: ServerInfo) -> None:
    client, _ = signed_in(server, allow("iam:ListUsers"))
    with closing(client):
        for path in ("/console/audit", "/console/sessions"):
            page = client.get(path)
            assert page.status_code == 403, path
            assert "AccessDenied" in page.text and "cloudtrail:LookupEvents" in page.text


def test_another_accounts_events_are_never_shown(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("sts:AssumeRole"))
    server.client("sts", creds).get_caller_identity()
    _, session = role_session(server)
    other = new_account(server)
    with closing(browser(server)) as client:
        answer = sign_in(client, kind="root", access_key_id=other.root.access_key_id,
                         secret_access_key=other.root.secret_access_key)
        assert answer.status_code == 303, answer.text
        mine = poll(lambda: client.get("/console/audit"), lambda p: "ConsoleLogin" in p.text or bool(event_rows(p)))
        assert mine.status_code == 200
        assert server.account_id not in mine.text and name not in mine.text
        filtered = client.get("/console/audit", params={"attribute": "Username", "value": name})
        assert filtered.status_code == 200 and event_rows(filtered) == []
        sessions = client.get("/console/sessions")
        assert sessions.status_code == 200
        assert session["AccessKeyId"] not in sessions.text and server.account_id not in sessions.text
    with closing(signed_in_as_root(server)) as own:  # the account's own root sees them
        page = poll(lambda: own.get("/console/audit", params={"attribute": "Username", "value": name}),
                    lambda p: bool(event_rows(p)))
        assert event_rows(page) and other.account_id not in page.text
