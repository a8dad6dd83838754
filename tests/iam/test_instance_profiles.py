"""IAM instance profiles over HTTP with boto3 (and the AWS CLI): the life cycle Terraform's
aws_iam_instance_profile goes through, the one-role quota, DeleteConflict on both sides, paging,
tags, authorization (iam:PassRole included) and the account reports."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, ServerInfo, random_name
from tests.iam.conftest import allow, make_user
from tests.iam.test_users import error_of

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
IN_PROFILE = "Cannot delete entity, must remove roles from instance profile first."


def make_role(iam, path: str = "/") -> dict:  # type: ignore[no-untyped-def]
    return iam.create_role(RoleName=random_name("role"), Path=path, AssumeRolePolicyDocument=TRUST)["Role"]


def test_terraform_like_life_cycle(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = make_role(iam, "/svc/")
    name = random_name("profile")
    created = iam.create_instance_profile(InstanceProfileName=name, Path="/svc/")["InstanceProfile"]
    assert created["InstanceProfileName"] == name and created["Path"] == "/svc/"
    assert created["InstanceProfileId"].startswith("AIPA") and len(created["InstanceProfileId"]) == 21
    assert created["Arn"] == f"arn:aws:iam::{server.account_id}:instance-profile/svc/{name}"
    assert created["Roles"] == [] and "Tags" not in created

    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    got = iam.get_instance_profile(InstanceProfileName=name.upper())["InstanceProfile"]  # names: case-insensitive
    assert {k: got[k] for k in ("InstanceProfileName", "InstanceProfileId", "Arn", "Path")} == {
        k: created[k] for k in ("InstanceProfileName", "InstanceProfileId", "Arn", "Path")
    }
    (in_profile,) = got["Roles"]
    assert in_profile["RoleName"] == role["RoleName"] and in_profile["RoleId"] == role["RoleId"]
    assert in_profile["Arn"] == role["Arn"] and in_profile["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert in_profile["MaxSessionDuration"] == 3600

    for_role = iam.list_instance_profiles_for_role(RoleName=role["RoleName"])
    assert [p["InstanceProfileName"] for p in for_role["InstanceProfiles"]] == [name]
    assert for_role["InstanceProfiles"][0]["Roles"][0]["RoleId"] == role["RoleId"]
    assert for_role["IsTruncated"] is False

    # Neither the role nor the profile can go while linked; nothing is unlinked implicitly.
    with pytest.raises(ClientError) as info:
        iam.delete_role(RoleName=role["RoleName"])
    assert error_of(info) == ("DeleteConflict", IN_PROFILE, 409)
    with pytest.raises(ClientError) as info:
        iam.delete_instance_profile(InstanceProfileName=name)
    assert error_of(info) == ("DeleteConflict", IN_PROFILE, 409)
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["RoleId"] == role["RoleId"]

    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    assert iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"] == []
    assert iam.list_instance_profiles_for_role(RoleName=role["RoleName"])["InstanceProfiles"] == []
    iam.delete_instance_profile(InstanceProfileName=name)
    iam.delete_role(RoleName=role["RoleName"])
    with pytest.raises(ClientError) as info:
        iam.get_instance_profile(InstanceProfileName=name)
    assert error_of(info) == ("NoSuchEntity", f"Instance Profile {name} cannot be found.", 404)


def test_errors(iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("profile")
    iam.create_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as info:
        iam.create_instance_profile(InstanceProfileName=name.upper())
    assert error_of(info) == ("EntityAlreadyExists", f"Instance Profile {name.upper()} already exists.", 409)

    first, second = make_role(iam), make_role(iam)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=first["RoleName"])
    # One role per profile: another role, or the same one again, exceeds the quota.
    for role in (second, first):
        with pytest.raises(ClientError) as info:
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
        assert error_of(info) == ("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)

    with pytest.raises(ClientError) as info:
        iam.add_role_to_instance_profile(InstanceProfileName="no-such-profile", RoleName=first["RoleName"])
    assert error_of(info) == ("NoSuchEntity", "Instance Profile no-such-profile cannot be found.", 404)
    with pytest.raises(ClientError) as info:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName="no-such-role")
    assert error_of(info) == ("NoSuchEntity", "The role with name no-such-role cannot be found.", 404)
    with pytest.raises(ClientError) as info:
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=second["RoleName"])
    assert error_of(info)[:1] == ("NoSuchEntity",)
    with pytest.raises(ClientError) as info:
        iam.list_instance_profiles_for_role(RoleName="no-such-role")
    assert error_of(info)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as info:
        iam.delete_instance_profile(InstanceProfileName="no-such-profile")
    assert error_of(info) == ("NoSuchEntity", "Instance Profile no-such-profile cannot be found.", 404)
    with pytest.raises(ClientError) as info:
        iam.create_instance_profile(InstanceProfileName="p" * 129)
    assert error_of(info)[1] == (
        f"1 validation error detected: Value '{'p' * 129}' at 'instanceProfileName' failed to satisfy constraint: "
        "Member must have length less than or equal to 128"
    )
    with pytest.raises(ClientError) as info:
        iam.create_instance_profile(InstanceProfileName="bad name")
    assert error_of(info)[0] == "ValidationError"

    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=first["RoleName"])
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=second["RoleName"])  # room again
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=second["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=name)


def test_list_path_prefix_and_paging(iam) -> None:  # type: ignore[no-untyped-def]
    path = f"/{random_name('team')}/"
    names = sorted(random_name("ip") for _ in range(3))
    for name in names:
        iam.create_instance_profile(InstanceProfileName=name, Path=path)
    role = make_role(iam)
    iam.add_role_to_instance_profile(InstanceProfileName=names[1], RoleName=role["RoleName"])

    listed = iam.list_instance_profiles(PathPrefix=path)
    assert [p["InstanceProfileName"] for p in listed["InstanceProfiles"]] == names
    assert [len(p["Roles"]) for p in listed["InstanceProfiles"]] == [0, 1, 0]
    assert "Tags" not in listed["InstanceProfiles"][0]
    assert iam.list_instance_profiles(PathPrefix=path + "nested/")["InstanceProfiles"] == []
    assert set(names) <= {p["InstanceProfileName"] for p in iam.list_instance_profiles(MaxItems=1000)["InstanceProfiles"]}

    first = iam.list_instance_profiles(PathPrefix=path, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["InstanceProfiles"]) == 2
    rest = iam.list_instance_profiles(PathPrefix=path, MaxItems=2, Marker=first["Marker"])
    assert rest["IsTruncated"] is False and [p["InstanceProfileName"] for p in rest["InstanceProfiles"]] == names[2:]
    pages = iam.get_paginator("list_instance_profiles").paginate(PathPrefix=path, PaginationConfig={"PageSize": 1})
    assert [p["InstanceProfileName"] for page in pages for p in page["InstanceProfiles"]] == names

    iam.remove_role_from_instance_profile(InstanceProfileName=names[1], RoleName=role["RoleName"])
    for name in names:
        iam.delete_instance_profile(InstanceProfileName=name)


def test_tags(iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("profile")
    created = iam.create_instance_profile(InstanceProfileName=name, Tags=[{"Key": "env", "Value": "dev"}])
    assert created["InstanceProfile"]["Tags"] == [{"Key": "env", "Value": "dev"}]
    iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "ENV", "Value": "prod"}, {"Key": "team", "Value": "a"}])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [
        {"Key": "ENV", "Value": "prod"}, {"Key": "team", "Value": "a"},
    ]
    assert iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Tags"][0] == {"Key": "ENV", "Value": "prod"}
    page = iam.list_instance_profile_tags(InstanceProfileName=name, MaxItems=1)
    assert page["IsTruncated"] is True and page["Tags"] == [{"Key": "ENV", "Value": "prod"}]
    iam.untag_instance_profile(InstanceProfileName=name, TagKeys=["env"])
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == [{"Key": "team", "Value": "a"}]

    with pytest.raises(ClientError) as info:
        iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(info) == ("LimitExceeded", "Cannot exceed quota for TagsPerInstanceProfile: 50", 409)
    with pytest.raises(ClientError) as info:
        iam.tag_instance_profile(InstanceProfileName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert error_of(info)[0] == "InvalidInput"
    with pytest.raises(ClientError) as info:
        iam.list_instance_profile_tags(InstanceProfileName="no-such-profile")
    assert error_of(info)[0] == "NoSuchEntity"

    iam.delete_instance_profile(InstanceProfileName=name)
    # A new profile of the same name starts without the old one's tags.
    assert "Tags" not in iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert iam.list_instance_profile_tags(InstanceProfileName=name)["Tags"] == []
    iam.delete_instance_profile(InstanceProfileName=name)


def test_authorization(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    _, creds = make_user(server)
    weak = server.client("iam", creds)
    for call in (
        lambda: weak.create_instance_profile(InstanceProfileName=random_name("p")),
        lambda: weak.list_instance_profiles(),
        lambda: weak.get_instance_profile(InstanceProfileName="no-such-profile"),  # denied before NoSuchEntity
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info)[0] == "AccessDenied"

    # Scoped to one path: allowed there, denied elsewhere.
    path = f"/{random_name('app')}/"
    account = server.account_id
    mine = f"arn:aws:iam::{account}:instance-profile{path}*"
    role = make_role(iam, path)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            allow(["iam:*InstanceProfile*"], mine)["Statement"][0],
            allow("iam:ListInstanceProfiles", f"arn:aws:iam::{account}:instance-profile{path}")["Statement"][0],
        ],
    }
    _, scoped_creds = make_user(server, policy)
    scoped = server.client("iam", scoped_creds)
    name = random_name("p")
    scoped.create_instance_profile(InstanceProfileName=name, Path=path)
    assert [p["InstanceProfileName"] for p in scoped.list_instance_profiles(PathPrefix=path)["InstanceProfiles"]] == [name]
    with pytest.raises(ClientError) as info:
        scoped.create_instance_profile(InstanceProfileName=random_name("p"), Path="/other/")
    assert error_of(info)[0] == "AccessDenied"
    # AddRoleToInstanceProfile also needs iam:PassRole on the role, as AWS requires.
    with pytest.raises(ClientError) as info:
        scoped.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    code, message, _ = error_of(info)
    assert code == "AccessDenied" and "iam:PassRole" in message and role["Arn"] in message

    passer_policy = {
        "Version": "2012-10-17",
        "Statement": [
            *policy["Statement"],
            allow("iam:PassRole", role["Arn"], Condition={
                "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"},
            })["Statement"][0],
        ],
    }
    _, passer_creds = make_user(server, passer_policy)
    passer = server.client("iam", passer_creds)
    passer.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    assert passer.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"][0]["RoleName"] == role["RoleName"]
    passer.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    passer.delete_instance_profile(InstanceProfileName=name)
    iam.delete_role(RoleName=role["RoleName"])


def test_account_reports(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    before = iam.get_account_summary()["SummaryMap"]["InstanceProfiles"]
    role = make_role(iam)
    name = random_name("profile")
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    assert iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] == before + 1

    details = [
        r for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=["Role"])
        for r in page["RoleDetailList"] if r["RoleName"] == role["RoleName"]
    ]
    (detail,) = details
    (listed,) = detail["InstanceProfileList"]
    assert listed["InstanceProfileName"] == name and listed["InstanceProfileId"] == profile["InstanceProfileId"]
    assert listed["Arn"] == profile["Arn"] and [r["RoleId"] for r in listed["Roles"]] == [role["RoleId"]]

    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=name)
    iam.delete_role(RoleName=role["RoleName"])
    assert iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] == before


def test_aws_cli(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("cli")
    env = {
        **os.environ, "AWS_ACCESS_KEY_ID": server.root.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.root.secret_access_key, "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    out = subprocess.run(
        ["aws", "--endpoint-url", server.url, "iam", "create-instance-profile", "--instance-profile-name", name,
         "--path", "/cli/", "--tags", "Key=owner,Value=cli", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)["InstanceProfile"]
    assert answer["InstanceProfileName"] == name and answer["Path"] == "/cli/" and answer["Roles"] == []
    assert answer["Tags"] == [{"Key": "owner", "Value": "cli"}]
    assert iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"] == answer["Arn"]
    iam.delete_instance_profile(InstanceProfileName=name)
