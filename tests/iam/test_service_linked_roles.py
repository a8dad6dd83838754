"""Service-linked roles over HTTP with boto3 and the AWS CLI: AWS's names and paths, a trust policy
that only the service satisfies, protection against ordinary changes, deletion tasks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import aws_cli, Credentials, random_name, ServerInfo
from tests.iam.conftest import allow, make_user

PROTECTED = "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS"
TASK_RE = r"task/aws-service-role/{}/{}/[0-9a-f-]{{36}}"


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def fails(call, code: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        call()
    got, status, message = error(exc)
    assert got == code, message
    return status, message


def autoscaling_role(iam) -> str:  # type: ignore[no-untyped-def]
    """A fresh service-linked role (Auto Scaling takes a CustomSuffix, so each test gets its own)."""
    suffix = random_name("t")
    role = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=suffix)["Role"]
    assert role["RoleName"] == f"AWSServiceRoleForAutoScaling_{suffix}"
    return role["RoleName"]


def test_create_get_delete(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    service = "elasticbeanstalk.amazonaws.com"
    name = "AWSServiceRoleForElasticBeanstalk"
    created = iam.create_service_linked_role(AWSServiceName=service, Description="for Beanstalk")["Role"]
    try:
        assert created["RoleName"] == name
        assert created["Path"] == f"/aws-service-role/{service}/"
        assert created["Arn"] == f"arn:aws:iam::{server.account_id}:role/aws-service-role/{service}/{name}"
        assert created["Description"] == "for Beanstalk"
        assert "RoleLastUsed" not in created
        trust = created["AssumeRolePolicyDocument"]
        assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
        got = iam.get_role(RoleName=name)["Role"]
        assert got["Path"] == f"/aws-service-role/{service}/" and got["AssumeRolePolicyDocument"] == trust
        listed = iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]
        assert name in [r["RoleName"] for r in listed]
        # The same service again: AWS's InvalidInput, not EntityAlreadyExists.
        status, message = fails(lambda: iam.create_service_linked_role(AWSServiceName=service), "InvalidInput")
        assert (status, message) == (
            400, f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    finally:
        task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert re.fullmatch(TASK_RE.format(re.escape(service), name), task)
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    fails(lambda: iam.get_role(RoleName=name), "NoSuchEntity")
    # Gone: a second deletion has nothing to delete; the first task still answers.
    fails(lambda: iam.delete_service_linked_role(RoleName=name), "NoSuchEntity")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_names_and_suffixes(iam) -> None:  # type: ignore[no-untyped-def]
    name = autoscaling_role(iam)
    assert iam.get_role(RoleName=name)["Role"]["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    # Elastic Beanstalk takes no suffix.
    fails(lambda: iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com", CustomSuffix="x"),
          "InvalidInput")
    # A service OpenSTS does not list: named by the documented rule.
    word = random_name("svc").replace("-", "")
    role = iam.create_service_linked_role(AWSServiceName=f"{word}.my-app.amazonaws.com")["Role"]
    assert role["RoleName"] == f"AWSServiceRoleFor{word.capitalize()}MyApp"
    for bad in ("notaservice", "example.com", "UPPER.amazonaws.com"):
        fails(lambda: iam.create_service_linked_role(AWSServiceName=bad), "InvalidInput")
    # Longer than a role name may be.
    fails(lambda: iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="x" * 60),
          "InvalidInput")
    # The model's patterns.
    fails(lambda: iam.create_service_linked_role(AWSServiceName="a b.amazonaws.com"), "ValidationError")
    for r in (name, role["RoleName"]):
        iam.delete_service_linked_role(RoleName=r)


def test_protected_from_ordinary_changes(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = autoscaling_role(iam)
    policy_arn = iam.create_policy(PolicyName=random_name("p"), PolicyDocument=json.dumps(allow("s3:*")))["Policy"]["Arn"]
    document = json.dumps(allow("s3:*"))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]})
    for call in (
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust),
        lambda: iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document),
        lambda: iam.delete_role_policy(RoleName=name, PolicyName="p"),
        lambda: iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn),
        lambda: iam.detach_role_policy(RoleName=name, PolicyArn=policy_arn),
        lambda: iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=policy_arn),
        lambda: iam.delete_role_permissions_boundary(RoleName=name),
        lambda: iam.update_role(RoleName=name, MaxSessionDuration=7200),
    ):
        assert fails(call, "UnmodifiableEntity") == (400, PROTECTED.format(name))
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    # What AWS lets customers change: the description and the tags.
    iam.update_role_description(RoleName=name, Description="edited")
    iam.update_role(RoleName=name, Description="edited again")
    iam.tag_role(RoleName=name, Tags=[{"Key": "team", "Value": "ops"}])
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "edited again" and got["Tags"] == [{"Key": "team", "Value": "ops"}]
    # Nobody makes one with CreateRole.
    status, message = fails(
        lambda: iam.create_role(RoleName=random_name("r"), Path="/aws-service-role/x.amazonaws.com/",
                                AssumeRolePolicyDocument=trust),
        "InvalidInput",
    )
    assert message == "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles"
    # DeleteServiceLinkedRole takes the tags with the role.
    iam.delete_service_linked_role(RoleName=name)
    iam.delete_policy(PolicyArn=policy_arn)


def test_only_the_service_may_assume_it(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = autoscaling_role(iam)
    arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    _, creds = make_user(server, allow("sts:AssumeRole"))
    sts = server.client("sts", creds)
    fails(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="session"), "AccessDenied")
    iam.delete_service_linked_role(RoleName=name)


def test_authorization(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    _, nothing = make_user(server)
    plain = server.client("iam", nothing)
    fails(lambda: plain.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="x"),
          "AccessDenied")
    # iam:AWSServiceName narrows who may create which service's role.
    only_autoscaling = allow(
        ["iam:CreateServiceLinkedRole"], f"arn:aws:iam::{server.account_id}:role/aws-service-role/*",
        Condition={"StringEquals": {"iam:AWSServiceName": "autoscaling.amazonaws.com"}},
    )
    _, scoped = make_user(server, only_autoscaling)
    limited = server.client("iam", scoped)
    suffix = random_name("t")
    name = limited.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=suffix)["Role"]["RoleName"]
    _, message = fails(lambda: limited.create_service_linked_role(AWSServiceName="ecs.amazonaws.com"), "AccessDenied")
    assert message.endswith(
        f"iam:CreateServiceLinkedRole on resource: arn:aws:iam::{server.account_id}:role/aws-service-role/"
        "ecs.amazonaws.com/AWSServiceRoleForECS"
    )
    # Deleting and asking need their own permissions, checked before anything is said about the role.
    fails(lambda: plain.delete_service_linked_role(RoleName=name), "AccessDenied")
    fails(lambda: plain.delete_service_linked_role(RoleName="AWSServiceRoleForNothing"), "AccessDenied")
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    fails(lambda: plain.get_service_linked_role_deletion_status(DeletionTaskId=task), "AccessDenied")
    _, reader = make_user(server, allow("iam:GetServiceLinkedRoleDeletionStatus",
                                        f"arn:aws:iam::{server.account_id}:role/aws-service-role/*"))
    assert server.client("iam", reader).get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_deletion_errors(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    fails(lambda: iam.delete_service_linked_role(RoleName=random_name("missing")), "NoSuchEntity")
    ordinary = random_name("r")
    iam.create_role(RoleName=ordinary, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    _, message = fails(lambda: iam.delete_service_linked_role(RoleName=ordinary), "NoSuchEntity")
    assert message == f"Role {ordinary} is not a service-linked role."
    iam.get_role(RoleName=ordinary)  # untouched
    iam.delete_role(RoleName=ordinary)
    unknown = "task/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
    for task in (unknown, "not-a-task"):
        fails(lambda: iam.get_service_linked_role_deletion_status(DeletionTaskId=task), "NoSuchEntity")
    # Another account's task is not found.
    name = autoscaling_role(iam)
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    other = json.loads(out.stdout)
    foreign = server.client("iam", Credentials(other["AccessKeyId"], other["SecretAccessKey"]))
    fails(lambda: foreign.get_service_linked_role_deletion_status(DeletionTaskId=task), "NoSuchEntity")


def test_aws_cli(server: ServerInfo, tmp_path: Path) -> None:
    def cli(*args: str) -> dict:
        return aws_cli(server, tmp_path, "iam", *args)

    suffix = random_name("cli")
    role = cli("create-service-linked-role", "--aws-service-name", "autoscaling.amazonaws.com",
               "--custom-suffix", suffix, "--description", "from the CLI")["Role"]
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    task = cli("delete-service-linked-role", "--role-name", role["RoleName"])["DeletionTaskId"]
    status = cli("get-service-linked-role-deletion-status", "--deletion-task-id", task)
    assert status == {"Status": "SUCCEEDED"}


def test_a_role_still_in_an_instance_profile_is_not_deleted_and_the_task_says_why(iam) -> None:  # type: ignore[no-untyped-def]
    suffix = random_name("p")[:20]
    name = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=suffix)["Role"]["RoleName"]
    profile = random_name("eb-host")
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task)
    assert status["Status"] == "FAILED" and profile in status["Reason"]["Reason"]
    assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name  # still there
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=name)
    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    iam.delete_instance_profile(InstanceProfileName=profile)
