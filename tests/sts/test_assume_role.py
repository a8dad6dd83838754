"""AssumeRole over HTTP with boto3: trust rules, limits, session policies, tags, source identity."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import botocore.exceptions
import pytest

from opensts.identity.ids import account_from_access_key_id
from tests.conftest import Credentials, ServerInfo, random_name
from tests.iam.conftest import allow, make_user


def trust(principal: dict | str, *, actions: str | list[str] = "sts:AssumeRole", condition: dict | None = None) -> str:
    statement: dict = {"Effect": "Allow", "Principal": principal, "Action": actions}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def make_role(server: ServerInfo, trust_policy: str, policy: dict | None = None, **kwargs: object) -> str:
    iam = server.client("iam")
    name = random_name("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy, **kwargs)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


def creds_of(response: dict) -> Credentials:
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def error_of(call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value.response["Error"]


def user_arn(server: ServerInfo, name: str) -> str:
    return f"arn:aws:iam::{server.account_id}:user/{name}"


def test_trust_naming_the_user_suffices_in_the_same_account(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    response = server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="alice-session")
    key_id = response["Credentials"]["AccessKeyId"]
    assert key_id.startswith("ASIA") and account_from_access_key_id(key_id) == server.account_id
    role_name = role_arn.rsplit("/", 1)[-1]
    session_arn = f"arn:aws:sts::{server.account_id}:assumed-role/{role_name}/alice-session"
    assert response["AssumedRoleUser"]["Arn"] == session_arn
    role_id = server.client("iam").get_role(RoleName=role_name)["Role"]["RoleId"]
    assert response["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:alice-session"
    assert response["Credentials"]["Expiration"] - datetime.now(timezone.utc) <= timedelta(seconds=3660)
    assert "PackedPolicySize" not in response
    identity = server.client("sts", creds_of(response)).get_caller_identity()
    assert identity == {**identity, "Arn": session_arn, "UserId": f"{role_id}:alice-session", "Account": server.account_id}


def test_trust_naming_the_account_delegates_to_identity_policy(server: ServerInfo) -> None:
    role_arn = make_role(server, trust({"AWS": server.account_id}))
    _, without = make_user(server)
    error = error_of(lambda: server.client("sts", without).assume_role(RoleArn=role_arn, RoleSessionName="s1"))
    assert error["Code"] == "AccessDenied"
    name, _ = make_user(server)  # any user
    _, with_policy = make_user(server, allow("sts:AssumeRole", role_arn))
    server.client("sts", with_policy).assume_role(RoleArn=role_arn, RoleSessionName="s1")


def test_missing_role_and_refusing_trust_look_the_same(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("sts:AssumeRole", "*"))
    caller = user_arn(server, name)
    other_name, _ = make_user(server)
    refusing = make_role(server, trust({"AWS": user_arn(server, other_name)}))
    missing = f"arn:aws:iam::{server.account_id}:role/does-not-exist"
    sts = server.client("sts", creds)
    for role_arn in (refusing, missing):
        error = error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="probe"))
        assert error == {
            "Type": "Sender",
            "Code": "AccessDenied",
            "Message": f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        }


def test_role_path_must_match(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}), Path="/team/")
    assert ":role/team/" in role_arn
    sts = server.client("sts", creds)
    sts.assume_role(RoleArn=role_arn, RoleSessionName="ok-session")
    wrong = role_arn.replace("/team/", "/")
    assert error_of(lambda: sts.assume_role(RoleArn=wrong, RoleSessionName="nope"))["Code"] == "AccessDenied"


def test_duration_limits(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}), MaxSessionDuration=7200)
    sts = server.client("sts", creds)
    response = sts.assume_role(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7200)
    assert response["Credentials"]["Expiration"] - datetime.now(timezone.utc) > timedelta(seconds=7000)
    error = error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=7201))
    assert error == {**error, "Code": "ValidationError", "Message": "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}
    error = error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="long", DurationSeconds=43201))
    assert error["Code"] == "ValidationError"
    assert "Member must have value less than or equal to 43200" in error["Message"]


def test_role_chaining_is_limited_to_one_hour(server: ServerInfo) -> None:
    name, creds = make_user(server)
    first = make_role(server, trust({"AWS": user_arn(server, name)}), MaxSessionDuration=43200)
    second = make_role(server, trust({"AWS": first}), MaxSessionDuration=43200)
    hop1 = server.client("sts", creds_of(server.client("sts", creds).assume_role(RoleArn=first, RoleSessionName="hop1")))
    error = error_of(lambda: hop1.assume_role(RoleArn=second, RoleSessionName="hop2", DurationSeconds=3601))
    assert error["Message"] == "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    hop1.assume_role(RoleArn=second, RoleSessionName="hop2", DurationSeconds=3600)


def test_external_id_condition(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(
        server, trust({"AWS": user_arn(server, name)}, condition={"StringEquals": {"sts:ExternalId": "ext-123"}})
    )
    sts = server.client("sts", creds)
    assert error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="x1"))["Code"] == "AccessDenied"
    assert error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="x1", ExternalId="wrong-1"))["Code"] == "AccessDenied"
    sts.assume_role(RoleArn=role_arn, RoleSessionName="x1", ExternalId="ext-123")


def test_session_policy_limits_the_role(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}), allow(["iam:ListUsers", "iam:ListRoles"]))
    session_policy = json.dumps(allow("iam:ListRoles"))
    response = server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="limited", Policy=session_policy)
    assert 0 < response["PackedPolicySize"] <= 100
    iam = server.client("iam", creds_of(response))
    iam.list_roles()
    error = error_of(iam.list_users)
    assert error["Code"] == "AccessDenied"
    assert error["Message"].startswith(f"User: {response['AssumedRoleUser']['Arn']} is not authorized to perform: iam:ListUsers")


def test_malformed_session_policy(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    sts = server.client("sts", creds)
    error = error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="m1", Policy='{"Version": "2012-10-17"}'))
    assert error["Code"] == "MalformedPolicyDocument"


def test_role_policy_changes_apply_to_live_sessions_and_deleted_roles_stop_them(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}), allow("iam:ListRoles"))
    role_name = role_arn.rsplit("/", 1)[-1]
    session = server.client("iam", creds_of(server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="live")))
    session.list_roles()
    root = server.client("iam")
    root.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(allow("iam:ListUsers")))
    assert error_of(session.list_roles)["Code"] == "AccessDenied"
    session.list_users()
    root.delete_role_policy(RoleName=role_name, PolicyName="p")
    root.delete_role(RoleName=role_name)
    root.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust({"AWS": user_arn(server, name)}))
    root.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(allow("*")))
    # A new role with the same name is not the role the session was issued for.
    assert error_of(session.list_users)["Code"] == "AccessDenied"


def test_session_tags_need_tag_session_and_feed_principal_tags(server: ServerInfo) -> None:
    name, creds = make_user(server)
    user = {"AWS": user_arn(server, name)}
    no_tagging = make_role(server, trust(user))
    sts = server.client("sts", creds)
    tags = [{"Key": "team", "Value": "blue"}]
    assert error_of(lambda: sts.assume_role(RoleArn=no_tagging, RoleSessionName="t1", Tags=tags))["Code"] == "AccessDenied"
    policy = allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})
    tagging = make_role(server, trust(user, actions=["sts:AssumeRole", "sts:TagSession"]), policy)
    blue = server.client("iam", creds_of(sts.assume_role(RoleArn=tagging, RoleSessionName="t2", Tags=tags)))
    blue.list_roles()
    red = server.client("iam", creds_of(sts.assume_role(RoleArn=tagging, RoleSessionName="t3", Tags=[{"Key": "team", "Value": "red"}])))
    assert error_of(red.list_roles)["Code"] == "AccessDenied"


@pytest.mark.parametrize(
    "tags, transitive, message",
    [
        ([{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}], [], "Duplicate tag keys found. Please note that Tag keys are case insensitive."),
        ([{"Key": "a", "Value": "1"}], ["b"], "The specified transitive tag key must be included in the requested tags."),
    ],
)
def test_session_tag_errors(server: ServerInfo, tags: list, transitive: list, message: str) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}, actions=["sts:AssumeRole", "sts:TagSession"]))
    error = error_of(
        lambda: server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="tags", Tags=tags, TransitiveTagKeys=transitive)
    )
    assert error == {**error, "Code": "InvalidParameterValue", "Message": message}


def test_three_hop_chaining_carries_transitive_tags_and_source_identity(server: ServerInfo) -> None:
    name, creds = make_user(server)
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    check = allow("iam:ListRoles", Condition={"StringEquals": {"aws:PrincipalTag/project": "apollo", "aws:SourceIdentity": "alice"}})
    hop1_role = make_role(server, trust({"AWS": user_arn(server, name)}, actions=actions))
    hop2_role = make_role(server, trust({"AWS": hop1_role}, actions=actions))
    hop3_role = make_role(server, trust({"AWS": hop2_role}, actions=actions), check)
    first = server.client("sts", creds).assume_role(
        RoleArn=hop1_role, RoleSessionName="hop1", SourceIdentity="alice",
        Tags=[{"Key": "project", "Value": "apollo"}, {"Key": "cost", "Value": "1"}], TransitiveTagKeys=["project"],
    )
    assert first["SourceIdentity"] == "alice"
    hop1 = server.client("sts", creds_of(first))
    # Overriding an inherited transitive tag is refused.
    error = error_of(lambda: hop1.assume_role(RoleArn=hop2_role, RoleSessionName="hop2", Tags=[{"Key": "Project", "Value": "x"}]))
    assert error["Code"] == "InvalidParameterValue"
    # The source identity cannot be changed once set.
    assert error_of(lambda: hop1.assume_role(RoleArn=hop2_role, RoleSessionName="hop2", SourceIdentity="mallory"))["Code"] == "AccessDenied"
    second = hop1.assume_role(RoleArn=hop2_role, RoleSessionName="hop2")
    assert second["SourceIdentity"] == "alice"
    third = server.client("sts", creds_of(second)).assume_role(RoleArn=hop3_role, RoleSessionName="hop3")
    assert third["SourceIdentity"] == "alice"
    server.client("iam", creds_of(third)).list_roles()  # project=apollo and alice arrived three hops later


def test_source_identity_needs_set_source_identity(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    sts = server.client("sts", creds)
    assert error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="si", SourceIdentity="alice"))["Code"] == "AccessDenied"
    error = error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="si", SourceIdentity="aws:alice"))
    assert error["Code"] == "ValidationError"


def test_packed_policy_too_large(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}, actions=["sts:AssumeRole", "sts:TagSession"]))
    import secrets as _secrets

    tags = [{"Key": f"k{i}-{_secrets.token_hex(20)}", "Value": _secrets.token_urlsafe(180)[:256]} for i in range(50)]
    error = error_of(lambda: server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="big", Tags=tags))
    assert error["Code"] == "PackedPolicyTooLarge"


def test_validation_errors_use_aws_format(server: ServerInfo) -> None:
    name, creds = make_user(server)
    sts = server.client("sts", creds)
    error = error_of(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{server.account_id}:role/r", RoleSessionName="bad name!"))
    assert error["Code"] == "ValidationError"
    assert error["Message"].startswith("1 validation error detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint:")
    error = error_of(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{server.account_id}:role/r", RoleSessionName="x" * 65, DurationSeconds=50000))
    assert error["Message"].startswith("2 validation errors detected: ")


def test_cross_account_needs_both_sides(server: ServerInfo) -> None:
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(), capture_output=True, text=True, check=True)
    other = json.loads(out.stdout)
    other_root = Credentials(other["AccessKeyId"], other["SecretAccessKey"])
    other_iam = server.client("iam", other_root)
    role_name = random_name("xacct")
    role_arn = other_iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust({"AWS": server.account_id}))["Role"]["Arn"]
    assert f":{other['AccountId']}:" in role_arn
    _, without = make_user(server)
    assert error_of(lambda: server.client("sts", without).assume_role(RoleArn=role_arn, RoleSessionName="xa"))["Code"] == "AccessDenied"
    _, with_policy = make_user(server, allow("sts:AssumeRole", role_arn))
    response = server.client("sts", with_policy).assume_role(RoleArn=role_arn, RoleSessionName="xacct")
    assert account_from_access_key_id(response["Credentials"]["AccessKeyId"]) == other["AccountId"]
    assert server.client("sts", creds_of(response)).get_caller_identity()["Account"] == other["AccountId"]
    # Naming the user in the trust policy is not enough across accounts: the identity side must allow too.
    name, no_policy = make_user(server)
    direct = other_iam.create_role(RoleName=random_name("xdirect"), AssumeRolePolicyDocument=trust({"AWS": user_arn(server, name)}))["Role"]["Arn"]
    assert error_of(lambda: server.client("sts", no_policy).assume_role(RoleArn=direct, RoleSessionName="xa"))["Code"] == "AccessDenied"


def test_assume_role_records_role_last_used(server: ServerInfo) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    role_name = role_arn.rsplit("/", 1)[-1]
    iam = server.client("iam")
    assert iam.get_role(RoleName=role_name)["Role"]["RoleLastUsed"] == {}
    server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="used")
    last_used = iam.get_role(RoleName=role_name)["Role"]["RoleLastUsed"]
    assert last_used["Region"] == "us-east-1"
    assert abs((last_used["LastUsedDate"] - datetime.now(timezone.utc)).total_seconds()) < 120


def test_trust_policies_must_name_existing_principals(server: ServerInfo) -> None:
    iam = server.client("iam")
    ghost = f"arn:aws:iam::{server.account_id}:user/nobody-{random_name()}"
    error = error_of(lambda: iam.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=trust({"AWS": ghost})))
    assert error == {**error, "Code": "MalformedPolicyDocument", "Message": f'Invalid principal in policy: "AWS":"{ghost}"'}
    # Accounts, the account root, sessions and wildcards are not entities: they are kept as written.
    make_role(server, trust({"AWS": [server.account_id, f"arn:aws:iam::{server.account_id}:root"]}))


def test_a_recreated_user_is_not_the_trusted_user(server: ServerInfo) -> None:
    iam = server.client("iam")
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    role_name = role_arn.rsplit("/", 1)[-1]
    user_id = iam.get_user(UserName=name)["User"]["UserId"]
    server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="before")
    iam.delete_access_key(UserName=name, AccessKeyId=creds.access_key_id)
    iam.delete_user(UserName=name)
    # GetRole now shows the deleted principal by its unique id, as AWS does.
    shown = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"]
    assert shown == user_id
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    again = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    error = error_of(lambda: server.client("sts", again).assume_role(RoleArn=role_arn, RoleSessionName="after"))
    assert error["Code"] == "AccessDenied"
    # Writing the trust policy again binds the new user.
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust({"AWS": user_arn(server, name)}))
    server.client("sts", again).assume_role(RoleArn=role_arn, RoleSessionName="rebound")
