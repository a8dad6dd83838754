"""Customer managed policies, versions, attachments and tags over HTTP with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerInfo, random_name
from tests.iam.conftest import make_user
from tests.iam.test_inline_policies import doc, make_owner
from tests.iam.test_roles import error


def create(iam, name: str | None = None, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    kwargs.setdefault("PolicyDocument", json.dumps(doc()))
    return iam.create_policy(PolicyName=name or random_name("pol"), **kwargs)["Policy"]


def test_create_get_policy(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    name = random_name("pol")
    policy = create(iam, name, Path="/team/", Description="read things", Tags=[{"Key": "env", "Value": "test"}])
    assert policy["Arn"] == f"arn:aws:iam::{server.account_id}:policy/team/{name}"
    assert policy["PolicyId"].startswith("ANPA")
    assert policy["DefaultVersionId"] == "v1"
    assert policy["AttachmentCount"] == 0 and policy["PermissionsBoundaryUsageCount"] == 0
    assert policy["IsAttachable"] is True
    got = iam.get_policy(PolicyArn=policy["Arn"])["Policy"]
    assert got["Description"] == "read things" and got["Tags"] == [{"Key": "env", "Value": "test"}]
    assert got["CreateDate"] == policy["CreateDate"] and got["Path"] == "/team/"
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"] == doc() and version["IsDefaultVersion"] is True

    with pytest.raises(ClientError) as exc:
        create(iam, name.upper())
    assert error(exc) == (
        "EntityAlreadyExists", 409, f"A policy called {name.upper()} already exists. Duplicate names are not allowed."
    )


def test_create_policy_errors(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    old = {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    with pytest.raises(ClientError) as exc:
        create(iam, PolicyDocument=json.dumps(old))
    assert error(exc)[:2] == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as exc:
        create(iam, PolicyDocument=json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    assert error(exc)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:
        create(iam, PolicyDocument=json.dumps(doc(pad=6200)))
    assert error(exc) == ("LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144")
    # Whitespace does not count against the 6,144 characters.
    create(iam, PolicyDocument=json.dumps(doc(pad=6000), indent=8))
    with pytest.raises(ClientError) as exc:
        create(iam, Path="/no trailing")
    assert error(exc)[0] == "ValidationError"


def test_missing_and_invalid_arns(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    missing = f"arn:aws:iam::{server.account_id}:policy/none-such"
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=missing)
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {missing} was not found.")
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn="not-an-arn-but-long-enough")
    assert error(exc) == ("InvalidInput", 400, "ARN not-an-arn-but-long-enough is not valid.")
    # An AWS managed policy that does not exist (tests/iam/test_aws_managed_policies.py: those that do).
    aws_managed = "arn:aws:iam::aws:policy/NoSuchAwsPolicy"
    role = make_owner(iam, server, "role")
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=role, PolicyArn=aws_managed)
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {aws_managed} does not exist or is not attachable.")


def test_list_policies(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    path = f"/{random_name('lp')}/"
    names = sorted(random_name("lp") for _ in range(4))
    arns = [create(iam, n, Path=path, Description="d", Tags=[{"Key": "k", "Value": "v"}])["Arn"] for n in names]
    listed = iam.list_policies(Scope="Local", PathPrefix=path)["Policies"]
    assert [p["PolicyName"] for p in listed] == names
    # ListPolicies leaves out Description and Tags, as AWS does.
    assert "Tags" not in listed[0] and "Description" not in listed[0]
    assert [p["PolicyName"] for p in iam.list_policies(Scope="All", PathPrefix=path)["Policies"]] == names
    assert iam.list_policies(Scope="AWS", PathPrefix=path)["Policies"] == []
    paged = [
        p["PolicyName"]
        for page in iam.get_paginator("list_policies").paginate(PathPrefix=path, PaginationConfig={"PageSize": 3})
        for p in page["Policies"]
    ]
    assert paged == names
    role = make_owner(iam, server, "role")
    iam.attach_role_policy(RoleName=role, PolicyArn=arns[1])
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=arns[2])
    attached = iam.list_policies(PathPrefix=path, OnlyAttached=True)["Policies"]
    assert [p["PolicyName"] for p in attached] == [names[1], names[2]]
    only_perm = iam.list_policies(PathPrefix=path, OnlyAttached=True, PolicyUsageFilter="PermissionsPolicy")["Policies"]
    assert [p["PolicyName"] for p in only_perm] == [names[1]]
    only_boundary = iam.list_policies(PathPrefix=path, OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary")
    assert [p["PolicyName"] for p in only_boundary["Policies"]] == [names[2]]
    assert attached[0]["AttachmentCount"] == 1


def test_versions(iam) -> None:  # type: ignore[no-untyped-def]
    arn = create(iam)["Arn"]
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:PutObject")))["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is False and "Document" not in v2
    v3 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:ListBucket")), SetAsDefault=True)
    assert v3["PolicyVersion"]["IsDefaultVersion"] is True
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [("v3", True), ("v2", False), ("v1", False)]
    assert all("Document" not in v for v in versions)
    paged = [
        v["VersionId"]
        for page in iam.get_paginator("list_policy_versions").paginate(PolicyArn=arn, PaginationConfig={"PageSize": 2})
        for v in page["Versions"]
    ]
    assert paged == ["v3", "v2", "v1"]
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"] == doc("s3:PutObject")

    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:A")))
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:B")))
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:C")))
    code, status, message = error(exc)
    assert (code, status) == ("LimitExceeded", 409) and message.startswith("A managed policy can have up to 5 versions.")

    with pytest.raises(ClientError) as exc:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(exc) == ("DeleteConflict", 409, "Cannot delete the default version of a policy.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(exc)[:2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v9")
    assert error(exc)[:2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=arn, VersionId="version1")
    assert error(exc)[0] == "ValidationError"
    # Version ids are never reused.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc()))["PolicyVersion"]["VersionId"] == "v6"
    with pytest.raises(ClientError) as exc:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps({"Version": "2008-10-17", "Statement": []}))
    assert error(exc)[0] == "MalformedPolicyDocument"


def test_delete_policy(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    policy = create(iam)
    arn = policy["Arn"]
    role = make_owner(iam, server, "role")
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc("s3:X")))
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    code, _, message = error(exc)
    assert code == "DeleteConflict" and message.startswith("This policy has more than one version.")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v2")
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc)[0] == "NoSuchEntity"
    # The name can be used again.
    assert create(iam, policy["PolicyName"])["Arn"] == arn


@pytest.mark.parametrize("kind", ["user", "role", "group"])
def test_attach_detach_list(iam, server: ServerInfo, kind: str) -> None:  # type: ignore[no-untyped-def]
    owner = make_owner(iam, server, kind)
    label = kind.capitalize()
    key = {f"{label}Name": owner}
    attach = getattr(iam, f"attach_{kind}_policy")
    detach = getattr(iam, f"detach_{kind}_policy")
    listed = getattr(iam, f"list_attached_{kind}_policies")
    path = f"/{random_name('ap')}/"
    policies = sorted((create(iam, Path=path if i % 2 else "/") for i in range(10)), key=lambda p: p["PolicyName"])
    for p in policies:
        attach(**key, PolicyArn=p["Arn"])
    attach(**key, PolicyArn=policies[0]["Arn"])  # attaching twice is a no-op
    got = listed(**key)["AttachedPolicies"]
    assert got == [{"PolicyName": p["PolicyName"], "PolicyArn": p["Arn"]} for p in policies]
    in_path = listed(**key, PathPrefix=path)["AttachedPolicies"]
    assert {a["PolicyArn"] for a in in_path} == {p["Arn"] for p in policies if p["Path"] == path}
    page = listed(**key, MaxItems=4)
    assert page["IsTruncated"] and len(page["AttachedPolicies"]) == 4
    assert iam.get_policy(PolicyArn=policies[0]["Arn"])["Policy"]["AttachmentCount"] == 1

    eleventh = create(iam)
    with pytest.raises(ClientError) as exc:
        attach(**key, PolicyArn=eleventh["Arn"])
    assert error(exc) == ("LimitExceeded", 409, f"Cannot exceed quota for PoliciesPer{label}: 10")
    detach(**key, PolicyArn=policies[0]["Arn"])
    attach(**key, PolicyArn=eleventh["Arn"])
    with pytest.raises(ClientError) as exc:
        detach(**key, PolicyArn=policies[0]["Arn"])
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {policies[0]['Arn']} was not found.")
    with pytest.raises(ClientError) as exc:
        attach(**{f"{label}Name": f"nobody-{kind}"}, PolicyArn=eleventh["Arn"])
    assert error(exc) == ("NoSuchEntity", 404, f"The {kind} with name nobody-{kind} cannot be found.")
    with pytest.raises(ClientError) as exc:
        listed(**{f"{label}Name": f"nobody-{kind}"})
    assert error(exc)[0] == "NoSuchEntity"


def test_list_entities_for_policy(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    arn = create(iam)["Arn"]
    user = make_owner(iam, server, "user")
    group = make_owner(iam, server, "group")
    role = make_owner(iam, server, "role")
    boundary_role = make_owner(iam, server, "role")
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.put_role_permissions_boundary(RoleName=boundary_role, PermissionsBoundary=arn)
    result = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in result["PolicyUsers"]] == [user]
    assert result["PolicyUsers"][0]["UserId"].startswith("AIDA")
    assert [g["GroupName"] for g in result["PolicyGroups"]] == [group]
    assert sorted(r["RoleName"] for r in result["PolicyRoles"]) == sorted([role, boundary_role])
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role", PolicyUsageFilter="PermissionsPolicy")
    assert [r["RoleName"] for r in only_roles["PolicyRoles"]] == [role]
    assert only_roles["PolicyUsers"] == [] and only_roles["PolicyGroups"] == []
    boundary = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [r["RoleName"] for r in boundary["PolicyRoles"]] == [boundary_role]
    paged = iam.list_entities_for_policy(PolicyArn=arn, MaxItems=2)
    assert paged["IsTruncated"] is True
    rest = iam.list_entities_for_policy(PolicyArn=arn, Marker=paged["Marker"])
    total = sum(len(r[k]) for r in (paged, rest) for k in ("PolicyUsers", "PolicyGroups", "PolicyRoles"))
    assert total == 4 and rest["IsTruncated"] is False
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3


def test_policy_tags(iam) -> None:  # type: ignore[no-untyped-def]
    arn = create(iam, Tags=[{"Key": "a", "Value": "1"}])["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "3"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "3"}, {"Key": "b", "Value": "2"}]
    iam.untag_policy(PolicyArn=arn, TagKeys=["B"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "A", "Value": "3"}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "A", "Value": "3"}]
    with pytest.raises(ClientError) as exc:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error(exc) == ("LimitExceeded", 409, "Cannot exceed quota for TagsPerPolicy: 50")
    with pytest.raises(ClientError) as exc:
        iam.list_policy_tags(PolicyArn=arn.replace("policy/", "policy/missing-"))
    assert error(exc)[0] == "NoSuchEntity"


def test_list_validation_errors_in_aws_order(server: ServerInfo) -> None:
    raw = server.client("iam", parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        raw.list_policies(Scope="Mine", PathPrefix="no-slash", PolicyUsageFilter="Both")
    code, status, message = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("3 validation errors detected: Value 'Mine' at 'scope' failed to satisfy constraint: "
                              "Member must satisfy enum value set: [All, AWS, Local]; Value 'no-slash' at 'pathPrefix'")
    assert message.endswith("Value 'Both' at 'policyUsageFilter' failed to satisfy constraint: "
                            "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]")
    with pytest.raises(ClientError) as exc:
        raw.list_entities_for_policy(PolicyArn="short", EntityFilter="Users")
    assert error(exc)[2] == (
        "2 validation errors detected: Value 'short' at 'policyArn' failed to satisfy constraint: "
        "Member must have length greater than or equal to 20; Value 'Users' at 'entityFilter' failed to satisfy "
        "constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]"
    )


def test_condition_keys_of_attachments_and_tags(iam, server: ServerInfo) -> None:  # type: ignore[no-untyped-def]
    """iam:PolicyARN on Attach/Detach (also when the role does not exist), aws:RequestTag and
    aws:TagKeys on TagPolicy/UntagPolicy."""
    allowed, other = create(iam)["Arn"], create(iam)["Arn"]
    role = make_owner(iam, server, "role")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"], "Resource": "*",
             "Condition": {"ArnEquals": {"iam:PolicyARN": allowed}}},
            {"Effect": "Allow", "Action": "iam:TagPolicy", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
            {"Effect": "Allow", "Action": "iam:UntagPolicy", "Resource": "*",
             "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}},
        ],
    }
    _, creds = make_user(server, policy)
    client = server.client("iam", creds)

    def denied(call) -> str:  # type: ignore[no-untyped-def]
        with pytest.raises(ClientError) as exc:
            call()
        assert error(exc)[:2] == ("AccessDenied", 403)
        return error(exc)[2]

    client.attach_role_policy(RoleName=role, PolicyArn=allowed)
    denied(lambda: client.attach_role_policy(RoleName=role, PolicyArn=other))
    client.detach_role_policy(RoleName=role, PolicyArn=allowed)
    with pytest.raises(ClientError) as exc:
        client.attach_role_policy(RoleName="nobody-role", PolicyArn=allowed)
    assert error(exc) == ("NoSuchEntity", 404, "The role with name nobody-role cannot be found.")
    denied(lambda: client.attach_role_policy(RoleName="nobody-role", PolicyArn=other))

    client.tag_policy(PolicyArn=allowed, Tags=[{"Key": "team", "Value": "blue"}])
    denied(lambda: client.tag_policy(PolicyArn=allowed, Tags=[{"Key": "team", "Value": "red"}]))
    denied(lambda: client.untag_policy(PolicyArn=allowed, TagKeys=["team", "cost"]))
    client.untag_policy(PolicyArn=allowed, TagKeys=["team"])
    assert iam.list_policy_tags(PolicyArn=allowed)["Tags"] == []
