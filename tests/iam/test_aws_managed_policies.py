"""AWS managed policies (``arn:aws:iam::aws:policy/...``) over HTTP with boto3 and the AWS CLI:
listed, read, attached, used as boundaries and session policies, enforced as their documents say,
and read-only. Expectations are derived from the shipped documents, so the tests say what the
data grants rather than what we remember of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from opensts.store.aws_policies import catalogue
from tests.conftest import aws_cli, random_name, ServerInfo
from tests.iam.conftest import allow, make_user
from tests.iam.test_roles import error, trust

PREFIX = "arn:aws:iam::aws:policy/"
READ_ONLY = PREFIX + "ReadOnlyAccess"
POWER_USER = PREFIX + "PowerUserAccess"
ADMIN = PREFIX + "AdministratorAccess"
ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def shipped(arn: str) -> dict:
    policy = catalogue().get(arn)
    assert policy is not None, arn
    return json.loads(policy.document)


def denied(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        call()
    code, status, message = error(exc)
    assert (code, status) == ("AccessDenied", 403), message
    return message


def test_list_scope_aws_pages_through_every_policy(iam) -> None:  # type: ignore[no-untyped-def]
    pages = list(iam.get_paginator("list_policies").paginate(Scope="AWS", PaginationConfig={"PageSize": 500}))
    listed = [p for page in pages for p in page["Policies"]]
    assert len(pages) >= 3 and len(listed) == len(catalogue().policies) > 1000
    names = [p["PolicyName"] for p in listed]
    assert names == sorted(names, key=str.lower) and len(set(names)) == len(names)
    assert all(p["Arn"] == f"{PREFIX}{p['Path'][1:]}{p['PolicyName']}" for p in listed)
    job = iam.list_policies(Scope="AWS", PathPrefix="/job-function/")["Policies"]
    assert job and all(p["Path"] == "/job-function/" for p in job)
    assert "ViewOnlyAccess" in {p["PolicyName"] for p in job}
    # Local leaves them out; All (the default) has them beside the account's own.
    assert all(not p["Arn"].startswith(PREFIX) for p in iam.list_policies(Scope="Local", MaxItems=1000)["Policies"])
    everything = [p for page in iam.get_paginator("list_policies").paginate() for p in page["Policies"]]
    assert READ_ONLY in {p["Arn"] for p in everything}


def test_get_policy_and_version(iam) -> None:  # type: ignore[no-untyped-def]
    data = catalogue().get(READ_ONLY)
    assert data is not None
    policy = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    assert (policy["PolicyName"], policy["Path"], policy["Arn"]) == ("ReadOnlyAccess", "/", READ_ONLY)
    assert policy["DefaultVersionId"] == data.default_version_id and policy["IsAttachable"] is True
    assert policy["PolicyId"].startswith("ANPA") and len(policy["PolicyId"]) == 21
    assert policy["CreateDate"] == data.created_at and policy["UpdateDate"] == data.updated_at
    version = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=data.default_version_id)["PolicyVersion"]
    assert version["Document"] == shipped(READ_ONLY) and version["IsDefaultVersion"] is True
    versions = iam.list_policy_versions(PolicyArn=READ_ONLY)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [(data.default_version_id, True)]
    with pytest.raises(ClientError) as exc:
        iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v1")  # only the default version is shipped
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {READ_ONLY} version v1 does not exist or is not attachable.")
    assert iam.list_policy_tags(PolicyArn=READ_ONLY)["Tags"] == []
    # Paths are part of the ARN: a service-role policy is found under its path only.
    assert iam.get_policy(PolicyArn=PREFIX + "service-role/AWSLambdaBasicExecutionRole")["Policy"]["Path"] == "/service-role/"


def test_read_only_access_attached_to_a_user(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server)
    client = server.client("iam", creds)
    denied(client.list_users)
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)  # twice: a no-op, as in AWS
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == [
        {"PolicyName": "ReadOnlyAccess", "PolicyArn": READ_ONLY}
    ]
    client.list_users()
    client.get_policy(PolicyArn=READ_ONLY)
    denied(lambda: client.create_user(UserName=random_name("u")))
    entities = iam.list_entities_for_policy(PolicyArn=READ_ONLY, EntityFilter="User")["PolicyUsers"]
    assert name in {u["UserName"] for u in entities}
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["AttachmentCount"] >= 1
    attached = iam.list_policies(Scope="AWS", OnlyAttached=True, PolicyUsageFilter="PermissionsPolicy")["Policies"]
    assert READ_ONLY in {p["Arn"] for p in attached}
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=name)
    assert error(exc)[:2] == ("DeleteConflict", 409)
    # The same through a group, then detached: the change applies at once.
    group = random_name("g")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.detach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    client.list_users()
    iam.detach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    denied(client.list_users)
    with pytest.raises(ClientError) as exc:
        iam.detach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {READ_ONLY} was not found.")


def test_power_user_access_grants_what_its_document_says(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    statements = shipped(POWER_USER)["Statement"]
    everything_but = next(s for s in statements if "NotAction" in s)
    assert everything_but["Effect"] == "Allow" and "iam:*" in everything_but["NotAction"]
    iam_allowed = {a for s in statements if s["Effect"] == "Allow" for a in s.get("Action", []) if a.startswith("iam:")}
    assert "iam:ListRoles" in iam_allowed and not {"iam:ListUsers", "iam:CreateUser"} & iam_allowed
    name, creds = make_user(server)
    iam.attach_user_policy(UserName=name, PolicyArn=POWER_USER)
    client = server.client("iam", creds)
    client.list_roles()
    denied(client.list_users)
    denied(lambda: client.create_user(UserName=random_name("u")))
    assert server.client("sts", creds).get_caller_identity()["Arn"].endswith(f":user/{name}")
    # Outside IAM, NotAction allows everything: ask the simulator about the user's policies.
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["s3:GetObject", "ec2:RunInstances", "iam:CreateUser", "iam:ListRoles"]
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "s3:GetObject": "allowed", "ec2:RunInstances": "allowed", "iam:CreateUser": "implicitDeny",
        "iam:ListRoles": "allowed",
    }


def test_administrator_access_allows_everything_but_changing_aws_policies(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    assert shipped(ADMIN)["Statement"] == [{"Action": "*", "Effect": "Allow", "Resource": "*"}]
    name, creds = make_user(server)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    client = server.client("iam", creds)
    other = random_name("u")
    client.create_user(UserName=other)
    client.delete_user(UserName=other)
    client.list_users()
    denied(lambda: client.create_policy_version(PolicyArn=ADMIN, PolicyDocument=json.dumps(ADMIN_DOC)))


def test_read_only_access_as_permissions_boundary(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server, ADMIN_DOC)
    client = server.client("iam", creds)
    client.get_user(UserName=name)
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=READ_ONLY)
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": READ_ONLY,
    }
    client.list_users()
    denied(lambda: client.create_user(UserName=random_name("u")))
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["PermissionsBoundaryUsageCount"] >= 1
    boundaries = iam.list_entities_for_policy(PolicyArn=READ_ONLY, PolicyUsageFilter="PermissionsBoundary")
    assert name in {u["UserName"] for u in boundaries["PolicyUsers"]}
    # Roles take it too, at creation.
    role = random_name("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id), PermissionsBoundary=POWER_USER)
    assert iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == POWER_USER
    iam.delete_user_permissions_boundary(UserName=name)
    new = random_name("u")
    client.create_user(UserName=new)
    iam.delete_user(UserName=new)


def test_policy_arns_of_assume_role_restrict_the_session(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = random_name("r")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn=ADMIN)
    _, creds = make_user(server, allow("sts:AssumeRole", role_arn))
    sts = server.client("sts", creds)

    def session(**kwargs):  # type: ignore[no-untyped-def]
        c = sts.assume_role(RoleArn=role_arn, RoleSessionName="sess", **kwargs)["Credentials"]
        from tests.conftest import Credentials

        return server.client("iam", Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))

    limited = session(PolicyArns=[{"arn": READ_ONLY}])
    limited.list_roles()
    denied(lambda: limited.create_user(UserName=random_name("u")))
    full = session()
    new = random_name("u")
    full.create_user(UserName=new)
    full.delete_user(UserName=new)
    # An AWS ARN that names nothing allows nothing (the session policies then grant nothing).
    nothing = session(PolicyArns=[{"arn": PREFIX + "NoSuchAwsPolicy"}])
    denied(nothing.list_roles)


def test_writes_to_aws_policies_are_refused(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    document = json.dumps(ADMIN_DOC)
    writes = {
        "CreatePolicyVersion": lambda: iam.create_policy_version(PolicyArn=READ_ONLY, PolicyDocument=document),
        "DeletePolicy": lambda: iam.delete_policy(PolicyArn=READ_ONLY),
        "DeletePolicyVersion": lambda: iam.delete_policy_version(PolicyArn=READ_ONLY, VersionId="v1"),
        "SetDefaultPolicyVersion": lambda: iam.set_default_policy_version(PolicyArn=READ_ONLY, VersionId="v1"),
        "TagPolicy": lambda: iam.tag_policy(PolicyArn=READ_ONLY, Tags=[{"Key": "k", "Value": "v"}]),
        "UntagPolicy": lambda: iam.untag_policy(PolicyArn=READ_ONLY, TagKeys=["k"]),
    }
    for action, call in writes.items():
        message = denied(call)  # even for the account root
        assert message == (
            f"User: arn:aws:iam::{server.account_id}:root is not authorized to perform: iam:{action} "
            f"on resource: {READ_ONLY}"
        )
    assert iam.get_policy(PolicyArn=READ_ONLY)["Policy"]["DefaultVersionId"] == catalogue().get(READ_ONLY).default_version_id  # type: ignore[union-attr]
    # Policies of service-linked roles attach to no customer role.
    service = next(p.arn for p in catalogue().policies if p.path == "/aws-service-role/")
    role = random_name("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id))
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=role, PolicyArn=service)
    assert error(exc) == ("PolicyNotAttachable", 400, "Cannot attach a Service Role Policy to a Customer Role.")


def test_unknown_aws_arn_and_quota(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    unknown = PREFIX + "NoSuchAwsPolicy"
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=unknown)
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {unknown} was not found.")
    name, _ = make_user(server)
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName=name, PolicyArn=unknown)
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {unknown} does not exist or is not attachable.")
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName=name, PolicyArn=PREFIX + "ReadOnlyAccessx")
    assert error(exc)[:2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=unknown)
    assert error(exc) == ("NoSuchEntity", 404, f"Scope ARN: {unknown} does not exist or is not attachable.")
    # AWS and customer managed policies count together against the 10 per entity.
    local = iam.create_policy(PolicyName=random_name("p"), PolicyDocument=json.dumps(allow("s3:List*")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=local)
    arns = [p.arn for p in catalogue().policies if p.path == "/"][:10]
    for arn in arns[:9]:
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName=name, PolicyArn=arns[9])
    assert error(exc) == ("LimitExceeded", 409, "Cannot exceed quota for PoliciesPerUser: 10")
    assert len(iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]) == 10


def test_reading_aws_policies_needs_permission(server: ServerInfo) -> None:
    name, creds = make_user(server)
    client = server.client("iam", creds)
    message = denied(lambda: client.get_policy(PolicyArn=READ_ONLY))
    assert message.endswith(f"iam:GetPolicy on resource: {READ_ONLY}")
    denied(lambda: client.get_policy(PolicyArn=PREFIX + "NoSuchAwsPolicy"))  # existence not revealed
    denied(lambda: client.list_policies(Scope="AWS"))
    _, reader = make_user(server, allow(["iam:GetPolicy", "iam:GetPolicyVersion"], PREFIX + "*"))
    allowed = server.client("iam", reader)
    assert allowed.get_policy(PolicyArn=READ_ONLY)["Policy"]["PolicyName"] == "ReadOnlyAccess"
    denied(lambda: allowed.get_policy(PolicyArn=f"arn:aws:iam::{server.account_id}:policy/x"))


def test_account_authorization_details_list_aws_policies_in_use(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = random_name("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id))
    view_only = PREFIX + "job-function/ViewOnlyAccess"
    iam.attach_role_policy(RoleName=role, PolicyArn=view_only)
    pages = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["AWSManagedPolicy"], PaginationConfig={"PageSize": 2}
    )
    policies = [p for page in pages for p in page["Policies"]]
    arns = [p["Arn"] for p in policies]
    assert view_only in arns and all(a.startswith(PREFIX) for a in arns) and len(arns) < len(catalogue().policies)
    assert all(p["AttachmentCount"] + p["PermissionsBoundaryUsageCount"] > 0 for p in policies)
    detail = next(p for p in policies if p["Arn"] == view_only)
    assert detail["PolicyVersionList"][0]["Document"] == shipped(view_only)
    roles = iam.get_account_authorization_details(Filter=["Role"], MaxItems=1000)["RoleDetailList"]
    mine = next(r for r in roles if r["RoleName"] == role)
    assert mine["AttachedManagedPolicies"] == [{"PolicyName": "ViewOnlyAccess", "PolicyArn": view_only}]
    iam.detach_role_policy(RoleName=role, PolicyArn=view_only)
    iam.delete_role(RoleName=role)


def test_aws_cli_lists_aws_policies(server: ServerInfo, tmp_path: Path) -> None:
    listed = aws_cli(server, tmp_path, "iam", "list-policies", "--scope", "AWS", "--max-items", "5")
    assert len(listed["Policies"]) == 5 and listed["NextToken"]
    assert [p["PolicyName"] for p in listed["Policies"]] == [p.name for p in catalogue().policies[:5]]
