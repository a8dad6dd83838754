"""Every IAM call is authorized by the policy engine: over HTTP with boto3 (and the AWS CLI), a
user's inline, managed and group policies, explicit denies, permissions boundaries, conditions
with policy variables, immediate effect of policy changes, role sessions, and account isolation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Credentials, ServerInfo, random_name
from tests.iam.conftest import allow, make_user
from tests.iam.test_roles import error, trust


def deny(actions: str | list[str], resources: str | list[str] = "*") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": actions, "Resource": resources}]}


def denied(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        call()
    code, status, message = error(exc)
    assert (code, status) == ("AccessDenied", 403), message
    return message


def create_policy(iam, document: dict) -> str:  # type: ignore[no-untyped-def]
    return iam.create_policy(PolicyName=random_name("pol"), PolicyDocument=json.dumps(document))["Policy"]["Arn"]


def test_user_without_permission_is_denied(server: ServerInfo) -> None:
    name, creds = make_user(server)
    client = server.client("iam", creds)
    message = denied(client.list_roles)
    account = server.account_id
    assert message == (
        f"User: arn:aws:iam::{account}:user/{name} is not authorized to perform: iam:ListRoles "
        f"on resource: arn:aws:iam::{account}:role/"
    )
    message = denied(lambda: client.get_role(RoleName="whatever"))
    assert message.endswith(f"iam:GetRole on resource: arn:aws:iam::{account}:role/whatever")
    # A missing entity is not revealed to a caller without permission: still AccessDenied.
    denied(lambda: client.create_policy(PolicyName=random_name("p"), PolicyDocument=json.dumps(allow("s3:*"))))


def test_inline_allow_grants(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = random_name("role")
    iam.create_role(RoleName=role, Path="/svc/", AssumeRolePolicyDocument=trust(server.account_id))
    _, creds = make_user(server, allow(["iam:ListRoles", "iam:GetRole"]))
    client = server.client("iam", creds)
    assert any(r["RoleName"] == role for p in client.get_paginator("list_roles").paginate() for r in p["Roles"])
    assert client.get_role(RoleName=role)["Role"]["Path"] == "/svc/"
    denied(lambda: client.delete_role(RoleName=role))
    # The resource is the role's ARN with its path.
    _, scoped = make_user(server, allow("iam:GetRole", f"arn:aws:iam::{server.account_id}:role/svc/*"))
    assert server.client("iam", scoped).get_role(RoleName=role)["Role"]["RoleName"] == role
    _, wrong = make_user(server, allow("iam:GetRole", f"arn:aws:iam::{server.account_id}:role/other/*"))
    denied(lambda: server.client("iam", wrong).get_role(RoleName=role))


def test_explicit_deny_wins(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    # Inline allow, managed deny.
    name, creds = make_user(server, allow("iam:*"))
    client = server.client("iam", creds)
    client.list_roles()
    iam.attach_user_policy(UserName=name, PolicyArn=create_policy(iam, deny("iam:ListRoles")))
    message = denied(client.list_roles)
    assert "with an explicit deny" in message
    client.list_policies()  # only the denied action is affected
    # Managed allow, inline deny.
    other, other_creds = make_user(server)
    iam.attach_user_policy(UserName=other, PolicyArn=create_policy(iam, allow("iam:*")))
    other_client = server.client("iam", other_creds)
    other_client.list_policies()
    iam.put_user_policy(UserName=other, PolicyName="deny", PolicyDocument=json.dumps(deny("iam:ListPolicies")))
    denied(other_client.list_policies)


def test_permissions_boundary_limits(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server, allow(["iam:ListRoles", "iam:ListPolicies"]))
    client = server.client("iam", creds)
    client.list_roles()
    boundary = create_policy(iam, allow("iam:ListPolicies"))
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    denied(client.list_roles)  # allowed by the identity policy, not by the boundary
    client.list_policies()  # allowed by both
    # The boundary alone grants nothing.
    iam.delete_user_policy(UserName=name, PolicyName="p")
    denied(client.list_policies)


def test_group_policies_apply_to_members(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server)
    client = server.client("iam", creds)
    group = random_name("group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="list-roles", PolicyDocument=json.dumps(allow("iam:ListRoles")))
    iam.attach_group_policy(GroupName=group, PolicyArn=create_policy(iam, allow("iam:ListPolicies")))
    denied(client.list_roles)
    iam.add_user_to_group(GroupName=group, UserName=name)
    client.list_roles()  # inline group policy
    client.list_policies()  # attached group policy
    iam.remove_user_from_group(GroupName=group, UserName=name)
    denied(client.list_roles)
    denied(client.list_policies)
    # And a group's policies stop applying when they are removed from the group.
    iam.add_user_to_group(GroupName=group, UserName=name)
    client.list_roles()
    iam.delete_group_policy(GroupName=group, PolicyName="list-roles")
    denied(client.list_roles)
    arn = iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"][0]["PolicyArn"]
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    denied(client.list_policies)


def test_policy_changes_take_effect_at_once(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, creds = make_user(server)
    client = server.client("iam", creds)
    denied(client.list_roles)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(allow("iam:ListRoles")))
    client.list_roles()
    iam.delete_user_policy(UserName=name, PolicyName="p")
    denied(client.list_roles)
    # A new default version of an attached managed policy applies at once; so does going back.
    arn = create_policy(iam, allow("iam:ListRoles"))
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    client.list_roles()
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("iam:ListPolicies")), SetAsDefault=True)
    denied(client.list_roles)
    client.list_policies()
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    client.list_roles()
    iam.detach_user_policy(UserName=name, PolicyArn=arn)
    denied(client.list_roles)


def test_condition_with_policy_variable(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    policy = allow("iam:ListUserPolicies", f"arn:aws:iam::{server.account_id}:user/${{aws:username}}")
    name, creds = make_user(server, policy)
    other, _ = make_user(server)
    client = server.client("iam", creds)
    assert client.list_user_policies(UserName=name)["PolicyNames"] == ["p"]
    message = denied(lambda: client.list_user_policies(UserName=other))
    assert message.endswith(f"on resource: arn:aws:iam::{server.account_id}:user/{other}")
    # A condition on a request key: tags may only be set with team=blue.
    tagging = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:TagRole", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
        ],
    }
    role = random_name("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id))
    _, tagger = make_user(server, tagging)
    tag_client = server.client("iam", tagger)
    tag_client.tag_role(RoleName=role, Tags=[{"Key": "team", "Value": "blue"}])
    denied(lambda: tag_client.tag_role(RoleName=role, Tags=[{"Key": "team", "Value": "red"}]))


def test_role_session_sees_policy_changes(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = random_name("role")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id))["Role"]["Arn"]
    _, creds = make_user(server, allow("sts:AssumeRole", role_arn))
    session = server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="sess")["Credentials"]
    client = server.client(
        "iam", Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    )
    message = denied(client.list_roles)
    assert message.startswith(f"User: arn:aws:sts::{server.account_id}:assumed-role/{role}/sess is not authorized")
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(allow(["iam:ListRoles", "iam:ListPolicies"])))
    client.list_roles()
    # The role's permissions boundary limits its sessions too.
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=create_policy(iam, allow("iam:ListPolicies")))
    denied(client.list_roles)
    client.list_policies()
    iam.delete_role_permissions_boundary(RoleName=role)
    client.list_roles()
    iam.delete_role_policy(RoleName=role, PolicyName="p")
    denied(client.list_roles)


def test_accounts_are_isolated(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, "-m", "opensts", "account", "create"], env=server.env(), capture_output=True, text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    other = json.loads(out.stdout)
    foreign = server.client("iam", Credentials(other["AccessKeyId"], other["SecretAccessKey"]))
    role = random_name("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(server.account_id))
    arn = create_policy(iam, allow("s3:*"))
    with pytest.raises(ClientError) as exc:
        foreign.get_role(RoleName=role)
    assert error(exc)[0] == "NoSuchEntity"
    assert all(r["RoleName"] != role for r in foreign.list_roles()["Roles"])
    for call in (
        lambda: foreign.get_policy(PolicyArn=arn),
        lambda: foreign.delete_policy(PolicyArn=arn),
        lambda: foreign.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("*"))),
    ):
        denied(call)  # another account's policy ARN: the caller's root is not allowed there
    # The same names are free in the other account.
    foreign.create_role(RoleName=role, AssumeRolePolicyDocument=trust(other["AccountId"]))
    foreign_role = foreign.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=trust(other["AccountId"]))
    # A policy of another account is not attachable.
    with pytest.raises(ClientError) as exc:
        foreign.attach_role_policy(RoleName=foreign_role["Role"]["RoleName"], PolicyArn=arn)
    assert error(exc) == ("NoSuchEntity", 404, f"Policy {arn} does not exist or is not attachable.")
    assert iam.get_role(RoleName=role)["Role"]["Arn"].startswith(f"arn:aws:iam::{server.account_id}:")


def test_aws_cli_workflow(server: ServerInfo, tmp_path: Path) -> None:
    from opensts.api import load_actions

    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.root.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.root.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)

    def cli(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "awscli", "iam", *args, "--endpoint-url", server.url, "--output", "json"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}

    user = random_name("cli")
    role = random_name("cli-role")
    policy_name = random_name("cli-pol")
    cli("create-user", "--user-name", user)
    key = cli("create-access-key", "--user-name", user)["AccessKey"]
    created = cli(
        "create-role", "--role-name", role, "--path", "/cli/", "--assume-role-policy-document",
        trust(server.account_id), "--max-session-duration", "7200", "--tags", "Key=env,Value=cli",
    )["Role"]
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:role/cli/{role}"
    document = allow(["iam:ListRoles", "iam:GetRole"])
    policy = cli("create-policy", "--policy-name", policy_name, "--policy-document", json.dumps(document))["Policy"]
    cli("attach-user-policy", "--user-name", user, "--policy-arn", policy["Arn"])
    cli("attach-role-policy", "--role-name", role, "--policy-arn", policy["Arn"])
    cli("put-role-policy", "--role-name", role, "--policy-name", "inline", "--policy-document", json.dumps(allow("s3:*")))
    attached = cli("list-attached-user-policies", "--user-name", user)["AttachedPolicies"]
    assert attached == [{"PolicyName": policy_name, "PolicyArn": policy["Arn"]}]
    got = cli("get-role", "--role-name", role)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["AssumeRolePolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    assert cli("get-role-policy", "--role-name", role, "--policy-name", "inline")["PolicyDocument"] == allow("s3:*")
    version = cli("get-policy-version", "--policy-arn", policy["Arn"], "--version-id", "v1")["PolicyVersion"]
    assert version["Document"] == document
    entities = cli("list-entities-for-policy", "--policy-arn", policy["Arn"])
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    # The user's new key works, and what the policy allows is what the user may do.
    client = server.client("iam", Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    assert client.get_role(RoleName=role)["Role"]["RoleName"] == role
    denied(lambda: client.delete_role(RoleName=role))
    if ("iam", "SimulatePrincipalPolicy") in load_actions():
        user_arn = f"arn:aws:iam::{server.account_id}:user/{user}"
        result = cli(
            "simulate-principal-policy", "--policy-source-arn", user_arn,
            "--action-names", "iam:ListRoles", "iam:DeleteRole",
        )["EvaluationResults"]
        decisions = {r["EvalActionName"]: r["EvalDecision"] for r in result}
        assert decisions == {"iam:ListRoles": "allowed", "iam:DeleteRole": "implicitDeny"}
    # Clean up the way an operator would.
    cli("detach-role-policy", "--role-name", role, "--policy-arn", policy["Arn"])
    cli("delete-role-policy", "--role-name", role, "--policy-name", "inline")
    cli("delete-role", "--role-name", role)
    cli("detach-user-policy", "--user-name", user, "--policy-arn", policy["Arn"])
    cli("delete-policy", "--policy-arn", policy["Arn"])


def test_delegated_admin_cannot_shed_its_boundary_or_tag_itself(server) -> None:
    """AWS's delegated-administrator pattern: conditions on iam:PermissionsBoundary and aws:TagKeys
    hold for user actions as they do for role actions."""
    import json as _json

    from botocore.exceptions import ClientError

    from tests.conftest import random_name
    from tests.iam.conftest import make_user

    iam = server.client("iam")
    boundary_arn = iam.create_policy(
        PolicyName=random_name("boundary"), PolicyDocument=_json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})
    )["Policy"]["Arn"]
    admin_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary"], "Resource": "*",
             "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary_arn}}},
            {"Effect": "Deny", "Action": ["iam:TagUser", "iam:TagRole", "iam:UntagUser"], "Resource": "*",
             "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}},
            {"Effect": "Deny", "Action": ["iam:PutUserPolicy", "iam:AttachUserPolicy"], "Resource": "*",
             "Condition": {"StringEquals": {"iam:PermissionsBoundary": boundary_arn}}},
            {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*",
             "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}}},
        ],
    }
    name, creds = make_user(server, admin_policy)
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary_arn)
    admin = server.client("iam", creds)

    def denied(call) -> bool:  # type: ignore[no-untyped-def]
        try:
            call()
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "AccessDenied"
        return False

    assert denied(lambda: admin.delete_user_permissions_boundary(UserName=name))
    assert denied(lambda: admin.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "admins"}]))
    assert denied(lambda: admin.untag_user(UserName=name, TagKeys=["team"]))
    assert denied(lambda: admin.put_user_policy(UserName=name, PolicyName="more", PolicyDocument=_json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})))
    assert denied(lambda: admin.create_user(UserName=random_name("nobound")))
    admin.create_user(UserName=random_name("bound"), PermissionsBoundary=boundary_arn)
    admin.tag_user(UserName=name, Tags=[{"Key": "cost-center", "Value": "42"}])
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary_arn
