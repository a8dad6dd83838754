"""Service last accessed data over HTTP with boto3 and the AWS CLI: the services an entity's
policies allow, with the newest attempt the audit trail recorded for each; action level; groups
and policies with their entities; jobs, paging, errors and authorization."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opensts.iam.common import allowed_namespaces
from tests.conftest import aws_cli, Credentials, random_name, REGION, ServerInfo
from tests.iam.conftest import allow, make_user
from tests.iam.test_users import error_of


def trust_account(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})


def role_session(server: ServerInfo, role_arn: str) -> Credentials:
    _, user = make_user(server, allow("sts:AssumeRole", role_arn))
    deadline = time.monotonic() + 10
    while True:  # a new key is usable at once on this node; retry in case the policy cache lags
        try:
            c = server.client("sts", user).assume_role(RoleArn=role_arn, RoleSessionName="advisor")["Credentials"]
            return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def report(iam, arn: str, granularity: str = "SERVICE_LEVEL") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
    return iam.get_service_last_accessed_details(JobId=job) | {"JobId": job}


def eventually(iam, arn: str, done: Callable[[dict[str, Any]], bool], granularity: str = "SERVICE_LEVEL") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Read-only calls are recorded a few milliseconds after they are answered: poll."""
    deadline = time.monotonic() + 15
    while True:
        got = report(iam, arn, granularity)
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def by_namespace(got: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["ServiceNamespace"]: s for s in got["ServicesLastAccessed"]}


def accessed(*namespaces: str) -> Callable[[dict[str, Any]], bool]:
    return lambda got: all("LastAuthenticated" in by_namespace(got).get(ns, {}) for ns in namespaces)


def test_role_that_called_sts_and_iam(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("advised")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_account(server.account_id))["Role"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListUsers", "iam:GetRole", "sts:GetCallerIdentity", "s3:GetObject"],
         "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"},  # denies list no service
    ]}
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    session = role_session(server, role["Arn"])
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    server.client("iam", session).list_users()
    server.client("sts", session).get_caller_identity()

    got = eventually(iam, role["Arn"], accessed("iam", "sts"))
    assert got["JobStatus"] == "COMPLETED" and got["JobType"] == "SERVICE_LEVEL"
    assert got["JobCreationDate"] <= got["JobCompletionDate"] and got["IsTruncated"] is False
    # The services the role's policies allow, by namespace; each with its newest attempt or none.
    assert [s["ServiceNamespace"] for s in got["ServicesLastAccessed"]] == ["iam", "s3", "sts"]
    services = by_namespace(got)
    for ns, service_name in (("iam", "AWS Identity and Access Management"), ("sts", "AWS Security Token Service")):
        service = services[ns]
        assert service["ServiceName"] == service_name
        assert service["LastAuthenticated"] >= before
        assert service["LastAuthenticatedEntity"] == role["Arn"]
        assert service["LastAuthenticatedRegion"] == REGION
        assert service["TotalAuthenticatedEntities"] == 1
        assert "TrackedActionsLastAccessed" not in service
    assert services["s3"] == {"ServiceName": "Amazon S3", "ServiceNamespace": "s3", "TotalAuthenticatedEntities": 0}

    # Action level: the tracked actions (IAM's here; AWS tracks no STS actions) that were attempted.
    action_level = report(iam, role["Arn"], "ACTION_LEVEL")
    assert action_level["JobType"] == "ACTION_LEVEL"
    tracked = by_namespace(action_level)["iam"]["TrackedActionsLastAccessed"]
    assert [(t["ActionName"], t["LastAccessedEntity"], t["LastAccessedRegion"]) for t in tracked] == [
        ("ListUsers", role["Arn"], REGION)
    ]
    assert "TrackedActionsLastAccessed" not in by_namespace(action_level)["sts"]

    # With entities: the role itself.
    entities = iam.get_service_last_accessed_details_with_entities(JobId=got["JobId"], ServiceNamespace="iam")
    assert [(e["EntityInfo"]["Arn"], e["EntityInfo"]["Type"], e["EntityInfo"]["Id"]) for e in entities["EntityDetailsList"]] == [
        (role["Arn"], "ROLE", role["RoleId"])
    ]
    assert entities["EntityDetailsList"][0]["LastAuthenticated"] == services["iam"]["LastAuthenticated"]


def test_group_and_policy_reports_name_their_entities(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    group = iam.create_group(GroupName=random_name("readers"))["Group"]
    iam.put_group_policy(GroupName=group["GroupName"], PolicyName="p",
                         PolicyDocument=json.dumps(allow(["iam:Get*", "iam:List*"])))
    active, active_creds = make_user(server, name=random_name("a-active"))
    idle, _ = make_user(server, name=random_name("b-idle"))
    for user in (active, idle):
        iam.add_user_to_group(GroupName=group["GroupName"], UserName=user)
    server.client("iam", active_creds).get_user()
    active_arn = f"arn:aws:iam::{server.account_id}:user/{active}"

    got = eventually(iam, group["Arn"], accessed("iam"))
    assert [s["ServiceNamespace"] for s in got["ServicesLastAccessed"]] == ["iam"]
    service = got["ServicesLastAccessed"][0]
    assert service["LastAuthenticatedEntity"] == active_arn and service["TotalAuthenticatedEntities"] == 1
    details = iam.get_service_last_accessed_details_with_entities(JobId=got["JobId"], ServiceNamespace="iam")
    listed = details["EntityDetailsList"]
    # Most recent access first; members that never tried after.
    assert [(e["EntityInfo"]["Name"], e["EntityInfo"]["Type"], "LastAuthenticated" in e) for e in listed] == [
        (active, "USER", True), (idle, "USER", False)
    ]
    page = iam.get_service_last_accessed_details_with_entities(JobId=got["JobId"], ServiceNamespace="iam", MaxItems=1)
    assert page["IsTruncated"] is True and len(page["EntityDetailsList"]) == 1
    rest = iam.get_service_last_accessed_details_with_entities(JobId=got["JobId"], ServiceNamespace="iam",
                                                               Marker=page["Marker"])
    assert [e["EntityInfo"]["Name"] for e in rest["EntityDetailsList"]] == [idle] and rest["IsTruncated"] is False

    # A managed policy: the services it allows, used by the entities it is attached to.
    policy = iam.create_policy(PolicyName=random_name("pol"), PolicyDocument=json.dumps(allow(["iam:GetUser", "ec2:Describe*"])))["Policy"]
    iam.attach_user_policy(UserName=active, PolicyArn=policy["Arn"])
    got = report(iam, policy["Arn"], "ACTION_LEVEL")
    services = by_namespace(got)
    assert list(services) == ["ec2", "iam"]
    assert services["iam"]["LastAuthenticatedEntity"] == active_arn
    assert [t["ActionName"] for t in services["iam"]["TrackedActionsLastAccessed"]] == ["GetUser"]
    assert services["ec2"]["TotalAuthenticatedEntities"] == 0 and "TrackedActionsLastAccessed" not in services["ec2"]

    # An AWS managed policy: the same, for this account's entities it is attached to.
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.attach_user_policy(UserName=active, PolicyArn=read_only)
    got = report(iam, read_only)
    services = by_namespace(got)
    while got.get("IsTruncated"):  # it allows hundreds of services: read every page
        got = iam.get_service_last_accessed_details(JobId=got["JobId"], Marker=got["Marker"]) | {"JobId": got["JobId"]}
        services |= by_namespace(got)
    assert {"iam", "ec2", "s3"} <= set(services)
    assert services["iam"]["LastAuthenticatedEntity"] == active_arn


def test_paging_services(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    user, _ = make_user(server, allow(["sqs:SendMessage", "iam:GetUser", "sns:Publish"]))
    arn = f"arn:aws:iam::{server.account_id}:user/{user}"
    job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
    seen, marker = [], None
    for _ in range(5):
        page = iam.get_service_last_accessed_details(JobId=job, MaxItems=1, **({"Marker": marker} if marker else {}))
        seen += [s["ServiceNamespace"] for s in page["ServicesLastAccessed"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == ["iam", "sns", "sqs"]


def test_errors(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    with pytest.raises(ClientError) as info:
        iam.get_service_last_accessed_details(JobId="00000000-0000-4000-8000-000000000000")
    assert error_of(info)[0::2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as info:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{account}:role/{random_name('missing')}")
    assert error_of(info)[0::2] == ("NoSuchEntity", 404)
    for bad in (f"arn:aws:s3:::{random_name('bucket')}-bucket", f"arn:aws:iam::{account}:mfa/device", "not-an-arn-at-all-really"):
        with pytest.raises(ClientError) as info:
            iam.generate_service_last_accessed_details(Arn=bad)
        assert error_of(info)[0::2] == ("InvalidInput", 400), bad
    user, creds = make_user(server, allow("iam:*"))
    with pytest.raises(ClientError) as info:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{account}:user/{user}", Granularity="DAILY")
    assert error_of(info)[0] == "ValidationError"
    # A job is read by the principal that generated it only.
    job = iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{account}:user/{user}")["JobId"]
    with pytest.raises(ClientError) as info:
        server.client("iam", creds).get_service_last_accessed_details(JobId=job)
    assert error_of(info)[0::2] == ("NoSuchEntity", 404)


def test_access_denied(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    name, creds = make_user(server)
    caller = server.client("iam", creds)
    target = f"arn:aws:iam::{account}:role/{random_name('nope')}"  # missing: permission comes first
    with pytest.raises(ClientError) as info:
        caller.generate_service_last_accessed_details(Arn=target)
    assert error_of(info) == (
        "AccessDenied",
        f"User: arn:aws:iam::{account}:user/{name} is not authorized to perform: "
        f"iam:GenerateServiceLastAccessedDetails on resource: {target}",
        403,
    )
    for call in (lambda: caller.get_service_last_accessed_details(JobId="00000000-0000-4000-8000-000000000000"),
                 lambda: caller.get_service_last_accessed_details_with_entities(
                     JobId="00000000-0000-4000-8000-000000000000", ServiceNamespace="iam")):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info)[0] == "AccessDenied" and "on resource: *" in error_of(info)[1]


def test_aws_cli(server: ServerInfo, tmp_path: Path) -> None:
    name, creds = make_user(server, allow(["iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails",
                                           "iam:GetUser"]))
    def cli(*args: str) -> dict[str, Any]:
        return aws_cli(server, tmp_path, "iam", *args, credentials=creds)

    arn = f"arn:aws:iam::{server.account_id}:user/{name}"
    assert cli("get-user")["User"]["Arn"] == arn
    job = cli("generate-service-last-accessed-details", "--arn", arn)["JobId"]
    got = cli("get-service-last-accessed-details", "--job-id", job)
    assert got["JobStatus"] == "COMPLETED"
    # GetUser was recorded before the job was generated (the CLI takes longer to start than the
    # trail to commit): IAM shows as accessed by the user.
    service = by_namespace(got)["iam"]
    assert service["LastAuthenticatedEntity"] == arn and service["TotalAuthenticatedEntities"] == 1


def test_allowed_namespaces_follow_the_engines_globbing() -> None:
    candidates = {"iam", "s3", "sqs", "sns", "sts", "ec2"}

    def statement(effect: str, key: str, actions: Any) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, key: actions, "Resource": "*"}]})

    assert allowed_namespaces([statement("Allow", "Action", ["IAM:Get*", "s3:PutObject"])], candidates) == {"iam", "s3"}
    assert allowed_namespaces([statement("Allow", "Action", "s?s:*")], candidates) == {"sqs", "sns", "sts"}
    assert allowed_namespaces([statement("Allow", "Action", "*")], candidates) == candidates
    assert allowed_namespaces([statement("Deny", "Action", "*")], candidates) == set()
    # NotAction: every service but those wholly excluded.
    assert allowed_namespaces([statement("Allow", "NotAction", ["iam:*", "s3:Get*"])], candidates) == candidates - {"iam"}
    # A service named only in the policy (not a candidate) is listed too.
    assert allowed_namespaces([statement("Allow", "Action", "myapp:Do")], candidates) == {"myapp"}
