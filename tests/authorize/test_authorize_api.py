"""POST /v1/authorize over HTTP, and DecodeAuthorizationMessage."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import time

import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.authorize.conftest import authorize, call, inner_request, instance_arn, role_trusting
from tests.conftest import REGION, Credentials, ServerInfo, random_name
from tests.iam.conftest import allow, make_user

AUTHORIZER_POLICY = allow("opensts:Authorize")


def creds_of(response: dict) -> Credentials:
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def decode(server: ServerInfo, encoded: str, creds: Credentials | None = None) -> dict:
    text = server.client("sts", creds).decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    return json.loads(text)


def conditions(doc: dict) -> dict[str, list[str]]:
    return {c["key"]: [v["value"] for v in c["values"]["items"]] for c in doc["context"]["conditions"]["items"]}


def new_account(server: ServerInfo) -> tuple[str, Credentials]:
    out = subprocess.run([sys.executable, "-m", "opensts", "account", "create"], env=server.env(),
                         capture_output=True, text=True, timeout=60, check=True)
    created = json.loads(out.stdout)
    return created["AccountId"], Credentials(created["AccessKeyId"], created["SecretAccessKey"])


# --- decisions ---------------------------------------------------------------------------------
def test_allow_names_the_principal(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("ec2:StopInstances"))
    answer = authorize(server, creds)
    user = server.client("iam").get_user(UserName=name)["User"]
    assert answer == {"decision": "Allow", "principal": {"arn": user["Arn"], "userId": user["UserId"],
                                                         "account": server.account_id, "type": "User"}}


def test_implicit_deny_carries_a_message(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("ec2:DescribeInstances"))
    answer = authorize(server, creds)
    assert answer["decision"] == "Deny" and "error" not in answer
    assert answer["principal"]["arn"].endswith(f":user/{name}")
    assert len(answer["encodedMessage"]) <= 10240
    doc = decode(server, answer["encodedMessage"])
    assert doc["allowed"] is False and doc["explicitDeny"] is False
    assert doc["context"]["action"] == "ec2:StopInstances"
    assert doc["context"]["resource"] == instance_arn(server.account_id)
    assert doc["context"]["principal"]["arn"] == answer["principal"]["arn"]
    keys = conditions(doc)
    assert keys["aws:PrincipalType"] == ["User"] and keys["aws:username"] == [name]
    assert keys["aws:RequestedRegion"] == [REGION] and keys["aws:SecureTransport"] == ["false"]
    assert "aws:CurrentTime" in keys and "aws:MultiFactorAuthPresent" not in keys  # long-term keys: absent


def test_explicit_deny(server: ServerInfo) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Sid": "NoStop", "Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*"}]}
    _, creds = make_user(server, policy)
    answer = authorize(server, creds)
    assert answer["decision"] == "Deny"
    doc = decode(server, answer["encodedMessage"])
    assert doc["explicitDeny"] is True
    assert [(m["statementId"], m["effect"]) for m in doc["matchedStatements"]["items"]] == [("NoStop", "DENY")]
    assert authorize(server, creds, action="ec2:TerminateInstances")["decision"] == "Allow"


def test_mfa_condition_both_ways(server: ServerInfo) -> None:
    policy = allow(["ec2:StopInstances"], Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    name, creds = make_user(server, policy)
    iam, sts = server.client("iam"), server.client("sts", creds)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=random_name("mfa"))["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode())
    now = time.time()
    iam.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"], AuthenticationCode1=totp.at(now - 30),
                          AuthenticationCode2=totp.at(now))
    assert authorize(server, creds)["decision"] == "Deny"  # long-term keys: no MFA key at all
    without = authorize(server, creds_of(sts.get_session_token()))
    assert without["decision"] == "Deny"
    assert conditions(decode(server, without["encodedMessage"]))["aws:MultiFactorAuthPresent"] == ["false"]
    with_mfa = creds_of(sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=totp.at(time.time() + 30)))
    assert authorize(server, with_mfa)["decision"] == "Allow"


def test_permissions_boundary_is_honoured(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("ec2:*"))
    iam = server.client("iam")
    boundary = iam.create_policy(PolicyName=random_name("boundary"),
                                 PolicyDocument=json.dumps(allow("ec2:Describe*")))["Policy"]["Arn"]
    assert authorize(server, creds)["decision"] == "Allow"
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary)
    answer = authorize(server, creds)
    assert answer["decision"] == "Deny"
    assert authorize(server, creds, action="ec2:DescribeInstances", resource="*")["decision"] == "Allow"


def test_session_policies_are_honoured(server: ServerInfo) -> None:
    user_name, user = make_user(server, allow("sts:AssumeRole"))
    iam = server.client("iam")
    role = role_trusting(server, user_name)
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="ec2", PolicyDocument=json.dumps(allow("ec2:*")))
    sts = server.client("sts", user)
    full = creds_of(sts.assume_role(RoleArn=role["Arn"], RoleSessionName="full"))
    answer = authorize(server, full)
    assert answer["decision"] == "Allow"
    assert answer["principal"]["type"] == "AssumedRole"
    assert answer["principal"]["arn"] == f"arn:aws:sts::{server.account_id}:assumed-role/{role['RoleName']}/full"
    limited = creds_of(sts.assume_role(RoleArn=role["Arn"], RoleSessionName="limited",
                                       Policy=json.dumps(allow("ec2:DescribeInstances"))))
    assert authorize(server, limited)["decision"] == "Deny"
    assert authorize(server, limited, action="ec2:DescribeInstances", resource="*")["decision"] == "Allow"


def test_cross_account_resource_policy(server: ServerInfo) -> None:
    other, _ = new_account(server)
    name, creds = make_user(server, allow("ec2:StopInstances"))
    user_arn = f"arn:aws:iam::{server.account_id}:user/{name}"
    resource = instance_arn(other)
    assert authorize(server, creds, resource=resource)["decision"] == "Deny"  # the resource side says nothing
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn},
                                                      "Action": "ec2:StopInstances", "Resource": resource}]}
    assert authorize(server, creds, resource=resource, resourcePolicy=policy)["decision"] == "Allow"
    assert authorize(server, creds, resource=resource, resourcePolicy=json.dumps(policy))["decision"] == "Allow"
    # Both sides must allow across accounts: without the identity policy the resource policy is not enough.
    _, bare = make_user(server, allow("ec2:DescribeInstances"))
    policy["Statement"][0]["Principal"] = {"AWS": server.account_id}
    assert authorize(server, bare, resource=resource, resourcePolicy=policy)["decision"] == "Deny"
    bad = call(server, {"request": inner_request(creds), "action": "ec2:StopInstances", "resource": resource,
                        "resourcePolicy": {"Statement": [{"Effect": "Allow"}]}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "MalformedPolicyDocument"


# --- context -----------------------------------------------------------------------------------
def test_context_keys(server: ServerInfo) -> None:
    name, creds = make_user(server, {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*", "Condition": {
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"},
            "StringEquals": {"ec2:Region": "us-east-1", "aws:PrincipalTag/team": "web", "aws:ResourceTag/env": "dev"}}}]})
    server.client("iam").tag_user(UserName=name, Tags=[{"Key": "team", "Value": "web"}])
    good = {"sourceIp": "10.1.2.3", "secureTransport": True, "context": {"ec2:Region": "us-east-1", "aws:ResourceTag/env": "dev"}}
    assert authorize(server, creds, **good)["decision"] == "Allow"
    for change in ({"sourceIp": "192.0.2.1"}, {"secureTransport": False},
                   {"context": {"ec2:Region": "eu-west-1", "aws:ResourceTag/env": "dev"}},
                   {"context": {"ec2:Region": "us-east-1"}}):
        answer = authorize(server, creds, **{**good, **change})
        assert answer["decision"] == "Deny", change
    doc = decode(server, authorize(server, creds, **{**good, "sourceIp": "192.0.2.1"})["encodedMessage"])
    keys = conditions(doc)
    assert keys["aws:SourceIp"] == ["192.0.2.1"] and keys["aws:PrincipalTag/team"] == ["web"]
    assert keys["ec2:Region"] == ["us-east-1"] and keys["aws:ResourceTag/env"] == ["dev"]


def test_requested_region_comes_from_the_inner_signature(server: ServerInfo) -> None:
    _, creds = make_user(server, allow("ec2:StopInstances", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))
    for region, decision in (("us-east-1", "Deny"), ("eu-west-1", "Allow")):
        payload = {"request": inner_request(creds, region=region), "action": "ec2:StopInstances"}
        assert call(server, payload).json()["decision"] == decision


@pytest.mark.parametrize("key", ["aws:MultiFactorAuthPresent", "aws:SourceIp", "aws:PrincipalArn", "AWS:username",
                                 "aws:PrincipalTag/team", "aws:RequestedRegion", "aws:CurrentTime"])
def test_caller_may_not_supply_aws_keys(server: ServerInfo, key: str) -> None:
    _, creds = make_user(server, allow("ec2:StopInstances"))
    response = call(server, {"request": inner_request(creds), "action": "ec2:StopInstances", "context": {key: "true"}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError" and key in response.json()["error"]["message"]


# --- inner authentication ----------------------------------------------------------------------
def test_bad_inner_signatures(server: ServerInfo) -> None:
    _, creds = make_user(server, allow("ec2:*"))
    cases = []
    wrong = inner_request(Credentials(creds.access_key_id, "x" * 40))
    cases.append((wrong, "SignatureDoesNotMatch"))
    cases.append((inner_request(Credentials("AKIAIOSFODNN7EXAMPLE", "x" * 40)), "InvalidClientTokenId"))
    altered = inner_request(creds)
    altered["body"] = base64.b64encode(b"Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1").decode()
    cases.append((altered, "SignatureDoesNotMatch"))
    unsigned = inner_request(creds)
    unsigned["headers"] = {k: v for k, v in unsigned["headers"].items() if k.lower() != "authorization"}
    cases.append((unsigned, "MissingAuthenticationToken"))
    cases.append((inner_request(creds, service="s3"), "SignatureDoesNotMatch"))  # scoped to another service
    stale = inner_request(creds, offset=-600)
    cases.append((stale, "SignatureDoesNotMatch"))
    session = creds_of(server.client("sts", creds).get_session_token())
    token = session.session_token or ""
    forged = Credentials(session.access_key_id, session.secret_access_key, token[:40] + ("A" if token[40] != "A" else "B") + token[41:])
    cases.append((inner_request(forged), "InvalidClientTokenId"))
    for request, code in cases:
        answer = call(server, {"request": request, "action": "ec2:StopInstances"}).json()
        assert answer["decision"] == "Deny", code
        assert answer["error"]["code"] == code, (code, answer)
        assert "principal" not in answer and "encodedMessage" not in answer


def test_body_sha256_instead_of_body(server: ServerInfo) -> None:
    _, creds = make_user(server, allow("ec2:StopInstances"))
    request = inner_request(creds)
    body = base64.b64decode(request.pop("body"))
    ok = {**request, "bodySha256": hashlib.sha256(body).hexdigest()}
    assert call(server, {"request": ok, "action": "ec2:StopInstances"}).json()["decision"] == "Allow"
    bad = {**request, "bodySha256": hashlib.sha256(body + b"&x=1").hexdigest()}
    assert call(server, {"request": bad, "action": "ec2:StopInstances"}).json()["error"]["code"] == "SignatureDoesNotMatch"
    both = call(server, {"request": {**ok, "body": ""}, "action": "ec2:StopInstances"})
    assert both.status_code == 400


def test_expired_session(clock: ServerInfo) -> None:
    _, creds = make_user(clock, allow("ec2:StopInstances"))
    session = creds_of(clock.client("sts", creds).get_session_token(DurationSeconds=900))
    request = inner_request(session)
    assert call(clock, {"request": request, "action": "ec2:StopInstances"}).json()["decision"] == "Allow"
    clock.set_clock_offset(901)
    answer = call(clock, {"request": request, "action": "ec2:StopInstances"}, offset=901).json()
    assert answer == {"decision": "Deny", "error": {"code": "ExpiredToken",
                                                    "message": "The security token included in the request is expired"}}


# --- the outer call ----------------------------------------------------------------------------
def test_outer_call_needs_opensts_authorize(server: ServerInfo) -> None:
    _, alice = make_user(server, allow("ec2:StopInstances"))
    _, service = make_user(server, AUTHORIZER_POLICY)
    _, other = make_user(server, allow("ec2:*"))
    payload = {"request": inner_request(alice), "action": "ec2:StopInstances"}
    assert call(server, payload, service).json()["decision"] == "Allow"
    denied = call(server, payload, other)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "AccessDenied"
    assert "is not authorized to perform: opensts:Authorize" in denied.json()["error"]["message"]
    limited = allow("opensts:Authorize", Condition={"StringLike": {"opensts:RequestedAction": "s3:*"}})
    _, s3_only = make_user(server, limited)
    assert call(server, payload, s3_only).status_code == 403


@pytest.mark.parametrize("problem", ["unsigned", "wrong-secret", "wrong-service", "unknown-key"])
def test_outer_authentication_failures_are_403_json(server: ServerInfo, problem: str) -> None:
    import httpx

    payload = {"request": inner_request(server.root), "action": "ec2:StopInstances"}
    if problem == "unsigned":
        response = httpx.post(server.url + "/v1/authorize", json=payload)
    elif problem == "wrong-secret":
        response = call(server, payload, Credentials(server.root.access_key_id, "y" * 40))
    elif problem == "wrong-service":
        response = call(server, payload, service="sts")
    else:
        response = call(server, payload, Credentials("AKIAIOSFODNN7EXAMPLE", "y" * 40))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    expected = {"unsigned": "MissingAuthenticationToken", "wrong-secret": "SignatureDoesNotMatch",
                "wrong-service": "SignatureDoesNotMatch", "unknown-key": "InvalidClientTokenId"}[problem]
    assert error["code"] == expected and error["message"]


@pytest.mark.parametrize("raw, fragment", [
    (b"{not json", "not valid JSON"),
    (b"[]", "JSON object"),
    (json.dumps({"action": "ec2:StopInstances"}).encode(), "request must be an object"),
    (json.dumps({"request": {}, "action": "StopInstances"}).encode(), "action must look like"),
    (json.dumps({"request": {}, "action": "ec2:StopInstances", "extra": 1}).encode(), "Unknown field: extra"),
    (json.dumps({"request": {"method": "POST", "path": "/", "headers": {}, "body": "%%%"},
                 "action": "ec2:StopInstances"}).encode(), "base64"),
    (json.dumps({"request": {"method": "POST", "path": "/", "headers": {}}, "action": "ec2:StopInstances",
                 "sourceIp": "nope"}).encode(), "sourceIp"),
    # Values of the wrong JSON type (unhashable ones included) are 400s too, never 500s.
    (json.dumps({"request": {"method": [], "path": "/", "headers": {}}, "action": "ec2:StopInstances"}).encode(),
     "request.method"),
    (json.dumps({"request": {"method": "POST", "path": "/", "headers": []}, "action": "ec2:StopInstances"}).encode(),
     "request.headers"),
    (json.dumps({"request": {"method": "POST", "path": "/", "headers": {}}, "action": ["ec2:StopInstances"]}).encode(),
     "action must look like"),
    (json.dumps({"request": {"method": "POST", "path": "/", "headers": {}}, "action": "ec2:StopInstances",
                 "context": {"ec2:Region": {"a": 1}}}).encode(), "values must be strings"),
])
def test_malformed_bodies_are_400_json(server: ServerInfo, raw: bytes, fragment: str) -> None:
    response = call(server, None, raw=raw)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_body_size_is_bounded(server: ServerInfo) -> None:
    response = call(server, None, raw=b" " * (600 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "ValidationError"


# --- DecodeAuthorizationMessage ----------------------------------------------------------------
def denied_message(server: ServerInfo) -> str:
    _, creds = make_user(server, allow("ec2:DescribeInstances"))
    return authorize(server, creds)["encodedMessage"]


def test_decode_needs_permission(server: ServerInfo) -> None:
    encoded = denied_message(server)
    _, nobody = make_user(server, allow("ec2:*"))
    with pytest.raises(ClientError) as denied:
        decode(server, encoded, nobody)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "sts:DecodeAuthorizationMessage" in denied.value.response["Error"]["Message"]
    _, reader = make_user(server, allow("sts:DecodeAuthorizationMessage"))
    assert decode(server, encoded, reader)["allowed"] is False


def test_forged_and_tampered_messages(server: ServerInfo) -> None:
    encoded = denied_message(server)
    flipped = encoded[:30] + ("A" if encoded[30] != "A" else "B") + encoded[31:]
    session_token = server.client("sts").get_session_token()["Credentials"]["SessionToken"]
    forged = base64.urlsafe_b64encode(b"\xa1" + bytes(60)).rstrip(b"=").decode()
    for bad in (flipped, encoded[:-4], encoded + "AAAA", forged, session_token, "not a message", "x" * 10241):
        with pytest.raises(ClientError) as invalid:
            decode(server, bad)
        code = invalid.value.response["Error"]["Code"]
        assert code == ("ValidationError" if len(bad) > 10240 else "InvalidAuthorizationMessageException"), bad[:40]
    assert decode(server, f"  {encoded}\n")["allowed"] is False  # pasted from a terminal


def test_messages_stay_in_their_account(server: ServerInfo) -> None:
    encoded = denied_message(server)
    _, other_root = new_account(server)
    with pytest.raises(ClientError) as invalid:
        decode(server, encoded, other_root)
    assert invalid.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"


def test_absurdly_nested_json_is_a_clean_400(server) -> None:  # type: ignore[no-untyped-def]
    """A recursion bomb in the outer body must not become a 500."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    body = '{"request":' + "[" * 100000 + "]" * 100000 + "}"
    request = AWSRequest(method="POST", url=server.url + "/v1/authorize", data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(BotoCredentials(server.root.access_key_id, server.root.secret_access_key), "opensts", "us-east-1").add_auth(request)
    response = httpx.post(server.url + "/v1/authorize", content=body.encode(), headers=dict(request.headers.items()))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MalformedRequest"
