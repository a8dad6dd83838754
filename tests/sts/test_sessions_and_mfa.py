"""GetSessionToken with MFA, GetFederationToken for users, and real clients' credential providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import botocore.exceptions
import pyotp
import pytest

from tests.conftest import Credentials, ServerInfo, random_name
from tests.iam.conftest import allow, make_user
from tests.sts.test_assume_role import creds_of, error_of, make_role, trust, user_arn


def enable_mfa(server: ServerInfo, user_name: str) -> tuple[str, pyotp.TOTP]:
    """A virtual MFA device enabled for the user; returns its serial and a TOTP generator."""
    import base64

    iam = server.client("iam")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"))["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    seed_text = seed.decode() if isinstance(seed, bytes) else seed
    try:  # botocore returns the blob decoded; AWS's blob is the base32 text
        base64.b32decode(seed_text)
    except Exception:  # pragma: no cover - defensive: some clients leave it base64-encoded
        seed_text = base64.b64decode(seed_text).decode()
    totp = pyotp.TOTP(seed_text)
    now = time.time()
    iam.enable_mfa_device(
        UserName=user_name, SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now),
    )
    return device["SerialNumber"], totp


def next_code(totp: pyotp.TOTP) -> str:
    """A code for the next 30-second step (accepted: ±1 step of drift), so tests need not wait."""
    return totp.at(time.time() + 30)


def test_get_session_token_for_a_user_without_and_with_mfa(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("iam:ListRoles"))
    sts = server.client("sts", creds)
    plain = creds_of(sts.get_session_token(DurationSeconds=900))
    identity = server.client("sts", plain).get_caller_identity()
    assert identity["Arn"] == user_arn(server, name)
    assert identity["UserId"].startswith("AIDA")
    # Without MFA, session credentials may not call IAM at all.
    assert error_of(server.client("iam", plain).list_roles)["Code"] == "InvalidClientTokenId"

    serial, totp = enable_mfa(server, name)
    with_mfa = creds_of(sts.get_session_token(SerialNumber=serial, TokenCode=next_code(totp)))
    server.client("iam", with_mfa).list_roles()


def test_mfa_codes_are_accepted_once_and_wrong_codes_denied(server: ServerInfo) -> None:
    name, creds = make_user(server)
    serial, totp = enable_mfa(server, name)
    sts = server.client("sts", creds)
    code = next_code(totp)
    sts.get_session_token(SerialNumber=serial, TokenCode=code)
    replay = error_of(lambda: sts.get_session_token(SerialNumber=serial, TokenCode=code))
    assert replay["Code"] == "AccessDenied"
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    assert error_of(lambda: sts.get_session_token(SerialNumber=serial, TokenCode=wrong))["Code"] == "AccessDenied"
    other_name, _ = make_user(server)
    other_serial, other_totp = enable_mfa(server, other_name)
    # Another user's device does not authenticate this user.
    stolen = error_of(lambda: sts.get_session_token(SerialNumber=other_serial, TokenCode=next_code(other_totp)))
    assert stolen["Code"] == "AccessDenied"


def test_mfa_condition_in_trust_policy(clock: ServerInfo) -> None:
    server = clock
    name, creds = make_user(server)
    serial, totp = enable_mfa(server, name)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    sts = server.client("sts", creds)
    assert error_of(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="nomfa"))["Code"] == "AccessDenied"
    sts.assume_role(RoleArn=role_arn, RoleSessionName="withmfa", SerialNumber=serial, TokenCode=next_code(totp))
    # A session made with MFA carries it into AssumeRole. (The server's clock moves 30 s on, so
    # that the next code is inside its window without waiting.)
    server.set_clock_offset(30)
    mfa_session = creds_of(sts.get_session_token(SerialNumber=serial, TokenCode=totp.at(time.time() + 60)))
    server.client("sts", mfa_session).assume_role(RoleArn=role_arn, RoleSessionName="viasession")


def test_mfa_age_and_presence_in_identity_policies(server: ServerInfo) -> None:
    policy = allow("iam:ListRoles", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}, "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})
    name, creds = make_user(server)
    serial, totp = enable_mfa(server, name)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}), policy)
    sts = server.client("sts", creds)
    plain = server.client("iam", creds_of(sts.assume_role(RoleArn=role_arn, RoleSessionName="plain")))
    assert error_of(plain.list_roles)["Code"] == "AccessDenied"
    strong = server.client("iam", creds_of(sts.assume_role(RoleArn=role_arn, RoleSessionName="strong", SerialNumber=serial, TokenCode=next_code(totp))))
    strong.list_roles()


def test_federation_token_intersects_user_and_session_policies(server: ServerInfo) -> None:
    name, creds = make_user(server, allow(["sts:GetFederationToken", "iam:ListRoles", "iam:ListUsers"]))
    sts = server.client("sts", creds)
    response = sts.get_federation_token(Name="fed-user", Policy=json.dumps(allow(["iam:ListRoles", "iam:ListGroups"])))
    federated = creds_of(response)
    assert response["FederatedUser"]["Arn"] == f"arn:aws:sts::{server.account_id}:federated-user/fed-user"
    assert server.client("sts", federated).get_caller_identity()["Arn"] == response["FederatedUser"]["Arn"]
    # Federated credentials may not call IAM at all (AWS rule), whatever the policies say.
    assert error_of(server.client("iam", federated).list_roles)["Code"] == "InvalidClientTokenId"
    # Without sts:GetFederationToken a user cannot federate.
    _, weak = make_user(server)
    error = error_of(lambda: server.client("sts", weak).get_federation_token(Name="nope1"))
    assert error["Code"] == "AccessDenied"
    assert "sts:GetFederationToken" in error["Message"]


def test_aws_cli_profile_assumes_a_role_through_opensts(server: ServerInfo, tmp_path: Path) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}, condition={"StringEquals": {"sts:ExternalId": "cli-ext-id"}}))
    config = tmp_path / "config"
    config.write_text(
        "[profile base]\nregion = us-east-1\n"
        f"[profile admin]\nrole_arn = {role_arn}\nsource_profile = base\nexternal_id = cli-ext-id\n"
        f"endpoint_url = {server.url}\nregion = us-east-1\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[base]\naws_access_key_id = {creds.access_key_id}\naws_secret_access_key = {creds.secret_access_key}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_ENDPOINT_URL=server.url)
    out = subprocess.run([sys.executable, "-m", "awscli", "sts", "get-caller-identity", "--profile", "admin", "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    role_name = role_arn.rsplit("/", 1)[-1]
    assert f":assumed-role/{role_name}/" in json.loads(out.stdout)["Arn"]


def test_boto3_assume_role_provider_refreshes(server: ServerInfo, tmp_path: Path) -> None:
    name, creds = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    script = f"""
import boto3, botocore.session
session = botocore.session.Session()
boto = boto3.Session(botocore_session=session, profile_name="admin")
credentials = boto.get_credentials()
first = credentials.get_frozen_credentials().access_key
# 900-second sessions are always inside botocore's refresh window: each read refreshes.
second = credentials.get_frozen_credentials().access_key
arn = boto.client("sts").get_caller_identity()["Arn"]
print(first != second, first.startswith("ASIA"), second.startswith("ASIA"), arn)
"""
    config = tmp_path / "config"
    config.write_text(
        f"[profile base]\nregion = us-east-1\n[profile admin]\nrole_arn = {role_arn}\nsource_profile = base\n"
        f"duration_seconds = 900\nregion = us-east-1\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[base]\naws_access_key_id = {creds.access_key_id}\naws_secret_access_key = {creds.secret_access_key}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_ENDPOINT_URL=server.url)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    refreshed, first_ok, second_ok, arn = out.stdout.split()
    assert (refreshed, first_ok, second_ok) == ("True", "True", "True")
    assert ":assumed-role/" in arn
