"""Entities OpenSTS does not have answer truthfully (empty lists, NoSuchEntity), so tools that
clean them up before deleting a user or role — Terraform's AWS provider among them — work."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerInfo, random_name
from tests.iam.conftest import make_user


def code_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_user_side_entities_are_empty(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name, _ = make_user(server)
    assert code_of(lambda: iam.get_login_profile(UserName=name)) == "NoSuchEntity"
    assert code_of(lambda: iam.delete_login_profile(UserName=name)) == "NoSuchEntity"
    assert code_of(lambda: iam.get_login_profile(UserName="nobody-here")) == "NoSuchEntity"


def test_role_side_and_account_entities_are_empty(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = random_name("role")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": server.account_id}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    assert iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"] == []
    assert iam.list_instance_profiles()["InstanceProfiles"] == []
    assert code_of(lambda: iam.list_instance_profiles_for_role(RoleName="no-such-role")) == "NoSuchEntity"
    assert iam.list_account_aliases()["AccountAliases"] == []
    assert code_of(iam.get_account_password_policy) == "NoSuchEntity"
    # A Terraform-style destroy of the role goes through.
    iam.delete_role(RoleName=role)


def test_reads_are_authorized(server: ServerInfo) -> None:
    name, creds = make_user(server)
    weak = server.client("iam", creds)
    assert code_of(lambda: weak.list_instance_profiles()) == "AccessDenied"
    assert code_of(lambda: weak.get_login_profile(UserName=name)) == "AccessDenied"
