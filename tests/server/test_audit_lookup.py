"""CloudTrail's LookupEvents over HTTP, with boto3 (client and paginator) and the AWS CLI.

Each test works in accounts of its own (``opensts account create`` on the running server's
store), so the events it sees are only its own. IAM writes are recorded before their answer;
read-only calls (LookupEvents itself, GetUser) asynchronously: tests poll for those, with a
deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from tests.conftest import REGION, Credentials, ServerInfo

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


def new_account(server: ServerInfo) -> Credentials:
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    return Credentials(created["AccessKeyId"], created["SecretAccessKey"])


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: Any = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def eventually(fetch: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 15.0) -> Any:
    """Poll ``fetch`` until ``done`` holds (read-only calls are recorded asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def by_name(name: str) -> list[dict[str, str]]:
    return [{"AttributeKey": "EventName", "AttributeValue": name}]


@pytest.fixture
def account(server: ServerInfo) -> Credentials:
    return new_account(server)


def users(server: ServerInfo, creds: Credentials, count: int) -> list[str]:
    iam = server.client("iam", creds)
    names = [f"lookup-{i}" for i in range(count)]
    for name in names:
        iam.create_user(UserName=name)
    return names


def test_paginator_pages_of_max_results_newest_first(server: ServerInfo, account: Credentials) -> None:
    names = users(server, account, 7)
    paginator = server.client("cloudtrail", account).get_paginator("lookup_events")
    pages = list(paginator.paginate(LookupAttributes=by_name("CreateUser"), PaginationConfig={"PageSize": 3}))
    assert [len(p["Events"]) for p in pages] == [3, 3, 1]
    events = [e for p in pages for e in p["Events"]]
    assert len({e["EventId"] for e in events}) == 7
    # Newest first: the users in reverse order of creation.
    assert [e["Resources"][0]["ResourceName"] for e in events] == names[::-1]
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    first = events[0]
    assert first["EventName"] == "CreateUser" and first["EventSource"] == "iam.amazonaws.com"
    assert first["ReadOnly"] == "false" and first["Username"] == "root"
    assert first["AccessKeyId"] == account.access_key_id
    assert first["Resources"] == [{"ResourceType": "AWS::IAM::User", "ResourceName": names[-1]}]
    record = json.loads(first["CloudTrailEvent"])
    assert record["eventID"] == first["EventId"] and record["eventName"] == "CreateUser"
    assert record["requestParameters"]["userName"] == names[-1]
    # build_full_result: every event once, across pages.
    full = paginator.paginate(LookupAttributes=by_name("CreateUser"), PaginationConfig={"PageSize": 2}).build_full_result()
    assert [e["EventId"] for e in full["Events"]] == [e["EventId"] for e in events]
    # The default page is 50, and no NextToken when nothing more follows.
    whole = server.client("cloudtrail", account).lookup_events(LookupAttributes=by_name("CreateUser"))
    assert len(whole["Events"]) == 7 and "NextToken" not in whole


def test_each_lookup_attribute(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    iam.create_user(UserName="alice")
    iam.put_user_policy(UserName="alice", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    server.client("iam", alice).get_user(UserName="alice")  # read-only: recorded asynchronously
    ct = server.client("cloudtrail", account)

    def lookup(key_: str, value: str) -> list[dict[str, Any]]:
        return ct.lookup_events(LookupAttributes=[{"AttributeKey": key_, "AttributeValue": value}])["Events"]

    get_user = eventually(lambda: lookup("EventName", "GetUser"), lambda events: len(events) == 1)
    assert [e["Username"] for e in get_user] == ["alice"]
    created = lookup("EventName", "CreateUser")
    assert len(created) == 1
    assert [e["EventId"] for e in lookup("EventId", created[0]["EventId"])] == [created[0]["EventId"]]
    assert {e["EventName"] for e in lookup("Username", "alice")} == {"GetUser"}
    assert [e["EventName"] for e in lookup("AccessKeyId", alice.access_key_id)] == ["GetUser"]
    writes = lookup("ReadOnly", "false")
    assert {e["EventName"] for e in writes} == {"CreateUser", "PutUserPolicy", "CreateAccessKey"}
    assert all(e["ReadOnly"] == "false" for e in writes)
    reads = lookup("ReadOnly", "true")
    assert "GetUser" in {e["EventName"] for e in reads} and all(e["ReadOnly"] == "true" for e in reads)
    assert {e["EventName"] for e in lookup("ResourceName", "alice")} >= {"CreateUser", "PutUserPolicy", "GetUser"}
    assert {e["EventName"] for e in lookup("ResourceType", "AWS::IAM::User")} >= {"CreateUser", "GetUser"}
    assert {e["EventSource"] for e in lookup("EventSource", "iam.amazonaws.com")} == {"iam.amazonaws.com"}
    assert lookup("EventName", "NoSuchEvent") == []


def test_lookup_events_calls_are_recorded(server: ServerInfo, account: Credentials) -> None:
    ct = server.client("cloudtrail", account)
    ct.lookup_events(LookupAttributes=by_name("CreateUser"), MaxResults=5)
    events = eventually(
        lambda: ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventSource",
                                                    "AttributeValue": "cloudtrail.amazonaws.com"}])["Events"],
        lambda found: len(found) >= 1,
    )
    oldest = events[-1]
    assert oldest["EventName"] == "LookupEvents" and oldest["ReadOnly"] == "true"
    record = json.loads(oldest["CloudTrailEvent"])
    assert record["eventSource"] == "cloudtrail.amazonaws.com" and record["readOnly"] is True
    assert record["requestParameters"] == {
        "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "CreateUser"}], "maxResults": 5}
    assert record["responseElements"] is None


def test_time_range(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    iam.create_user(UserName="early")
    ct = server.client("cloudtrail", account)
    early = ct.lookup_events(LookupAttributes=by_name("CreateUser"))["Events"][0]["EventTime"]
    # EventTime is whole seconds: wait for the next second on the (shared) clock before the next call.
    eventually(lambda: datetime.now(timezone.utc).replace(microsecond=0), lambda now: now > early, seconds=5)
    iam.create_user(UserName="late")
    events = ct.lookup_events(LookupAttributes=by_name("CreateUser"))["Events"]
    late = events[0]["EventTime"]
    assert late > early

    def names(**kwargs: Any) -> list[str]:
        found = ct.lookup_events(LookupAttributes=by_name("CreateUser"), **kwargs)["Events"]
        return [e["Resources"][0]["ResourceName"] for e in found]

    assert names(EndTime=early) == ["early"]
    assert names(StartTime=late) == ["late"]
    assert names(StartTime=early, EndTime=late) == ["late", "early"]
    assert names(StartTime=early, EndTime=early) == ["early"]
    assert names(StartTime=late + timedelta(days=1)) == []
    with pytest.raises(ClientError) as exc:
        ct.lookup_events(StartTime=late, EndTime=early)
    assert error(exc) == ("InvalidTimeRangeException", 400)


def test_an_account_sees_only_its_own_events(server: ServerInfo) -> None:
    first, second = new_account(server), new_account(server)
    users(server, first, 3)
    users(server, second, 1)
    ct_first, ct_second = server.client("cloudtrail", first), server.client("cloudtrail", second)
    mine = ct_first.lookup_events(LookupAttributes=by_name("CreateUser"), MaxResults=2)
    theirs = ct_second.lookup_events(LookupAttributes=by_name("CreateUser"))["Events"]
    assert len(theirs) == 1 and theirs[0]["AccessKeyId"] == second.access_key_id
    assert all(e["AccessKeyId"] == first.access_key_id for e in mine["Events"])
    # Another account's event id finds nothing.
    other_id = mine["Events"][0]["EventId"]
    assert ct_second.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": other_id}])["Events"] == []
    # Nor does its access key id, or the default account's root.
    assert ct_second.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": first.access_key_id}])["Events"] == []
    # A NextToken works only for the account and the query it was issued for.
    token = mine["NextToken"]
    with pytest.raises(ClientError) as exc:
        ct_second.lookup_events(LookupAttributes=by_name("CreateUser"), NextToken=token)
    assert error(exc) == ("InvalidNextTokenException", 400)
    with pytest.raises(ClientError) as exc:
        ct_first.lookup_events(LookupAttributes=by_name("DeleteUser"), NextToken=token)
    assert error(exc) == ("InvalidNextTokenException", 400)
    rest = ct_first.lookup_events(LookupAttributes=by_name("CreateUser"), NextToken=token)
    assert len(rest["Events"]) == 1 and "NextToken" not in rest
    for forged in (token[:-2], token + "AA", "x" * 600, "not a token", token.swapcase()):
        with pytest.raises(ClientError) as exc:
            ct_first.lookup_events(LookupAttributes=by_name("CreateUser"), NextToken=forged)
        assert error(exc) == ("InvalidNextTokenException", 400)


def test_lookup_events_needs_cloudtrail_lookup_events(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    iam.create_user(UserName="auditor")
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    auditor = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    ct = server.client("cloudtrail", auditor)
    with pytest.raises(ClientError) as exc:
        ct.lookup_events()
    assert error(exc) == ("AccessDeniedException", 400)
    assert "is not authorized to perform: cloudtrail:LookupEvents" in exc.value.response["Error"]["Message"]
    iam.put_user_policy(UserName="auditor", PolicyName="audit", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]}))
    found = eventually(lambda: ct.lookup_events(LookupAttributes=by_name("LookupEvents"))["Events"],
                       lambda events: any(json.loads(e["CloudTrailEvent"]).get("errorCode") for e in events))
    denied = [json.loads(e["CloudTrailEvent"]) for e in found if e["Username"] == "auditor"]
    assert denied and denied[-1]["errorCode"] == "AccessDeniedException"


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"LookupAttributes": by_name("CreateUser") * 2}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "UserName", "AttributeValue": "x"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "x" * 2001}]}, "InvalidLookupAttributesException"),
    ({"MaxResults": 0}, "InvalidMaxResultsException"),
    ({"MaxResults": 51}, "InvalidMaxResultsException"),
    ({"EventCategory": "data"}, "InvalidEventCategoryException"),
    ({"NextToken": "garbage"}, "InvalidNextTokenException"),
])
def test_invalid_requests(server: ServerInfo, account: Credentials, kwargs: dict[str, Any], code: str) -> None:
    ct = server.client("cloudtrail", account, parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        ct.lookup_events(**kwargs)
    assert error(exc) == (code, 400)


def test_insight_category_finds_nothing(server: ServerInfo, account: Credentials) -> None:
    users(server, account, 1)
    assert server.client("cloudtrail", account).lookup_events(EventCategory="insight")["Events"] == []


def signed(server: ServerInfo, creds: Credentials, body: bytes, *, target: str = TARGET,
           service: str = "cloudtrail") -> httpx.Response:
    request = AWSRequest(method="POST", url=f"{server.url}/", data=body, headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(BotoCredentials(creds.access_key_id, creds.secret_access_key), service, REGION).add_auth(request)
    return httpx.post(f"{server.url}/", content=body, headers=dict(request.headers.items()), timeout=10)


def test_protocol_errors_are_json(server: ServerInfo, account: Credentials) -> None:
    cases = [
        (signed(server, account, b"{not json"), 400, "SerializationException"),
        (signed(server, account, b"[]"), 400, "SerializationException"),
        (signed(server, account, b'{"MaxResults": "ten"}'), 400, "SerializationException"),
        (signed(server, account, b'{"StartTime": "yesterday"}'), 400, "SerializationException"),
        (signed(server, account, b'{"StartTime": 1e300}'), 400, "InvalidTimeRangeException"),
        (signed(server, account, b"[" * 100_000), 400, "SerializationException"),
        (signed(server, account, b"\xff\xfe"), 400, "SerializationException"),
        (signed(server, account, b"{}", target=TARGET.replace("LookupEvents", "DescribeTrails")), 400,
         "UnknownOperationException"),
        (signed(server, account, b"{}", target="DynamoDB_20120810.GetItem"), 400, "UnknownOperationException"),
        (signed(server, account, b"{}", service="sts"), 400, "InvalidSignatureException"),
        (signed(server, Credentials(account.access_key_id, "x" * 40), b"{}"), 400, "InvalidSignatureException"),
        (signed(server, Credentials("AKIAIOSFODNN7EXAMPLE", "x" * 40), b"{}"), 400, "UnrecognizedClientException"),
        (httpx.post(f"{server.url}/", content=b"{}", headers={"X-Amz-Target": TARGET}), 403,
         "MissingAuthenticationTokenException"),
    ]
    for response, status, code in cases:
        assert response.headers["content-type"] == "application/x-amz-json-1.1"
        assert (response.status_code, response.json()["__type"]) == (status, code), response.text
        assert response.json()["message"]
    ok = signed(server, account, b"")  # an empty body is an empty request
    assert ok.status_code == 200 and isinstance(ok.json()["Events"], list)


def test_unknown_cloudtrail_operation_with_boto3(server: ServerInfo, account: Credentials) -> None:
    with pytest.raises(ClientError) as exc:
        server.client("cloudtrail", account).describe_trails()
    assert error(exc) == ("UnknownOperationException", 400)


def test_aws_cli_lookup_events(server: ServerInfo, account: Credentials, tmp_path: Path) -> None:
    names = users(server, account, 3)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)

    def cli(*args: str) -> dict[str, Any]:
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "cloudtrail", "lookup-events", "--endpoint-url", server.url,
             "--output", "json", *args],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    found = cli("--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateUser")
    assert [e["Resources"][0]["ResourceName"] for e in found["Events"]] == names[::-1]
    # The CLI pages by itself: pages of one, every event once.
    paged = cli("--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateUser", "--page-size", "1")
    assert [e["EventId"] for e in paged["Events"]] == [e["EventId"] for e in found["Events"]]
    first = cli("--lookup-attributes", "AttributeKey=ResourceName,AttributeValue=" + names[0],
                "--start-time", "2000-01-01T00:00:00Z")
    assert [e["EventName"] for e in first["Events"]] == ["CreateUser"]
