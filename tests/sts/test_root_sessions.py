"""Temporary credentials of the account root: GetSessionToken and GetFederationToken."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import botocore.exceptions
import pytest

from opensts.identity.ids import account_from_access_key_id
from tests.conftest import Credentials, ServerInfo


def creds_of(response: dict) -> Credentials:
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def test_root_get_session_token_is_capped_at_one_hour(server: ServerInfo) -> None:
    response = server.client("sts").get_session_token(DurationSeconds=7200)
    expiration = response["Credentials"]["Expiration"]
    assert expiration - datetime.now(timezone.utc) <= timedelta(seconds=3600 + 60)
    key_id = response["Credentials"]["AccessKeyId"]
    assert key_id.startswith("ASIA") and account_from_access_key_id(key_id) == server.account_id
    identity = server.client("sts", creds_of(response)).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{server.account_id}:root"


def test_session_credentials_cannot_get_session_tokens(server: ServerInfo) -> None:
    session = server.client("sts", creds_of(server.client("sts").get_session_token()))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        session.get_session_token()
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_session_credentials_without_mfa_cannot_call_iam(server: ServerInfo) -> None:
    iam = server.client("iam", creds_of(server.client("sts").get_session_token()))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        iam.list_users()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_root_federation_token(server: ServerInfo) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]}
    response = server.client("sts").get_federation_token(Name="bob", Policy=json.dumps(policy))
    assert response["FederatedUser"] == {
        "FederatedUserId": f"{server.account_id}:bob",
        "Arn": f"arn:aws:sts::{server.account_id}:federated-user/bob",
    }
    assert 0 < response["PackedPolicySize"] <= 100
    federated = server.client("sts", creds_of(response))
    assert federated.get_caller_identity()["UserId"] == f"{server.account_id}:bob"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        federated.get_session_token()
    assert info.value.response["Error"]["Code"] == "AccessDenied"


def test_expired_session_is_rejected(clock: ServerInfo) -> None:
    session = creds_of(clock.client("sts").get_session_token(DurationSeconds=900))
    clock.set_clock_offset(901)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        clock.client("sts", session).get_caller_identity()
    assert info.value.response["Error"]["Code"] == "ExpiredToken"


def test_tampered_session_token_is_rejected(server: ServerInfo) -> None:
    session = creds_of(server.client("sts").get_session_token())
    token = session.session_token or ""
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        server.client("sts", Credentials(session.access_key_id, session.secret_access_key, flipped)).get_caller_identity()
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"Name": "b" * 33}, "Member must have length less than or equal to 32"),
        ({"Name": "bad name"}, "Member must satisfy regular expression pattern"),
        ({"Name": "bob", "DurationSeconds": 129601}, "Member must have value less than or equal to 129600"),
    ],
)
def test_federation_token_validation(server: ServerInfo, kwargs: dict, fragment: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        server.client("sts").get_federation_token(**kwargs)
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert fragment in info.value.response["Error"]["Message"]


def test_root_cannot_assume_roles(server: ServerInfo) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        server.client("sts").assume_role(RoleArn=f"arn:aws:iam::{server.account_id}:role/any", RoleSessionName="session")
    assert info.value.response["Error"] == {"Type": "Sender", "Code": "AccessDenied", "Message": "Roles may not be assumed by root accounts."}
