"""POST /v1/authorize remembers decisions that read no condition key, per caller.

The memory is kept for the caller's cached policies (in one process-wide cache, bounded as a whole:
tests/unit/test_decision_memo.py) and must be dropped at the next IAM change, must
never hold a decision that depends on the request (conditions, policy variables), and must not
freeze a denial's encodedMessage: each message describes the request it answers. A stale or
shared decision here would grant or refuse access on another request's behalf.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from tests.authorize.conftest import authorize, instance_arn, role_trusting
from tests.authorize.test_authorize_api import conditions, creds_of, decode
from tests.conftest import Credentials, ServerInfo, random_name
from tests.iam.conftest import allow, make_user

STOP = "ec2:StopInstances"
INSIDE, OUTSIDE = "10.1.2.3", "192.0.2.1"


def deny(actions: str | list[str], resources: str | list[str] = "*", **extra: object) -> dict[str, Any]:
    statement = {"Effect": "Deny", "Action": actions, "Resource": resources, **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


def decision(server: ServerInfo, creds: Credentials, **extra: Any) -> str:
    answer = authorize(server, creds, **extra)
    if answer["decision"] == "Deny":
        assert answer["encodedMessage"] and "error" not in answer, answer
    return str(answer["decision"])


# --- remembered decisions end at the next IAM change ---------------------------------------------
def test_remembered_allow_ends_when_the_users_policy_changes(server: ServerInfo) -> None:
    name, creds = make_user(server, allow(STOP))
    iam = server.client("iam")
    assert decision(server, creds) == "Allow"
    assert decision(server, creds) == "Allow"  # may come from memory

    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(deny(STOP)))
    answer = authorize(server, creds)
    assert answer["decision"] == "Deny"
    assert decode(server, answer["encodedMessage"])["explicitDeny"] is True
    assert decision(server, creds) == "Deny"

    iam.delete_user_policy(UserName=name, PolicyName="p")
    answer = authorize(server, creds)
    assert answer["decision"] == "Deny"
    assert decode(server, answer["encodedMessage"])["explicitDeny"] is False  # now nothing allows it

    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(allow(STOP)))
    assert decision(server, creds) == "Allow"  # a remembered Deny ends the same way


def test_remembered_allow_ends_when_the_user_joins_a_denying_group(server: ServerInfo) -> None:
    name, creds = make_user(server, allow(STOP))
    iam = server.client("iam")
    group = random_name("group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="no-stop", PolicyDocument=json.dumps(deny(STOP)))
    assert [decision(server, creds) for _ in range(2)] == ["Allow", "Allow"]
    iam.add_user_to_group(GroupName=group, UserName=name)
    assert [decision(server, creds) for _ in range(2)] == ["Deny", "Deny"]
    iam.remove_user_from_group(GroupName=group, UserName=name)
    assert decision(server, creds) == "Allow"


def test_remembered_allow_of_a_role_session_ends_with_a_new_managed_policy_version(server: ServerInfo) -> None:
    """The change is to a managed policy, not to the caller: every caller's memory must go."""
    user_name, user = make_user(server, allow("sts:AssumeRole"))
    iam = server.client("iam")
    role = role_trusting(server, user_name)
    arn = iam.create_policy(PolicyName=random_name("ec2"), PolicyDocument=json.dumps(allow("ec2:*")))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    session = creds_of(server.client("sts", user).assume_role(RoleArn=role["Arn"], RoleSessionName="worker"))
    assert decision(server, session) == "Allow"
    assert decision(server, session) == "Allow"
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow("ec2:Describe*")), SetAsDefault=True)
    assert decision(server, session) == "Deny"


# --- a decision that reads the context is never remembered ---------------------------------------
def _conditional_allow(server: ServerInfo) -> Credentials:
    return make_user(server, allow(STOP, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))[1]


def _conditional_deny(server: ServerInfo) -> Credentials:
    policy = allow("ec2:*")
    policy["Statement"].append({"Effect": "Deny", "Action": STOP, "Resource": "*",
                                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    return make_user(server, policy)[1]


def _conditional_boundary(server: ServerInfo) -> Credentials:
    name, creds = make_user(server, allow("ec2:*"))
    iam = server.client("iam")
    boundary = allow(STOP, Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    arn = iam.create_policy(PolicyName=random_name("boundary"), PolicyDocument=json.dumps(boundary))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=arn)
    return creds


@pytest.mark.parametrize("setup", [_conditional_allow, _conditional_deny, _conditional_boundary],
                         ids=["identity-allow", "identity-deny", "boundary"])
def test_source_ip_conditions_are_evaluated_on_every_call(
    server: ServerInfo, setup: Callable[[ServerInfo], Credentials]
) -> None:
    creds = setup(server)
    answers = [decision(server, creds, sourceIp=ip) for ip in (INSIDE, OUTSIDE, INSIDE, OUTSIDE, OUTSIDE, INSIDE)]
    assert answers == ["Allow", "Deny", "Allow", "Deny", "Deny", "Allow"]


def test_service_context_conditions_are_evaluated_on_every_call(server: ServerInfo) -> None:
    _, creds = make_user(server, allow(STOP, Condition={"StringEquals": {"ec2:Region": "us-east-1"}}))
    regions = ["us-east-1", "eu-west-1", "us-east-1", "eu-west-1"]
    answers = [decision(server, creds, context={"ec2:Region": region}) for region in regions]
    assert answers == ["Allow", "Deny", "Allow", "Deny"]


def test_policy_variables_are_evaluated_per_caller(server: ServerInfo) -> None:
    """${aws:username} in Resource: the same document gives each user their own instance only."""
    home = instance_arn(server.account_id, "${aws:username}")
    alice_name, alice = make_user(server, allow(STOP, home))
    bob_name, bob = make_user(server, allow(STOP, home))
    for creds, own, other in ((alice, alice_name, bob_name), (bob, bob_name, alice_name)):
        for _ in range(2):
            assert decision(server, creds, resource=instance_arn(server.account_id, own)) == "Allow"
            assert decision(server, creds, resource=instance_arn(server.account_id, other)) == "Deny"


# --- a remembered denial still explains the request it answers -----------------------------------
@pytest.mark.parametrize("explicit", [False, True], ids=["implicit", "explicit"])
def test_remembered_denial_message_lists_this_requests_context(server: ServerInfo, explicit: bool) -> None:
    policy = allow("ec2:DescribeInstances")
    if explicit:
        policy["Statement"].append({"Sid": "NoStop", "Effect": "Deny", "Action": STOP, "Resource": "*"})
    name, creds = make_user(server, policy)
    first = authorize(server, creds, sourceIp=INSIDE, context={"ec2:Region": "us-east-1"})
    second = authorize(server, creds, sourceIp=OUTSIDE, context={"ec2:Region": "eu-west-1"})  # may be remembered
    assert first["decision"] == second["decision"] == "Deny"
    assert first["principal"] == second["principal"]

    doc = decode(server, second["encodedMessage"])
    keys = conditions(doc)
    assert keys["aws:SourceIp"] == [OUTSIDE] and keys["ec2:Region"] == ["eu-west-1"]
    assert keys["aws:username"] == [name] and "aws:CurrentTime" in keys
    assert doc["context"]["action"] == STOP and doc["context"]["resource"] == instance_arn(server.account_id)
    assert doc["allowed"] is False and doc["explicitDeny"] is explicit
    matched = [(m["statementId"], m["effect"]) for m in doc["matchedStatements"]["items"]]
    assert matched == ([("NoStop", "DENY")] if explicit else [])

    earlier = conditions(decode(server, first["encodedMessage"]))  # each message is its own request's
    assert earlier["aws:SourceIp"] == [INSIDE] and earlier["ec2:Region"] == ["us-east-1"]
