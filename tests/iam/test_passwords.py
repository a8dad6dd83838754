"""Console passwords over HTTP: login profiles, ChangePassword, the password policy enforced on every
password set (AWS's default policy when none is set), reuse prevention, DeleteUser's conflict, and
passwords kept out of every answer and of the audit trail.

Tests that set a password policy work in an account of their own (``opensts account create``), since
the policy is account-wide.
"""

from __future__ import annotations

import json
import time
import os
import subprocess
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, Credentials, ServerInfo, random_name
from tests.iam.conftest import allow, make_user
from tests.server.test_audit_lookup import new_account

GOOD = "Correct-Horse-9"  # meets AWS's default policy (8+ characters, 4 classes)


def error(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.fixture
def account(server: ServerInfo) -> Credentials:
    return new_account(server)


def user_in(server: ServerInfo, root: Credentials, policy: dict | None = None) -> tuple[str, Credentials]:
    """A user with an access key (and an inline policy) in the account of ``root``."""
    iam = server.client("iam", root)
    name = random_name("user")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


# --- Login profiles ------------------------------------------------------------------------------------
def test_login_profile_lifecycle(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("user")
    iam.create_user(UserName=name)
    created = iam.create_login_profile(UserName=name, Password=GOOD, PasswordResetRequired=True)["LoginProfile"]
    assert created["UserName"] == name and created["PasswordResetRequired"] is True
    assert "Password" not in created and "MaxSigninSessionDuration" not in created
    got = iam.get_login_profile(UserName=name)["LoginProfile"]
    assert got["CreateDate"] == created["CreateDate"] and got["PasswordResetRequired"] is True

    assert error(lambda: iam.create_login_profile(UserName=name, Password=GOOD)) == (
        "EntityAlreadyExists", f"Login Profile for user {name} already exists.")

    iam.update_login_profile(UserName=name, PasswordResetRequired=False, MaxSigninSessionDuration=7200)
    got = iam.get_login_profile(UserName=name)["LoginProfile"]
    assert got["PasswordResetRequired"] is False and got["MaxSigninSessionDuration"] == 7200
    code, _ = error(lambda: iam.update_login_profile(
        UserName=name, MaxSigninSessionDuration=7200, ResetMaxSigninSessionDuration=True))
    assert code == "InvalidInput"
    iam.update_login_profile(UserName=name, ResetMaxSigninSessionDuration=True, Password="Another-Pass-1")
    assert "MaxSigninSessionDuration" not in iam.get_login_profile(UserName=name)["LoginProfile"]

    # DeleteUser is refused while the password exists, with AWS's message.
    assert error(lambda: iam.delete_user(UserName=name)) == (
        "DeleteConflict", "Cannot delete entity, must delete login profile first.")
    iam.delete_login_profile(UserName=name)
    assert error(lambda: iam.get_login_profile(UserName=name)) == (
        "NoSuchEntity", f"Login Profile for User {name} cannot be found.")
    assert error(lambda: iam.delete_login_profile(UserName=name))[0] == "NoSuchEntity"
    assert error(lambda: iam.update_login_profile(UserName=name, Password=GOOD))[0] == "NoSuchEntity"
    iam.delete_user(UserName=name)
    assert error(lambda: iam.get_login_profile(UserName=name)) == (
        "NoSuchEntity", f"The user with name {name} cannot be found.")


def test_validation(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("user")
    iam.create_user(UserName=name)
    code, message = error(lambda: iam.create_login_profile(UserName=name, Password="x" * 129))
    assert code == "ValidationError" and "x" * 20 not in message  # a secret value is never quoted
    raw = server.client("iam", parameter_validation=False)
    assert error(lambda: raw.create_login_profile(UserName=name, Password=GOOD, MaxSigninSessionDuration=60))[0] \
        == "ValidationError"
    assert error(lambda: raw.create_login_profile(UserName=name, Password=""))[0] == "ValidationError"
    # The root has no password here and no AssumeRoot session: it must name the user.
    assert error(lambda: iam.get_login_profile())[0] == "ValidationError"


def test_default_policy_applies_without_a_policy(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    name = random_name("user")
    iam.create_user(UserName=name)
    for weak in ("Short-1", "alllowercase", "lowercase-only", "NoDigitsOrSymbols"):
        assert error(lambda: iam.create_login_profile(UserName=name, Password=weak)) == (
            "PasswordPolicyViolation", "Password does not conform to the account password policy.")
    iam.create_login_profile(UserName=name, Password="lower-and-1")  # 3 classes of 4, 11 characters
    assert error(lambda: iam.update_login_profile(UserName=name, Password="weakweak"))[0] == "PasswordPolicyViolation"


def test_custom_policy_is_enforced_on_every_password_set(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    iam.update_account_password_policy(MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True,
                                       RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
                                       AllowUsersToChangePassword=True)
    name, creds = user_in(server, account)
    for weak in ("Sh0rt!x", "no-upper-case-12", "NO-LOWER-CASE-12", "No-Digits-Here!", "NoSymbols12345"):
        assert error(lambda: iam.create_login_profile(UserName=name, Password=weak))[0] == "PasswordPolicyViolation"
    iam.create_login_profile(UserName=name, Password="Valid-Passw0rd")
    assert error(lambda: iam.update_login_profile(UserName=name, Password="short"))[0] == "PasswordPolicyViolation"
    me = server.client("iam", creds)
    assert error(lambda: me.change_password(OldPassword="Valid-Passw0rd", NewPassword="weak"))[0] == \
        "PasswordPolicyViolation"
    # A policy with only a minimum length lets anything that long through.
    iam.update_account_password_policy(MinimumPasswordLength=6)
    iam.update_login_profile(UserName=name, Password="aaaaaa")


def test_password_reuse_prevention(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    iam.update_account_password_policy(PasswordReusePrevention=2, AllowUsersToChangePassword=True)
    name, creds = user_in(server, account)
    me = server.client("iam", creds)
    iam.create_login_profile(UserName=name, Password="first-pass-1")
    # The current password counts among the previous ones.
    assert error(lambda: me.change_password(OldPassword="first-pass-1", NewPassword="first-pass-1"))[0] == \
        "PasswordPolicyViolation"
    me.change_password(OldPassword="first-pass-1", NewPassword="second-pass-2")
    assert error(lambda: iam.update_login_profile(UserName=name, Password="first-pass-1"))[0] == \
        "PasswordPolicyViolation"
    iam.update_login_profile(UserName=name, Password="third-pass-3")
    # Two passwords later, the first may be used again.
    me.change_password(OldPassword="third-pass-3", NewPassword="first-pass-1")
    # Deleting and re-creating the profile does not clear the history.
    iam.delete_login_profile(UserName=name)
    assert error(lambda: iam.create_login_profile(UserName=name, Password="third-pass-3"))[0] == \
        "PasswordPolicyViolation"


# --- ChangePassword ----------------------------------------------------------------------------------
def test_change_password_needs_permission_or_the_account_grant(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    name, creds = user_in(server, account)
    iam.create_login_profile(UserName=name, Password=GOOD, PasswordResetRequired=True)
    me = server.client("iam", creds)
    code, message = error(lambda: me.change_password(OldPassword=GOOD, NewPassword="New-Passw0rd"))
    assert code == "AccessDenied" and "iam:ChangePassword" in message
    assert error(me.get_account_password_policy)[0] == "AccessDenied"

    # AllowUsersToChangePassword grants every user ChangePassword on itself and GetAccountPasswordPolicy.
    iam.update_account_password_policy(AllowUsersToChangePassword=True)
    assert me.get_account_password_policy()["PasswordPolicy"]["AllowUsersToChangePassword"] is True
    assert error(lambda: me.change_password(OldPassword="wrong-one-1", NewPassword="New-Passw0rd")) == (
        "AccessDenied", "Either user is not authorized to perform iam:ChangePassword or entered password is not valid")
    me.change_password(OldPassword=GOOD, NewPassword="New-Passw0rd")
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    # The grant covers the user's own password only: other users' profiles still need a policy.
    assert error(lambda: me.get_login_profile(UserName=name))[0] == "AccessDenied"

    # An explicit Deny still wins over the account's grant.
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(deny))
    code, message = error(lambda: me.change_password(OldPassword="New-Passw0rd", NewPassword="Newer-Passw0rd"))
    assert code == "AccessDenied" and "explicit deny" in message

    # The grant is one more identity-policy Allow, no more: a permissions boundary that does not
    # allow ChangePassword still stops it.
    iam.delete_user_policy(UserName=name, PolicyName="deny")
    boundary = iam.create_policy(PolicyName=f"only-s3-{name}", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    code, message = error(lambda: me.change_password(OldPassword="New-Passw0rd", NewPassword="Newer-Passw0rd"))
    assert code == "AccessDenied" and "iam:ChangePassword" in message
    iam.delete_user_permissions_boundary(UserName=name)
    me.change_password(OldPassword="New-Passw0rd", NewPassword="Newer-Passw0rd")


def test_change_password_with_an_identity_policy(server: ServerInfo) -> None:
    name, creds = make_user(server, allow(["iam:ChangePassword", "iam:GetLoginProfile"],
                                          f"arn:aws:iam::{server.account_id}:user/${{aws:username}}"))
    server.client("iam").create_login_profile(UserName=name, Password=GOOD)
    me = server.client("iam", creds)
    me.change_password(OldPassword=GOOD, NewPassword="Brand-New-1")
    # UserName omitted: the calling user's own profile.
    assert me.get_login_profile()["LoginProfile"]["UserName"] == name
    # Without a login profile: NoSuchEntity.
    server.client("iam").delete_login_profile(UserName=name)
    assert error(lambda: me.change_password(OldPassword="Brand-New-1", NewPassword="Brand-New-2"))[0] == "NoSuchEntity"


def test_change_password_is_for_iam_users_only(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    assert error(lambda: iam.change_password(OldPassword=GOOD, NewPassword="Brand-New-1"))[0] == "InvalidUserType"
    role = random_name("role")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": server.account_id},
                                                     "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(allow("iam:*")))
    _, creds = make_user(server, allow("sts:AssumeRole"))
    session = server.client("sts", creds).assume_role(
        RoleArn=f"arn:aws:iam::{server.account_id}:role/{role}", RoleSessionName="sess")["Credentials"]
    as_role = server.client("iam", Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]))
    assert error(lambda: as_role.change_password(OldPassword=GOOD, NewPassword="Brand-New-1"))[0] == "InvalidUserType"


# --- Authorization, CLI, audit --------------------------------------------------------------------------
def test_profiles_are_authorized_before_anything_is_said(server: ServerInfo) -> None:
    name, creds = make_user(server)
    weak = server.client("iam", creds)
    for call in (lambda: weak.create_login_profile(UserName=name, Password=GOOD),
                 lambda: weak.get_login_profile(UserName="no-such-user-here"),
                 lambda: weak.update_login_profile(UserName=name, Password=GOOD),
                 lambda: weak.delete_login_profile(UserName=name)):
        assert error(call)[0] == "AccessDenied"


def test_aws_cli_and_the_audit_trail_never_see_the_password(server: ServerInfo, account: Credentials) -> None:
    iam = server.client("iam", account)
    name = random_name("user")
    iam.create_user(UserName=name)
    secret = "Cli-Secret-Passw0rd"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": account.access_key_id,
           "AWS_SECRET_ACCESS_KEY": account.secret_access_key, "AWS_DEFAULT_REGION": REGION,
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null"}
    env.pop("AWS_SESSION_TOKEN", None)
    out = subprocess.run(["aws", "--endpoint-url", server.url, "iam", "create-login-profile", "--user-name", name,
                          "--password", secret, "--password-reset-required", "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    profile = json.loads(out.stdout)["LoginProfile"]
    assert profile["UserName"] == name and profile["PasswordResetRequired"] is True
    assert secret not in out.stdout

    # IAM writes are recorded before their answer: the event is there, its password redacted.
    events = server.client("cloudtrail", account).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateLoginProfile"}])["Events"]
    assert events and all(secret not in e["CloudTrailEvent"] for e in events)
    params = json.loads(events[0]["CloudTrailEvent"])["requestParameters"]
    assert params["userName"] == name and params["password"] == "HIDDEN_DUE_TO_SECURITY_REASONS"


def test_guessing_the_old_password_is_slowed_down(server: ServerInfo, account: Credentials) -> None:
    """Someone holding a user's access key cannot use ChangePassword to guess its console password:
    beyond 10 wrong tries the user's password is blocked for a doubling delay, during which even
    the right one is answered Throttling without being checked."""
    iam = server.client("iam", account)
    iam.update_account_password_policy(AllowUsersToChangePassword=True)
    name, creds = user_in(server, account)
    iam.create_login_profile(UserName=name, Password=GOOD)
    me = server.client("iam", creds)
    outcomes: list[str] = []
    while outcomes.count("AccessDenied") < 14:  # 14 wrong passwords checked, waiting out each block
        outcomes.append(error(lambda: me.change_password(OldPassword=f"Guess-{len(outcomes)}-Horse", NewPassword="New-Passw0rd"))[0])
        if outcomes[-1] == "Throttling":
            time.sleep(0.25)
        assert len(outcomes) < 200
    assert outcomes[:11] == ["AccessDenied"] * 11  # the free tries, then the first blocked one is still checked
    assert "Throttling" in outcomes  # blocked in between (1 s, 2 s, 4 s)
    # Now blocked for 2**(14-10-1) = 8 s: the right password waits too, unchecked.
    assert error(lambda: me.change_password(OldPassword=GOOD, NewPassword="New-Passw0rd"))[0] == "Throttling"
