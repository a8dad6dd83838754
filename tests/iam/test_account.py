"""GetAccountSummary and GetAccountAuthorizationDetails over HTTP with boto3."""

from __future__ import annotations

import json

import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.conftest import random_name, start_server, stop_server
from tests.iam.conftest import allow, make_user
from tests.unit.test_saml_metadata import metadata_xml


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def doc(action: str, effect: str = "Allow") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]}


TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, request):  # type: ignore[no-untyped-def]
    """A server of its own, so that counts and listings are exact."""
    from tests.conftest import BACKENDS

    info = start_server(tmp_path_factory.mktemp("account"), BACKENDS[-1])
    yield info
    stop_server(info)


def populate(server):  # type: ignore[no-untyped-def]
    iam = server.client("iam")
    user, _ = make_user(server, doc("s3:*"), name="alice")
    iam.tag_user(UserName=user, Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_user(UserName="bob", Path="/ops/")
    iam.create_group(GroupName="admins")
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    iam.put_group_policy(GroupName="admins", PolicyName="gp", PolicyDocument=json.dumps(doc("iam:*")))
    managed = iam.create_policy(PolicyName="ReadOnly", PolicyDocument=json.dumps(doc("s3:Get*")), Description="ro")["Policy"]
    iam.create_policy_version(PolicyArn=managed["Arn"], PolicyDocument=json.dumps(doc("s3:List*")), SetAsDefault=True)
    iam.attach_user_policy(UserName="alice", PolicyArn=managed["Arn"])
    iam.attach_group_policy(GroupName="admins", PolicyArn=managed["Arn"])
    iam.put_user_permissions_boundary(UserName="bob", PermissionsBoundary=managed["Arn"])
    iam.create_role(RoleName="app", Path="/svc/", AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "k", "Value": "v"}])
    iam.put_role_policy(RoleName="app", PolicyName="rp", PolicyDocument=json.dumps(doc("sqs:*")))
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice-phone")["VirtualMFADevice"]
    iam.create_virtual_mfa_device(VirtualMFADeviceName="spare")
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    import time

    now = time.time()
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=device["SerialNumber"], AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now)
    )
    iam.create_open_id_connect_provider(Url="https://issuer.example.test", ClientIDList=["a"])
    iam.create_saml_provider(Name="corp", SAMLMetadataDocument=metadata_xml())
    return managed


def test_summary_and_details(fresh) -> None:  # type: ignore[no-untyped-def]
    managed = populate(fresh)
    iam = fresh.client("iam")
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == 2 and summary["Groups"] == 1 and summary["Roles"] == 1 and summary["Policies"] == 1
    assert summary["MFADevices"] == 2 and summary["MFADevicesInUse"] == 1
    assert summary["Providers"] == 2
    assert summary["AccessKeysPerUserQuota"] == 2 and summary["UsersQuota"] == 5000
    assert summary["PolicyVersionsInUse"] == 3  # two attachments and one boundary
    assert summary["AccountAccessKeysPresent"] == 1

    details = iam.get_account_authorization_details()
    assert details["IsTruncated"] is False
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    alice, bob = users["alice"], users["bob"]
    assert alice["UserPolicyList"] == [{"PolicyName": "p", "PolicyDocument": doc("s3:*")}]  # URL-decoded by boto3
    assert alice["GroupList"] == ["admins"]
    assert alice["AttachedManagedPolicies"] == [{"PolicyName": "ReadOnly", "PolicyArn": managed["Arn"]}]
    assert alice["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert bob["Path"] == "/ops/" and bob["Arn"].endswith(":user/ops/bob")
    assert bob["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": managed["Arn"]}
    (group,) = details["GroupDetailList"]
    assert group["GroupName"] == "admins" and group["GroupPolicyList"][0]["PolicyDocument"] == doc("iam:*")
    (role,) = details["RoleDetailList"]
    assert role["RoleName"] == "app" and role["Path"] == "/svc/"
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert role["RolePolicyList"] == [{"PolicyName": "rp", "PolicyDocument": doc("sqs:*")}]
    assert role["Tags"] == [{"Key": "k", "Value": "v"}] and role["InstanceProfileList"] == []
    (policy,) = details["Policies"]
    assert policy["PolicyName"] == "ReadOnly" and policy["DefaultVersionId"] == "v2"
    assert policy["AttachmentCount"] == 2 and policy["PermissionsBoundaryUsageCount"] == 1
    assert policy["Description"] == "ro" and policy["IsAttachable"] is True
    versions = {v["VersionId"]: v for v in policy["PolicyVersionList"]}
    assert versions["v2"]["IsDefaultVersion"] is True and versions["v2"]["Document"] == doc("s3:List*")
    assert versions["v1"]["IsDefaultVersion"] is False and versions["v1"]["Document"] == doc("s3:Get*")


def test_filter_and_pagination(fresh) -> None:  # type: ignore[no-untyped-def]
    iam = fresh.client("iam")
    for i in range(3):
        iam.create_user(UserName=f"page-{i}")
    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["Policies"] == [] and len(only_roles["RoleDetailList"]) >= 1
    assert iam.get_account_authorization_details(Filter=["AWSManagedPolicy"])["Policies"] == []
    pages = list(iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) >= 3
    names = [u["UserName"] for p in pages for u in p["UserDetailList"]]
    assert len(names) == len(set(names)) and {"page-0", "page-1", "page-2"} <= set(names)
    all_at_once = iam.get_account_authorization_details()
    total = sum(len(all_at_once[k]) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
    assert sum(len(p[k]) for p in pages for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")) == total
    with pytest.raises(ClientError) as exc:
        fresh.client("iam", parameter_validation=False).get_account_authorization_details(Filter=["Nope"])
    assert error_code(exc) == "ValidationError"


def test_authorization(server) -> None:  # type: ignore[no-untyped-def]
    _, creds = make_user(server, allow("iam:GetAccountSummary"))
    client = server.client("iam", creds)
    assert client.get_account_summary()["SummaryMap"]["Users"] >= 1
    with pytest.raises(ClientError) as exc:
        client.get_account_authorization_details()
    assert error_code(exc) == "AccessDenied"
    assert "iam:GetAccountAuthorizationDetails on resource: *" in exc.value.response["Error"]["Message"]
    _, none = make_user(server)
    with pytest.raises(ClientError) as exc:
        server.client("iam", none).get_account_summary()
    assert error_code(exc) == "AccessDenied"


def test_counts_follow_writes(server, iam) -> None:  # type: ignore[no-untyped-def]
    before = iam.get_account_summary()["SummaryMap"]
    name = random_name("u")
    iam.create_user(UserName=name)
    assert iam.get_account_summary()["SummaryMap"]["Users"] == before["Users"] + 1
    iam.delete_user(UserName=name)
    assert iam.get_account_summary()["SummaryMap"]["Users"] == before["Users"]
