"""SimulateCustomPolicy / SimulatePrincipalPolicy / GetContextKeysFor* over HTTP with boto3,
checked against expected decisions."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from opensts.errors import ValidationError
from opensts.fields import request_decoder
from opensts.iam.simulation.request import SimulatePrincipalPolicyRequest
from tests.conftest import random_name
from tests.iam.conftest import allow, make_user


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def simulate(iam, policies, actions, **kw):  # type: ignore[no-untyped-def]
    return iam.simulate_custom_policy(PolicyInputList=policies, ActionNames=actions, **kw)["EvaluationResults"]


def decisions(results) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r["EvalActionName"]: r["EvalDecision"] for r in results}


S3_READ = {"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}
DENY_SECRET = {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"}


def test_allowed_implicit_and_explicit_deny(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc(S3_READ, DENY_SECRET)
    results = simulate(iam, [policy], ["s3:GetObject", "s3:PutObject"], ResourceArns=["arn:aws:s3:::public/a"])
    assert decisions(results) == {"s3:GetObject": "allowed", "s3:PutObject": "implicitDeny"}
    get = results[0]
    assert get["EvalResourceName"] == "arn:aws:s3:::public/a"
    assert get["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"
    assert results[1]["MatchedStatements"] == []
    denied = simulate(iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::secret/key"])[0]
    assert denied["EvalDecision"] == "explicitDeny"
    assert [m["SourcePolicyId"] for m in denied["MatchedStatements"]] == ["PolicyInputList.1"]


def test_matched_statement_positions(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc(S3_READ, DENY_SECRET)
    result = simulate(iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::secret/key"])[0]
    (matched,) = result["MatchedStatements"]
    lines = policy.splitlines()
    start, end = matched["StartPosition"], matched["EndPosition"]
    assert lines[start["Line"] - 1][start["Column"] - 1] == "{"
    assert lines[end["Line"] - 1][end["Column"] - 2] == "}"
    assert '"NoSecrets"' in "\n".join(lines[start["Line"] - 1 : end["Line"]])


def test_several_resources_aggregate_to_the_most_restrictive(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc(S3_READ, DENY_SECRET)
    (result,) = simulate(
        iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::public/a", "arn:aws:s3:::secret/b", "arn:aws:s3:::x/c"]
    )
    assert result["EvalDecision"] == "explicitDeny"
    per = {r["EvalResourceName"]: r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]}
    assert per == {"arn:aws:s3:::public/a": "allowed", "arn:aws:s3:::secret/b": "explicitDeny", "arn:aws:s3:::x/c": "allowed"}


def test_default_resource_is_a_pattern(iam) -> None:  # type: ignore[no-untyped-def]
    bucket_only = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    (result,) = simulate(iam, [bucket_only], ["s3:GetObject"])
    assert result["EvalResourceName"] == "*" and result["EvalDecision"] == "allowed"
    assert "ResourceSpecificResults" not in result or result["ResourceSpecificResults"] == []
    # A Deny on part of the resources does not deny "*" as a whole.
    (partial,) = simulate(iam, [doc(S3_READ, DENY_SECRET)], ["s3:GetObject"])
    assert partial["EvalDecision"] == "allowed"


def test_permissions_boundary(iam) -> None:  # type: ignore[no-untyped-def]
    everything = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    boundary = doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    results = simulate(
        iam, [everything], ["s3:GetObject", "iam:CreateUser"], PermissionsBoundaryPolicyInputList=[boundary],
        ResourceArns=["arn:aws:s3:::b/k"],
    )
    by_action = {r["EvalActionName"]: r for r in results}
    assert by_action["s3:GetObject"]["EvalDecision"] == "allowed"
    assert by_action["s3:GetObject"]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] is True
    assert by_action["iam:CreateUser"]["EvalDecision"] == "implicitDeny"
    assert by_action["iam:CreateUser"]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] is False


def test_resource_policy_same_and_cross_account(server, iam) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    caller = f"arn:aws:iam::{account}:user/alice"
    bucket_policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
    })
    nothing = doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})
    (same,) = simulate(
        iam, [nothing], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/k"], ResourcePolicy=bucket_policy, CallerArn=caller
    )
    assert same["EvalDecision"] == "allowed"
    assert same["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert same["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    assert same["EvalDecisionDetails"] == {}

    other = "210987654321" if account != "210987654321" else "123456789012"
    foreign_caller = f"arn:aws:iam::{other}:user/bob"
    foreign_policy = bucket_policy.replace(caller, foreign_caller)
    s3_read = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    kw = dict(ResourceArns=["arn:aws:s3:::b/k"], ResourcePolicy=foreign_policy, CallerArn=foreign_caller, ResourceOwner=account)
    (cross,) = simulate(iam, [s3_read], ["s3:GetObject"], **kw)
    assert cross["EvalDecision"] == "allowed"
    assert cross["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "allowed"}
    (identity_missing,) = simulate(iam, [nothing], ["s3:GetObject"], **kw)
    assert identity_missing["EvalDecision"] == "implicitDeny"
    assert identity_missing["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}
    with pytest.raises(ClientError) as exc:
        simulate(iam, [nothing], ["s3:GetObject"], ResourcePolicy=bucket_policy)
    assert error_code(exc) == "InvalidInput"


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:iam::{a}:user/path/alice",
        "arn:aws:iam::{a}:role/ops",
        "arn:aws:sts::{a}:assumed-role/ops/session-1",
        "arn:aws:sts::{a}:federated-user/fed",
        "arn:aws:iam::{a}:root",
    ],
)
def test_any_principal_arn_as_caller(server, iam, caller: str) -> None:  # type: ignore[no-untyped-def]
    caller = caller.format(a=server.account_id)
    policy = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                  "Condition": {"StringEquals": {"aws:PrincipalArn": caller.replace("sts::{a}:assumed-role/ops/session-1".format(a=server.account_id), "iam::{a}:role/ops".format(a=server.account_id))}}})
    (result,) = simulate(iam, [policy], ["s3:GetObject"], CallerArn=caller)
    assert result["EvalDecision"] == "allowed", result
    assert result["MissingContextValues"] == []


def test_invalid_caller_arn(iam) -> None:  # type: ignore[no-untyped-def]
    for caller in ("not-an-arn", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:policy/p"):
        with pytest.raises(ClientError) as exc:
            simulate(iam, [doc(S3_READ)], ["s3:GetObject"], CallerArn=caller)
        assert error_code(exc) == "InvalidInput"


def test_context_entries_with_types(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc({
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "NumericLessThan": {"s3:max-keys": "10"},
            "Bool": {"aws:SecureTransport": "true"},
            "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
            "ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]},
        },
    })

    def entry(name: str, values: list[str], ctype: str) -> dict:
        return {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": ctype}

    good = [
        entry("aws:SourceIp", ["10.1.2.3"], "ip"),
        entry("s3:max-keys", ["5"], "numeric"),
        entry("aws:SecureTransport", ["True"], "boolean"),
        entry("aws:CurrentTime", ["2030-01-01T00:00:00Z"], "date"),
        entry("aws:TagKeys", ["env", "team"], "stringList"),
    ]
    (result,) = simulate(iam, [policy], ["s3:GetObject"], ContextEntries=good)
    assert result["EvalDecision"] == "allowed" and result["MissingContextValues"] == []

    wrong_ip = [good[0] | {"ContextKeyValues": ["192.168.0.1"]}, *good[1:]]
    assert simulate(iam, [policy], ["s3:GetObject"], ContextEntries=wrong_ip)[0]["EvalDecision"] == "implicitDeny"
    too_many = [good[0], good[1] | {"ContextKeyValues": ["50"]}, *good[2:]]
    assert simulate(iam, [policy], ["s3:GetObject"], ContextEntries=too_many)[0]["EvalDecision"] == "implicitDeny"

    (partial,) = simulate(iam, [policy], ["s3:GetObject"], ContextEntries=good[:2])
    assert partial["EvalDecision"] == "implicitDeny"
    assert partial["MissingContextValues"] == ["aws:CurrentTime", "aws:SecureTransport", "aws:TagKeys"]

    for bad in (entry("s3:max-keys", ["ten"], "numeric"), entry("aws:SourceIp", ["nope"], "ip"),
                entry("aws:SecureTransport", ["yes"], "boolean"), entry("aws:CurrentTime", ["tomorrow"], "date"),
                entry("aws:x-bin", ["***"], "binary"), entry("aws:SourceIp", ["1.1.1.1", "2.2.2.2"], "ip")):
        with pytest.raises(ClientError) as exc:
            simulate(iam, [policy], ["s3:GetObject"], ContextEntries=[bad])
        assert error_code(exc) == "InvalidInput", bad


def test_missing_context_values_only_for_applicable_statements(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"StringEquals": {"ec2:Region": "eu-west-1"}}},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}},
    )
    (result,) = simulate(iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::home/alice/x"])
    assert result["EvalDecision"] == "implicitDeny"
    assert result["MissingContextValues"] == ["aws:MultiFactorAuthPresent", "aws:username"]
    with_context = simulate(
        iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::home/alice/x"],
        ContextEntries=[
            {"ContextKeyName": "aws:username", "ContextKeyValues": ["alice"], "ContextKeyType": "string"},
            {"ContextKeyName": "aws:MultiFactorAuthPresent", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"},
        ],
    )[0]
    assert with_context["EvalDecision"] == "allowed" and with_context["MissingContextValues"] == []
    # The caller's ARN provides aws:username.
    by_caller = simulate(
        iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::home/alice/x"],
        CallerArn="arn:aws:iam::123456789012:user/alice",
    )[0]
    assert by_caller["MissingContextValues"] == ["aws:MultiFactorAuthPresent"]


def test_pagination(iam) -> None:  # type: ignore[no-untyped-def]
    actions = [f"s3:Action{i}" for i in range(5)]
    paginator = iam.get_paginator("simulate_custom_policy")
    seen = []
    for page in paginator.paginate(PolicyInputList=[doc(S3_READ)], ActionNames=actions, PaginationConfig={"PageSize": 2}):
        assert len(page["EvaluationResults"]) <= 2
        seen += [r["EvalActionName"] for r in page["EvaluationResults"]]
    assert seen == actions


def test_invalid_inputs(iam) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        simulate(iam, ['{"Statement": "nope"}'], ["s3:GetObject"])
    assert error_code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        simulate(iam, [doc(S3_READ)], ["GetObject"])
    assert error_code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        simulate(iam, [doc(S3_READ)], ["s3:GetObject"], ResourceOwner="someone")
    assert error_code(exc) == "InvalidInput"


def test_validation_errors_follow_the_members_order() -> None:
    """In-process: the typed request reports AWS's messages in the order of the model's members."""
    with pytest.raises(ValidationError) as exc:
        request_decoder(SimulatePrincipalPolicyRequest)({"ActionNames": ["s3"], "MaxItems": "0"})
    assert exc.value.message == (
        "3 validation errors detected: "
        "Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null; "
        "Value 's3' at 'actionNames.1.member' failed to satisfy constraint: Member must have length greater than or equal to 3; "
        "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_get_context_keys_for_custom_policy(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "x", "s3:prefix": "${aws:userid}"}}},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"AWS:SecureTransport": "false"}}},
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[policy, doc(S3_READ)])["ContextKeyNames"]
    assert {k.lower() for k in keys} == {"aws:principaltag/team", "s3:prefix", "aws:username", "aws:userid", "aws:securetransport"}
    assert len(keys) == 5
    # As written, in document order: a statement's condition keys, then its variables.
    assert keys == ["aws:PrincipalTag/team", "s3:prefix", "aws:username", "aws:userid", "AWS:SecureTransport"]


def test_context_keys_keep_their_first_spelling(iam) -> None:  # type: ignore[no-untyped-def]
    policy = doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${AWS:UserName}/*",
         "Condition": {"StringEquals": {"aws:username": "x", "S3:Prefix": "${aws:userid}"}}},
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"Bool": {"aws:securetransport": "false"}, "StringEquals": {"s3:prefix": "y"}}},
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"]
    assert keys == ["aws:username", "S3:Prefix", "aws:userid", "aws:securetransport"]
    (result,) = simulate(iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/alice/k"])
    assert result["MissingContextValues"] == ["aws:securetransport", "aws:userid", "aws:username", "S3:Prefix"]


def test_a_2008_policy_has_no_variables(iam) -> None:  # type: ignore[no-untyped-def]
    """Under Version 2008-10-17 "${aws:username}" is literal text: the statement reads no variable,
    and applies only to the resource spelled so."""
    policy = json.dumps({"Version": "2008-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]})
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"] == ["aws:SecureTransport"]
    (other,) = simulate(iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::home/alice/x"])
    assert other["EvalDecision"] == "implicitDeny" and other["MissingContextValues"] == []
    (literal,) = simulate(iam, [policy], ["s3:GetObject"], ResourceArns=["arn:aws:s3:::home/${aws:username}/x"])
    assert literal["MissingContextValues"] == ["aws:SecureTransport"]


def test_authorization(server) -> None:  # type: ignore[no-untyped-def]
    _, creds = make_user(server)
    client = server.client("iam", creds)
    with pytest.raises(ClientError) as exc:
        simulate(client, [doc(S3_READ)], ["s3:GetObject"])
    assert error_code(exc) == "AccessDenied"
    assert "iam:SimulateCustomPolicy on resource: *" in exc.value.response["Error"]["Message"]
    _, allowed = make_user(server, allow("iam:SimulateCustomPolicy"))
    assert decisions(simulate(server.client("iam", allowed), [doc(S3_READ)], ["s3:GetObject"])) == {"s3:GetObject": "allowed"}


# --- SimulatePrincipalPolicy ----------------------------------------------------------------------
def test_principal_policy_of_user_with_groups_and_boundary(server, iam) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    user, _ = make_user(server, allow(["s3:*", "iam:*"]))
    group = random_name("grp")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="deny-delete", PolicyDocument=doc(
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}))
    boundary_arn = iam.create_policy(PolicyName=random_name("bnd"), PolicyDocument=doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=user, PermissionsBoundary=boundary_arn)
    user_arn = f"arn:aws:iam::{account}:user/{user}"

    results = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["s3:GetObject", "s3:DeleteObject", "iam:ListUsers"]
    )["EvaluationResults"]
    by_action = {r["EvalActionName"]: r for r in results}
    assert by_action["s3:GetObject"]["EvalDecision"] == "allowed"
    assert {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in by_action["s3:GetObject"]["MatchedStatements"]} >= {("p", "user")}
    assert by_action["s3:DeleteObject"]["EvalDecision"] == "explicitDeny"
    assert by_action["s3:DeleteObject"]["MatchedStatements"] == [
        {"SourcePolicyId": "deny-delete", "SourcePolicyType": "group",
         "StartPosition": by_action["s3:DeleteObject"]["MatchedStatements"][0]["StartPosition"],
         "EndPosition": by_action["s3:DeleteObject"]["MatchedStatements"][0]["EndPosition"]}
    ]
    assert by_action["iam:ListUsers"]["EvalDecision"] == "implicitDeny"
    assert by_action["iam:ListUsers"]["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"] is False

    # A boundary given in the request replaces the attached one; extra policies add to the user's.
    (replaced,) = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["iam:ListUsers"],
        PermissionsBoundaryPolicyInputList=[doc({"Effect": "Allow", "Action": "iam:List*", "Resource": "*"})],
    )["EvaluationResults"]
    assert replaced["EvalDecision"] == "allowed"
    (extra,) = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["s3:GetObject"],
        PolicyInputList=[doc({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"})],
    )["EvaluationResults"]
    assert extra["EvalDecision"] == "explicitDeny"
    assert extra["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"

    keys = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=user_arn,
        PolicyInputList=[doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"s3:prefix": "a"}}})],
    )["ContextKeyNames"]
    assert keys == ["s3:prefix"]


def test_principal_policy_uses_principal_tags_and_username(server, iam) -> None:  # type: ignore[no-untyped-def]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}
    user, _ = make_user(server, policy)
    iam.tag_user(UserName=user, Tags=[{"Key": "team", "Value": "blue"}])
    arn = f"arn:aws:iam::{server.account_id}:user/{user}"
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::home/{user}/x", "arn:aws:s3:::home/other/x"],
    )["EvaluationResults"]
    per = {r["EvalResourceName"]: r["EvalResourceDecision"] for r in results[0]["ResourceSpecificResults"]}
    assert per == {f"arn:aws:s3:::home/{user}/x": "allowed", "arn:aws:s3:::home/other/x": "implicitDeny"}
    assert results[0]["MissingContextValues"] == []


def test_principal_policy_of_role_and_group(server, iam) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    role = random_name("role")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=role, PolicyName="rp", PolicyDocument=doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}))
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{account}:role/{role}", ActionNames=["sqs:SendMessage"]
    )["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "rp"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "role"

    group = random_name("grp")
    iam.create_group(GroupName=group)
    managed = iam.create_policy(PolicyName=random_name("mp"), PolicyDocument=doc({"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}))["Policy"]
    iam.attach_group_policy(GroupName=group, PolicyArn=managed["Arn"])
    (result,) = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{account}:group/{group}", ActionNames=["sns:Publish"]
    )["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == managed["PolicyName"]
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "user-managed"


def test_principal_policy_errors_and_authorization(server, iam) -> None:  # type: ignore[no-untyped-def]
    account = server.account_id
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{account}:user/nobody-{random_name()}", ActionNames=["s3:GetObject"])
    assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{account}:policy/whatever", ActionNames=["s3:GetObject"])
    assert error_code(exc) == "InvalidInput"
    target, _ = make_user(server)
    target_arn = f"arn:aws:iam::{account}:user/{target}"
    _, creds = make_user(server, allow("iam:SimulatePrincipalPolicy", target_arn))
    client = server.client("iam", creds)
    client.simulate_principal_policy(PolicySourceArn=target_arn, ActionNames=["s3:GetObject"])
    other, _ = make_user(server)
    with pytest.raises(ClientError) as exc:
        client.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{account}:user/{other}", ActionNames=["s3:GetObject"])
    assert error_code(exc) == "AccessDenied"
    assert "iam:SimulatePrincipalPolicy" in exc.value.response["Error"]["Message"]
