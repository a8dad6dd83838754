"""Account settings over HTTP: the account password policy (Get/Update/Delete), account aliases
(one per account, unique across every account of the server) and SetSecurityTokenServicePreferences.
Each test works in accounts of its own (``opensts account create``): these settings are account-wide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REGION, Credentials, ServerInfo
from tests.iam.conftest import allow


def error(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def new_account(server: ServerInfo) -> tuple[str, Credentials]:
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    return created["AccountId"], Credentials(created["AccessKeyId"], created["SecretAccessKey"])


@pytest.fixture
def account(server: ServerInfo) -> tuple[str, Credentials]:
    return new_account(server)


def weak_user(server: ServerInfo, root: Credentials, policy: dict | None = None) -> Credentials:
    iam = server.client("iam", root)
    name = f"user-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def alias() -> str:
    return f"team-{uuid.uuid4().hex[:12]}"


# --- Password policy -------------------------------------------------------------------------------------
def test_password_policy_lifecycle_and_defaults(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    account_id, root = account
    iam = server.client("iam", root)
    assert error(iam.get_account_password_policy) == (
        "NoSuchEntity", f"The Password Policy with domain name {account_id} cannot be found.")
    assert error(iam.delete_account_password_policy)[0] == "NoSuchEntity"

    # Every member left out takes AWS's default; the optional ones are then left out of the answer.
    iam.update_account_password_policy()
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6, "RequireSymbols": False, "RequireNumbers": False,
        "RequireUppercaseCharacters": False, "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False, "ExpirePasswords": False,
    }
    iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True, RequireNumbers=True,
                                       RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
                                       AllowUsersToChangePassword=True, MaxPasswordAge=90,
                                       PasswordReusePrevention=24, HardExpiry=False)
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 14, "RequireSymbols": True, "RequireNumbers": True,
        "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True, "ExpirePasswords": True, "MaxPasswordAge": 90,
        "PasswordReusePrevention": 24, "HardExpiry": False,
    }
    # No partial updates: what is left out goes back to its default.
    iam.update_account_password_policy(RequireNumbers=True)
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 6 and policy["RequireNumbers"] and not policy["ExpirePasswords"]
    assert "MaxPasswordAge" not in policy and "PasswordReusePrevention" not in policy

    iam.delete_account_password_policy()
    assert error(iam.get_account_password_policy)[0] == "NoSuchEntity"


def test_password_policy_limits(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    _, root = account
    raw = server.client("iam", root, parameter_validation=False)
    for bad in ({"MinimumPasswordLength": 5}, {"MinimumPasswordLength": 129}, {"MaxPasswordAge": 0},
                {"MaxPasswordAge": 1096}, {"PasswordReusePrevention": 0}, {"PasswordReusePrevention": 25}):
        assert error(lambda: raw.update_account_password_policy(**bad))[0] == "ValidationError", bad
    assert error(raw.get_account_password_policy)[0] == "NoSuchEntity"  # nothing was stored


def test_password_policy_is_authorized(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    _, root = account
    server.client("iam", root).update_account_password_policy(MinimumPasswordLength=10)
    weak = server.client("iam", weak_user(server, root))
    for call in (weak.get_account_password_policy, weak.update_account_password_policy,
                 weak.delete_account_password_policy):
        code, message = error(call)
        assert code == "AccessDenied" and "on resource: *" in message
    admin = server.client("iam", weak_user(server, root, allow("iam:*AccountPasswordPolicy")))
    assert admin.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 10


# --- Account aliases ------------------------------------------------------------------------------------
def test_aliases_one_per_account_unique_across_accounts(server: ServerInfo) -> None:
    _, first = new_account(server)
    _, second = new_account(server)
    one, two = server.client("iam", first), server.client("iam", second)
    assert one.list_account_aliases()["AccountAliases"] == []

    name = alias()
    one.create_account_alias(AccountAlias=name)
    one.create_account_alias(AccountAlias=name)  # the alias it has already: nothing changes
    assert one.list_account_aliases()["AccountAliases"] == [name]
    assert error(lambda: two.create_account_alias(AccountAlias=name)) == (
        "EntityAlreadyExists", f"The account alias {name} already exists.")
    assert two.list_account_aliases()["AccountAliases"] == []

    # A new alias replaces the old one, which is then free for anyone.
    renamed = alias()
    one.create_account_alias(AccountAlias=renamed)
    assert one.list_account_aliases()["AccountAliases"] == [renamed]
    two.create_account_alias(AccountAlias=name)
    assert two.list_account_aliases()["AccountAliases"] == [name]

    assert error(lambda: one.delete_account_alias(AccountAlias=name)) == (
        "NoSuchEntity", f"The account alias {name} cannot be found.")
    one.delete_account_alias(AccountAlias=renamed)
    assert one.list_account_aliases()["AccountAliases"] == []


def test_alias_pattern(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    _, root = account
    raw = server.client("iam", root, parameter_validation=False)
    for bad in ("ab", "-team", "team-", "te--am", "Team", "team_a", "a" * 64):
        assert error(lambda: raw.create_account_alias(AccountAlias=bad))[0] == "ValidationError", bad
    assert raw.list_account_aliases()["AccountAliases"] == []


def test_aliases_are_authorized(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    _, root = account
    weak = server.client("iam", weak_user(server, root))
    assert error(lambda: weak.create_account_alias(AccountAlias=alias()))[0] == "AccessDenied"
    assert error(lambda: weak.delete_account_alias(AccountAlias=alias()))[0] == "AccessDenied"
    assert error(weak.list_account_aliases)[0] == "AccessDenied"
    assert error(lambda: weak.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token"))[0] \
        == "AccessDenied"


def test_aws_cli_alias(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    _, root = account
    name = alias()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": root.access_key_id, "AWS_SECRET_ACCESS_KEY": root.secret_access_key,
           "AWS_DEFAULT_REGION": REGION, "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null"}
    env.pop("AWS_SESSION_TOKEN", None)

    def aws(*args: str) -> str:
        out = subprocess.run(["aws", "--endpoint-url", server.url, "iam", *args, "--output", "json"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    aws("create-account-alias", "--account-alias", name)
    assert json.loads(aws("list-account-aliases"))["AccountAliases"] == [name]


# --- STS preferences ----------------------------------------------------------------------------------------
def test_set_security_token_service_preferences(server: ServerInfo, account: tuple[str, Credentials]) -> None:
    _, root = account
    iam = server.client("iam", root)
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2  # reported back
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    raw = server.client("iam", root, parameter_validation=False)
    code, message = error(lambda: raw.set_security_token_service_preferences(GlobalEndpointTokenVersion="v3Token"))
    assert code == "ValidationError" and "v1Token, v2Token" in message
    # Tokens are the same either way: the root still gets working session credentials.
    assert server.client("sts", root).get_session_token()["Credentials"]["SessionToken"]
