"""IAM roles over HTTP with boto3: happy paths, AWS's errors and limits."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerInfo, random_name
from tests.iam.conftest import make_user


def trust(account: str, principal: str | None = None) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal or f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def identity(action: str = "s3:GetObject") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_create_get_role(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    document = trust(server.account_id)
    created = iam.create_role(
        RoleName=name, Path="/app/", AssumeRolePolicyDocument=document, Description="for tests",
        MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "blue"}],
    )["Role"]
    assert created["RoleName"] == name
    assert created["Path"] == "/app/"
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:role/app/{name}"
    assert created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == json.loads(document)  # URL-encoded on the wire, decoded by botocore
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert created["MaxSessionDuration"] == 7200
    role = iam.get_role(RoleName=name)["Role"]
    assert role["RoleId"] == created["RoleId"]
    assert role["Description"] == "for tests"
    assert role["MaxSessionDuration"] == 7200
    assert role["RoleLastUsed"] == {}
    assert role["CreateDate"] == created["CreateDate"]
    assert role["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert "PermissionsBoundary" not in role
    # Names are unique case-insensitively.
    assert iam.get_role(RoleName=name.upper())["Role"]["RoleName"] == name


def test_create_role_defaults(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))["Role"]
    assert role["Path"] == "/"
    assert role["MaxSessionDuration"] == 3600
    assert "Tags" not in role and "Description" not in role


def test_create_role_errors(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=trust(server.account_id))
    assert error(exc) == ("EntityAlreadyExists", 409, f"Role with name {name.upper()} already exists.")

    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=trust(server.account_id))
    code, status, message = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert "roleName" in message and "regular expression pattern" in message

    raw = server.client("iam", parameter_validation=False)  # botocore itself checks minimums
    with pytest.raises(ClientError) as exc:
        raw.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=trust(server.account_id), MaxSessionDuration=1800)
    assert "Member must have value greater than or equal to 3600" in error(exc)[2]
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=trust(server.account_id), MaxSessionDuration=43201)
    assert "Member must have value less than or equal to 43200" in error(exc)[2]

    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="x" * 65, AssumeRolePolicyDocument=trust(server.account_id))
    assert "Member must have length less than or equal to 64" in error(exc)[2]

    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=random_name("r"), Path="nopath", AssumeRolePolicyDocument=trust(server.account_id))
    assert error(exc)[0] == "ValidationError"


def test_trust_policy_is_validated(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    # An identity policy (Resource, no Principal) is not a trust policy.
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=identity())
    assert error(exc)[:2] == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{not json")
    assert error(exc)[:2] == ("MalformedPolicyDocument", 400)
    # Principals: another role, an unknown foreign account.
    other = random_name("role")
    other_arn = iam.create_role(RoleName=other, AssumeRolePolicyDocument=trust(server.account_id))["Role"]["Arn"]
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id, other_arn))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust(server.account_id, "arn:aws:iam::999999999999:root"))
    # NotPrincipal is not allowed in trust policies.
    not_principal = json.loads(trust(server.account_id))
    statement = not_principal["Statement"][0]
    statement["NotPrincipal"] = statement.pop("Principal")
    with pytest.raises(ClientError) as exc:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(not_principal))
    assert error(exc)[0] == "MalformedPolicyDocument"
    # Over 2,048 characters (whitespace not counted).
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole",
             "Condition": {"StringEquals": {"sts:ExternalId": ["x" * 100 for _ in range(25)]}}}
        ],
    }
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=json.dumps(big))
    assert error(exc) == ("LimitExceeded", 409, "Cannot exceed quota for ACLSizePerRole: 2048")


def test_missing_role(iam) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: iam.get_role(RoleName="nobody-here"),
        lambda: iam.delete_role(RoleName="nobody-here"),
        lambda: iam.update_role(RoleName="nobody-here", Description="x"),
        lambda: iam.list_role_tags(RoleName="nobody-here"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc) == ("NoSuchEntity", 404, "The role with name nobody-here cannot be found.")


def test_list_roles_paginates_and_filters(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    prefix = f"/{random_name('p')}/"
    names = sorted(random_name("lr") for _ in range(5))
    for n in names:
        iam.create_role(RoleName=n, Path=prefix, AssumeRolePolicyDocument=trust(server.account_id),
                        Tags=[{"Key": "k", "Value": "v"}])
    page = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert page["IsTruncated"] is True and len(page["Roles"]) == 2
    listed = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2}) for r in p["Roles"]]
    assert listed == names
    role = iam.list_roles(PathPrefix=prefix)["Roles"][0]
    # ListRoles leaves out tags, boundary and last use, as AWS does.
    assert "Tags" not in role and "RoleLastUsed" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    assert any(r["RoleName"] == names[0] for p in iam.get_paginator("list_roles").paginate() for r in p["Roles"])


def test_update_role_and_description(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))
    iam.update_role(RoleName=name, Description="new", MaxSessionDuration=43200)
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Description"] == "new" and role["MaxSessionDuration"] == 43200
    with pytest.raises(ClientError) as exc:
        server.client("iam", parameter_validation=False).update_role(RoleName=name, MaxSessionDuration=100)
    assert error(exc)[0] == "ValidationError"
    described = iam.update_role_description(RoleName=name, Description="newer")["Role"]
    assert described["Description"] == "newer" and described["RoleName"] == name


def test_update_assume_role_policy(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))
    new = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == new
    with pytest.raises(ClientError) as exc:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=identity())
    assert error(exc)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:
        iam.update_assume_role_policy(RoleName="nobody-here", PolicyDocument=json.dumps(new))
    assert error(exc)[0] == "NoSuchEntity"


def test_delete_role_conflicts(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=identity())
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert error(exc) == ("DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    arn = iam.create_policy(PolicyName=random_name("pol"), PolicyDocument=identity())["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert error(exc) == ("DeleteConflict", 409, "Cannot delete entity, must detach all policies first.")
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert error(exc)[0] == "NoSuchEntity"
    # The name is free again, and the new role starts without the old one's tags.
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id))["Role"]
    assert iam.list_role_tags(RoleName=name)["Tags"] == []
    assert role["RoleName"] == name


def test_role_tags(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id), Tags=[{"Key": "a", "Value": "1"}])
    iam.tag_role(RoleName=name, Tags=[{"Key": "A", "Value": "2"}, {"Key": "b", "Value": ""}])
    # Keys compare case-insensitively: "A" replaced "a".
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "A", "Value": "2"}, {"Key": "b", "Value": ""}]
    page = iam.list_role_tags(RoleName=name, MaxItems=1)
    assert page["IsTruncated"] is True and page["Tags"] == [{"Key": "A", "Value": "2"}]
    assert iam.list_role_tags(RoleName=name, Marker=page["Marker"])["Tags"] == [{"Key": "b", "Value": ""}]
    iam.untag_role(RoleName=name, TagKeys=["a", "missing"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "b", "Value": ""}]
    with pytest.raises(ClientError) as exc:
        iam.tag_role(RoleName=name, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    assert error(exc)[0] == "InvalidInput"
    iam.tag_role(RoleName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    with pytest.raises(ClientError) as exc:
        iam.tag_role(RoleName=name, Tags=[{"Key": "one-more", "Value": "v"}])
    assert error(exc) == ("LimitExceeded", 409, "Cannot exceed quota for TagsPerRole: 50")
    with pytest.raises(ClientError) as exc:
        iam.tag_role(RoleName=name, Tags=[{"Key": "bad key!", "Value": "v"}])
    assert error(exc)[0] == "ValidationError"


def test_role_permissions_boundary(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    boundary = iam.create_policy(PolicyName=random_name("boundary"), PolicyDocument=identity("s3:*"))["Policy"]["Arn"]
    name = random_name("role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id), PermissionsBoundary=boundary)["Role"]
    assert role["PermissionsBoundary"] == {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    missing = f"arn:aws:iam::{server.account_id}:policy/no-such-policy"
    with pytest.raises(ClientError) as exc:
        iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=missing)
    assert error(exc) == ("NoSuchEntity", 404, f"Scope ARN: {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=trust(server.account_id),
                        PermissionsBoundary="arn:aws:s3:::not-a-policy-at-all")
    assert error(exc) == ("InvalidInput", 400, "ARN arn:aws:s3:::not-a-policy-at-all is not valid.")
    # A policy in use as a boundary cannot be deleted.
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=boundary)
    assert error(exc)[:2] == ("DeleteConflict", 409)


def test_create_role_validation_errors_in_aws_order(server: ServerInfo) -> None:
    raw = server.client("iam", parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        raw.create_role(RoleName="bad name", Path="nopath", MaxSessionDuration=100)
    code, status, message = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("4 validation errors detected: ")
    members = re.findall(r" at '([^']+)' failed to satisfy constraint", message)
    assert members == ["roleName", "path", "assumeRolePolicyDocument", "maxSessionDuration"]


def test_role_condition_keys(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    """aws:TagKeys on UntagRole; iam:PermissionsBoundary on Put/DeleteRolePermissionsBoundary (the
    boundary being set, and the role's current one)."""
    boundary = iam.create_policy(PolicyName=random_name("boundary"), PolicyDocument=identity("s3:*"))["Policy"]["Arn"]
    other = iam.create_policy(PolicyName=random_name("other"), PolicyDocument=identity("s3:*"))["Policy"]["Arn"]
    name = random_name("role")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(server.account_id),
                    Tags=[{"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "1"}])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:UntagRole", "iam:PutRolePermissionsBoundary",
                                          "iam:DeleteRolePermissionsBoundary"], "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:UntagRole", "Resource": "*",
             "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}},
            {"Effect": "Deny", "Action": "iam:PutRolePermissionsBoundary", "Resource": "*",
             "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary}}},
            {"Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*",
             "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary}}},
        ],
    }
    _, creds = make_user(server, policy)
    client = server.client("iam", creds)

    def denied(call) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("AccessDenied", 403)

    denied(lambda: client.untag_role(RoleName=name, TagKeys=["cost", "team"]))
    client.untag_role(RoleName=name, TagKeys=["cost"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "team", "Value": "a"}]
    denied(lambda: client.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=other))
    client.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
    denied(lambda: client.delete_role_permissions_boundary(RoleName=name))
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=other)
    client.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]
