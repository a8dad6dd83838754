"""The audit trail's records have CloudTrail's shape (src/opensts/audit/record.py), over HTTP with boto3.

One OpenSTS server per storage backend (SQLite; PostgreSQL when ``OPENSTS_TEST_POSTGRES_URL`` is set),
with the audit trail on. Each test makes calls, takes the ``x-amzn-RequestId`` the client saw, and
reads the record with that ``requestID`` from the store: ``userIdentity`` of every kind of caller
(Root, IAMUser, AssumedRole, FederatedUser, WebIdentityUser, SAMLUser, Unknown), failed
authentication and failed MFA, ``readOnly``, ``eventSource``, ids, cross-account events, ``/v1/authorize``
decisions, and that an IAM write is committed before its response.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore import UNSIGNED

from tests.authorize.conftest import call as authorize_call
from tests.authorize.conftest import inner_request, instance_arn
from tests.conftest import BACKENDS, Credentials, ServerInfo, random_name, stop_server
from tests.federation import oidc_issuer
from tests.federation.oidc_issuer import CLIENT_ID, register, trust_policy
from tests.federation.oidc_issuer import make_role as web_role
from tests.federation.saml_idp import SamlIdp
from tests.federation.test_saml import create_provider
from tests.federation.test_saml import make_role as saml_role
from tests.iam.conftest import allow, make_user
from tests.server.test_audit_secrets import failure, request_id, start_audited, stored_records
from tests.sts.test_assume_role import creds_of, make_role, trust, user_arn
from tests.sts.test_sessions_and_mfa import enable_mfa, next_code

oidc_pki = oidc_issuer.oidc_pki
oidc_idp = oidc_issuer.oidc_idp

IDP = SamlIdp()
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module", params=BACKENDS)
def audited(request: pytest.FixtureRequest, oidc_pki: oidc_issuer.IssuerPki,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info = start_audited(tmp_path_factory.mktemp("records"), request.param, oidc_pki.ca_path)
    yield info
    stop_server(info)


def records_of(server: ServerInfo, rid: str, count: int = 1, deadline: float = 20.0) -> list[dict[str, Any]]:
    """The ``count`` records of the request ``rid`` (read-only calls are written asynchronously: polled)."""
    stop = time.monotonic() + deadline
    while True:
        found = [r for r in stored_records(server) if r["requestID"] == rid]
        if len(found) >= count:
            assert len(found) == count, found
            return found
        assert time.monotonic() < stop, f"request {rid} not recorded"
        time.sleep(0.1)


def record_of(server: ServerInfo, rid: str) -> dict[str, Any]:
    return records_of(server, rid)[0]


def assert_common(record: dict[str, Any], server: ServerInfo, rid: str, source: str, name: str) -> None:
    assert record["eventVersion"] == "1.09"
    assert record["eventSource"] == f"{source}.amazonaws.com"
    assert record["eventName"] == name
    assert record["requestID"] == rid
    assert TIME.fullmatch(record["eventTime"])
    assert record["awsRegion"] == "us-east-1"
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in record["userAgent"] or "python-httpx" in record["userAgent"]
    assert record["eventType"] == "AwsApiCall" and record["managementEvent"] is True
    assert record["recipientAccountId"] == server.account_id
    assert "tlsDetails" not in record  # plain HTTP


# --- Long-term credentials ------------------------------------------------------------------------------
def test_root_and_iam_user(audited: ServerInfo) -> None:
    server = audited
    rid = request_id(server.client("sts").get_caller_identity())
    record = record_of(server, rid)
    assert_common(record, server, rid, "sts", "GetCallerIdentity")
    assert record["userIdentity"] == {
        "type": "Root", "principalId": server.account_id, "arn": f"arn:aws:iam::{server.account_id}:root",
        "accountId": server.account_id, "accessKeyId": server.root.access_key_id,
    }
    assert record["readOnly"] is True

    name = random_name("user")
    created = server.client("iam").create_user(UserName=name)
    write = record_of(server, request_id(created))
    assert_common(write, server, request_id(created), "iam", "CreateUser")
    assert write["readOnly"] is False
    assert write["requestParameters"]["userName"] == name  # (defaults such as path "/" are shown too)
    assert write["responseElements"]["user"]["arn"] == user_arn(server, name)

    key = server.client("iam").create_access_key(UserName=name)
    user = Credentials(key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])
    assert record_of(server, request_id(key))["readOnly"] is False
    rid = request_id(server.client("sts", user).get_caller_identity())
    identity = record_of(server, rid)["userIdentity"]
    assert identity == {
        "type": "IAMUser", "principalId": created["User"]["UserId"], "arn": user_arn(server, name),
        "accountId": server.account_id, "accessKeyId": user.access_key_id, "userName": name,
    }


def test_event_ids_are_unique(audited: ServerInfo) -> None:
    sts = audited.client("sts")
    rids = [request_id(sts.get_caller_identity()) for _ in range(5)]
    assert len(set(rids)) == 5
    ids = [record_of(audited, rid)["eventID"] for rid in rids]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)


def test_iam_write_is_committed_before_the_response(audited: ServerInfo) -> None:
    created = audited.client("iam").create_role(RoleName=random_name("role"),
                                                AssumeRolePolicyDocument=trust({"AWS": audited.account_id}))
    # Read once, right away: no polling.
    assert request_id(created) in {r["requestID"] for r in stored_records(audited)}


# --- Temporary credentials ------------------------------------------------------------------------------
def test_assumed_role_with_and_without_mfa(audited: ServerInfo) -> None:
    server = audited
    name, user = make_user(server)
    serial, totp = enable_mfa(server, name)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    role_name = role_arn.rsplit("/", 1)[-1]
    sts = server.client("sts", user)
    plain = sts.assume_role(RoleArn=role_arn, RoleSessionName="plain")
    issued = record_of(server, request_id(plain))
    assert_common(issued, server, request_id(plain), "sts", "AssumeRole")
    assert issued["readOnly"] is True  # as CloudTrail records AssumeRole
    assert issued["userIdentity"]["type"] == "IAMUser"
    assert issued["responseElements"]["assumedRoleUser"]["arn"] == plain["AssumedRoleUser"]["Arn"]
    assert issued["responseElements"]["credentials"]["accessKeyId"] == plain["Credentials"]["AccessKeyId"]
    assert {"accountId": server.account_id, "type": "AWS::IAM::Role", "ARN": role_arn} in issued["resources"]

    with_mfa = sts.assume_role(RoleArn=role_arn, RoleSessionName="strong", SerialNumber=serial,
                               TokenCode=next_code(totp))
    for response, session, mfa in ((plain, "plain", "false"), (with_mfa, "strong", "true")):
        creds = creds_of(response)
        rid = request_id(server.client("sts", creds).get_caller_identity())
        identity = record_of(server, rid)["userIdentity"]
        assert identity["type"] == "AssumedRole"
        assert identity["arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/{role_name}/{session}"
        assert identity["principalId"] == response["AssumedRoleUser"]["AssumedRoleId"]
        assert identity["accessKeyId"] == creds.access_key_id and identity["accountId"] == server.account_id
        context = identity["sessionContext"]
        assert context["sessionIssuer"] == {
            "type": "Role", "principalId": response["AssumedRoleUser"]["AssumedRoleId"].split(":")[0],
            "arn": role_arn, "accountId": server.account_id, "userName": role_name,
        }
        assert TIME.fullmatch(context["attributes"]["creationDate"])
        assert context["attributes"]["mfaAuthenticated"] == mfa


def test_federated_user(audited: ServerInfo) -> None:
    server = audited
    name, user = make_user(server, allow("sts:GetFederationToken"))
    response = server.client("sts", user).get_federation_token(Name="bob", Policy=json.dumps(allow("s3:*")))
    issued = record_of(server, request_id(response))
    assert issued["readOnly"] is True and issued["eventName"] == "GetFederationToken"
    creds = creds_of(response)
    identity = record_of(server, request_id(server.client("sts", creds).get_caller_identity()))["userIdentity"]
    assert identity["type"] == "FederatedUser"
    assert identity["arn"] == f"arn:aws:sts::{server.account_id}:federated-user/bob"
    assert identity["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert identity["sessionContext"]["sessionIssuer"]["userName"] == name
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == user_arn(server, name)
    assert identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"


def test_web_identity_user_and_invalid_token(audited: ServerInfo, oidc_idp: oidc_issuer.IssuerServer) -> None:
    server = audited
    issuer = oidc_idp.issuer()
    role_arn = web_role(server, trust_policy(register(server, issuer)))
    anonymous = server.client("sts", signature_version=UNSIGNED)
    response = anonymous.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="web", WebIdentityToken=issuer.token(sub="subject-7"))
    record = record_of(server, request_id(response))
    assert_common(record, server, request_id(response), "sts", "AssumeRoleWithWebIdentity")
    provider = response["Provider"]
    assert record["userIdentity"] == {
        "type": "WebIdentityUser", "principalId": f"{provider}:{CLIENT_ID}:subject-7",
        "userName": "subject-7", "identityProvider": provider,
    }
    assert record["readOnly"] is True
    assert "additionalEventData" not in record

    forged = issuer.token(key=oidc_issuer.new_key(), sub="mallory")
    error = failure(lambda: anonymous.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="web", WebIdentityToken=forged))
    assert error["Error"]["Code"] == "InvalidIdentityToken"
    record = record_of(server, request_id(error))
    assert record["errorCode"] == "InvalidIdentityToken"
    assert record["userIdentity"]["type"] == "WebIdentityUser"
    # Unverified, but named as a verified caller is: by the provider's ARN, audience and subject.
    assert record["userIdentity"] == {
        "type": "WebIdentityUser", "principalId": f"{provider}:{CLIENT_ID}:mallory",
        "userName": "mallory", "identityProvider": provider,
    }
    assert record["additionalEventData"] == {"identityUnverified": True}
    assert record["responseElements"] is None


def test_saml_user(audited: ServerInfo) -> None:
    server = audited
    provider = create_provider(server, IDP)
    role_arn = saml_role(server, provider.arn)
    anonymous = server.client("sts", signature_version=UNSIGNED)
    response = anonymous.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider.arn,
                                               SAMLAssertion=IDP.response(roles=[(role_arn, provider.arn)]))
    record = record_of(server, request_id(response))
    assert_common(record, server, request_id(response), "sts", "AssumeRoleWithSAML")
    assert record["userIdentity"] == {
        "type": "SAMLUser", "principalId": f"{response['NameQualifier']}:{response['Subject']}",
        "userName": response["Subject"], "identityProvider": provider.arn,
    }
    unsigned = IDP.response(sign="none", roles=[(role_arn, provider.arn)])
    error = failure(lambda: anonymous.assume_role_with_saml(
        RoleArn=role_arn, PrincipalArn=provider.arn, SAMLAssertion=unsigned))
    record = record_of(server, request_id(error))
    assert record["errorCode"] == "InvalidIdentityToken"
    assert record["userIdentity"] == {"type": "SAMLUser", "identityProvider": provider.arn}
    assert record["additionalEventData"] == {"identityUnverified": True}


# --- Failures ----------------------------------------------------------------------------------------------
def test_failed_authentication_is_recorded(audited: ServerInfo) -> None:
    server = audited
    name, user = make_user(server)
    unknown = Credentials("AKIA" + "Q" * 16, user.secret_access_key)
    bad_signature = Credentials(user.access_key_id, "x" * 40)
    for creds, code in ((unknown, "InvalidClientTokenId"), (bad_signature, "SignatureDoesNotMatch")):
        error = failure(server.client("sts", creds).get_caller_identity)
        assert error["Error"]["Code"] == code
        record = record_of(server, request_id(error))
        assert_common(record, server, request_id(error), "sts", "GetCallerIdentity")
        assert record["errorCode"] == code and record["errorMessage"]
        assert record["userIdentity"]["type"] == "Unknown"
        assert record["userIdentity"]["accessKeyId"] == creds.access_key_id
    assert record["userIdentity"]["accountId"] == server.account_id  # the bad signature's key is ours


def test_expired_token_is_recorded(audited: ServerInfo) -> None:
    server = audited
    _, user = make_user(server)
    session = creds_of(server.client("sts", user).get_session_token(DurationSeconds=900))
    server.set_clock_offset(1000)
    try:
        error = failure(server.client("sts", session).get_caller_identity)
    finally:
        server.set_clock_offset(0)
    assert error["Error"]["Code"] == "ExpiredToken"
    record = record_of(server, request_id(error))
    assert record["errorCode"] == "ExpiredToken"
    assert record["userIdentity"] == {"type": "Unknown", "accessKeyId": session.access_key_id,
                                      "accountId": server.account_id}


def test_wrong_mfa_code_is_access_denied(audited: ServerInfo) -> None:
    server = audited
    name, user = make_user(server)
    serial, totp = enable_mfa(server, name)
    code = next_code(totp)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    error = failure(lambda: server.client("sts", user).get_session_token(SerialNumber=serial, TokenCode=wrong))
    record = record_of(server, request_id(error))
    assert record["errorCode"] == "AccessDenied"
    assert record["userIdentity"]["type"] == "IAMUser" and record["userIdentity"]["userName"] == name
    assert record["requestParameters"]["mfa"] == {"serialNumber": serial,
                                                  "tokenCode": "HIDDEN_DUE_TO_SECURITY_REASONS"}


# --- Across accounts, and /v1/authorize --------------------------------------------------------------------
def test_cross_account_assume_role_is_recorded_in_both(audited: ServerInfo) -> None:
    server = audited
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    other = json.loads(out.stdout)
    name, user = make_user(server, allow("sts:AssumeRole"))
    other_iam = server.client("iam", Credentials(other["AccessKeyId"], other["SecretAccessKey"]))
    role_arn = other_iam.create_role(RoleName=random_name("shared"), AssumeRolePolicyDocument=trust(
        {"AWS": user_arn(server, name)}))["Role"]["Arn"]
    response = server.client("sts", user).assume_role(RoleArn=role_arn, RoleSessionName="visitor")
    records = records_of(server, request_id(response), count=2)
    by_account = {r["recipientAccountId"]: r for r in records}
    assert set(by_account) == {server.account_id, other["AccountId"]}
    assert records[0]["sharedEventID"] == records[1]["sharedEventID"]
    assert records[0]["eventID"] != records[1]["eventID"]
    for record in records:
        assert record["userIdentity"]["accountId"] == server.account_id
        assert record["requestParameters"]["roleArn"] == role_arn


def test_authorize_decisions_are_recorded(audited: ServerInfo) -> None:
    server = audited
    _, allowed = make_user(server, allow("ec2:StopInstances"))
    name, denied = make_user(server)
    resource = instance_arn(server.account_id)
    for creds, decision in ((allowed, "Allow"), (denied, "Deny")):
        answer = authorize_call(server, {"request": inner_request(creds), "action": "ec2:StopInstances",
                                         "resource": resource})
        assert answer.status_code == 200 and answer.json()["decision"] == decision
        record = record_of(server, answer.headers["x-amzn-RequestId"])
        assert record["eventSource"] == "ec2.amazonaws.com" and record["eventName"] == "StopInstances"
        assert record["userIdentity"]["type"] == "IAMUser"
        assert record["userIdentity"]["accessKeyId"] == creds.access_key_id
        assert record["requestParameters"] == {"action": "ec2:StopInstances", "resource": resource}
        assert record["additionalEventData"]["decision"] == decision
        assert record["additionalEventData"]["askedBy"] == f"arn:aws:iam::{server.account_id}:root"
        assert record["readOnly"] is False
        assert record["recipientAccountId"] == server.account_id
        assert {"accountId": server.account_id, "type": "AWS::EC2::Instance", "ARN": resource} in record["resources"]
        if decision == "Deny":
            assert record["errorCode"] == "AccessDenied"
        else:
            assert "errorCode" not in record
