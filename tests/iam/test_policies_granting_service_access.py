"""ListPoliciesGrantingServiceAccess over HTTP with boto3: which of a user's (and its groups'),
group's or role's policies allow each service, managed and inline, as AWS answers it."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import random_name
from tests.iam.conftest import allow, make_user
from tests.iam.test_users import error_of


def test_a_users_own_and_group_policies_are_listed_per_service(server, iam) -> None:  # type: ignore[no-untyped-def]
    user, group = random_name("analyst"), random_name("readers")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="own", PolicyDocument=json.dumps(allow(["s3:GetObject", "sts:GetCallerIdentity"])))
    iam.put_group_policy(GroupName=group, PolicyName="shared", PolicyDocument=json.dumps(allow("S?S:*")))
    iam.attach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    user_arn = f"arn:aws:iam::{server.account_id}:user/{user}"

    got = iam.list_policies_granting_service_access(Arn=user_arn, ServiceNamespaces=["s3", "sqs", "iam", "kinesisvideo-x"])
    assert got["IsTruncated"] is False
    by_service = {e["ServiceNamespace"]: e["Policies"] for e in got["PoliciesGrantingServiceAccess"]}
    assert list(by_service) == ["s3", "sqs", "iam", "kinesisvideo-x"]  # as asked
    read_only = {"PolicyName": "ReadOnlyAccess", "PolicyType": "MANAGED", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert by_service["s3"] == [{"PolicyName": "own", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": user}, read_only]
    assert {"PolicyName": "shared", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": group} in by_service["sqs"]
    assert by_service["iam"] == [read_only]
    assert by_service["kinesisvideo-x"] == []

    # A group answers for its own policies only; a role for its own.
    group_arn = f"arn:aws:iam::{server.account_id}:group/{group}"
    got = iam.list_policies_granting_service_access(Arn=group_arn, ServiceNamespaces=["s3"])
    assert [p["PolicyName"] for p in got["PoliciesGrantingServiceAccess"][0]["Policies"]] == ["ReadOnlyAccess"]


def test_unknown_entities_bad_arns_and_authorization(server, iam) -> None:  # type: ignore[no-untyped-def]
    missing = f"arn:aws:iam::{server.account_id}:role/{random_name('nobody')}"
    with pytest.raises(ClientError) as info:
        iam.list_policies_granting_service_access(Arn=missing, ServiceNamespaces=["s3"])
    assert error_of(info)[::2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as info:
        iam.list_policies_granting_service_access(Arn=f"arn:aws:s3:::{'b' * 20}", ServiceNamespaces=["s3"])
    assert error_of(info)[::2] == ("InvalidInput", 400)
    _, creds = make_user(server, allow("iam:ListUsers"))
    weak = server.client("iam", creds)
    with pytest.raises(ClientError) as info:
        weak.list_policies_granting_service_access(Arn=missing, ServiceNamespaces=["s3"])
    assert error_of(info)[::2] == ("AccessDenied", 403)  # before saying whether it exists
