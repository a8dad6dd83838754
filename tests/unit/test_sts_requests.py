"""The STS actions' typed requests, in process: the registered decoders and what redaction hides.

The HTTP tests (tests/sts, tests/federation) check the same answers through a server; these call
the decoder the registry built for each action (``ActionSpec.request_type``) with Query parameters
as ``server/query.py`` decodes them.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest

from opensts.api import load_actions
from opensts.errors import ValidationError
from opensts.fields import REDACTED, NoParameters, redacted, request_decoder, secret_fields
from opensts.sts import session_params as sp
from opensts.sts.assume_role import AssumeRoleRequest, AssumeRoleResult
from opensts.sts.credentials import AssumedRoleUser, Credentials
from opensts.sts.federation_token import GetFederationTokenRequest
from opensts.sts.saml import AssumeRoleWithSAMLRequest
from opensts.sts.session_token import GetSessionTokenRequest
from opensts.sts.web_identity import AssumeRoleWithWebIdentityRequest

ROLE_ARN = "arn:aws:iam::123456789012:role/deployer"
SERIAL = "arn:aws:iam::123456789012:mfa/alice"
STS_ACTIONS = {
    "AssumeRole": "assume_role",
    "AssumeRoleWithSAML": "assume_role_with_saml",
    "AssumeRoleWithWebIdentity": "assume_role_with_web_identity",
    "GetSessionToken": "get_session_token",
    "GetFederationToken": "get_federation_token",
    "GetCallerIdentity": "get_caller_identity",
    "GetAccessKeyInfo": "get_access_key_info",
    "DecodeAuthorizationMessage": "decode_authorization_message",
    "GetWebIdentityToken": "get_web_identity_token",
    "GetScopedCredentials": "get_scoped_credentials",
    "AssumeRoot": "assume_root",
    "GetDelegatedAccessToken": "get_delegated_access_token",
}


def decode(action: str, params: dict[str, Any]) -> Any:
    request_type = load_actions()[("sts", action)].request_type
    return request_decoder(request_type)({"Action": action, "Version": "2011-06-15", **params})


def validation_message(action: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        decode(action, params)
    return caught.value.message


def test_every_sts_action_is_a_typed_function_named_after_it() -> None:
    specs = {name: spec for (service, name), spec in load_actions().items() if service == "sts"}
    assert set(specs) == set(STS_ACTIONS)
    for name, spec in specs.items():
        assert spec.request_type is not type(None), name
        assert spec.function.__name__ == STS_ACTIONS[name]
    assert specs["GetCallerIdentity"].request_type is NoParameters


def test_assume_role_decodes_every_parameter() -> None:
    request = decode("AssumeRole", {
        "RoleArn": ROLE_ARN,
        "RoleSessionName": "deploy",
        "DurationSeconds": "900",
        "ExternalId": "ext-1",
        "Policy": '{"Version":"2012-10-17","Statement":[]}',
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "Tags": [{"Key": "team", "Value": "ops"}],
        "TransitiveTagKeys": ["team"],
        "SerialNumber": SERIAL,
        "TokenCode": "123456",
        "SourceIdentity": "alice",
    })
    assert request == AssumeRoleRequest(
        role_arn=ROLE_ARN,
        role_session_name="deploy",
        duration_seconds=900,
        external_id="ext-1",
        policies=sp.SessionPolicies('{"Version":"2012-10-17","Statement":[]}', ("arn:aws:iam::aws:policy/ReadOnlyAccess",)),
        tags=sp.SessionTags((("team", "ops"),), ("team",)),
        mfa=sp.MfaInput(SERIAL, "123456"),
        source_identity="alice",
    )


def test_assume_role_defaults_when_optional_parameters_are_absent() -> None:
    request = decode("AssumeRole", {"RoleArn": ROLE_ARN, "RoleSessionName": "deploy"})
    assert request == AssumeRoleRequest(role_arn=ROLE_ARN, role_session_name="deploy")
    assert request.policies is sp.NO_SESSION_POLICIES and request.tags is sp.NO_SESSION_TAGS
    assert request.mfa is None and request.duration_seconds is None


def test_assume_role_reports_every_failure_in_parameter_order() -> None:
    message = validation_message("AssumeRole", {
        "RoleSessionName": "bad name!",
        "DurationSeconds": "60",
        "TokenCode": "12345",
        "SourceIdentity": "aws:me",
    })
    assert message.split("; ") == [
        "7 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
        "Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        "Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        "Value at 'tokenCode' failed to satisfy constraint: Member must have length greater than or equal to 6",
        "Value null at 'serialNumber' failed to satisfy constraint: Member must not be null when MFA is used",
        "Value 'aws:me' at 'sourceIdentity' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        "Value 'aws:me' at 'sourceIdentity' failed to satisfy constraint: Member must not start with the reserved prefix aws:",
    ]


def test_session_tags_and_policy_arns_are_checked_member_by_member() -> None:
    message = validation_message("GetFederationToken", {
        "Name": "bob",
        "PolicyArns": [{"arn": "short"}],
        "Tags": [{"Key": "bad key!", "Value": "v"}],
    })
    assert message.startswith("2 validation errors detected: Value 'short' at 'policyArns.1.member.arn' ")
    assert "Value 'bad key!' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy" in message
    request = decode("GetFederationToken", {"Name": "bob", "DurationSeconds": "3600"})
    assert request == GetFederationTokenRequest(name="bob", duration_seconds=3600)


def test_get_session_token_needs_both_mfa_parameters() -> None:
    assert decode("GetSessionToken", {}) == GetSessionTokenRequest()
    assert decode("GetSessionToken", {"SerialNumber": SERIAL, "TokenCode": "654321"}).mfa == sp.MfaInput(SERIAL, "654321")
    assert validation_message("GetSessionToken", {"SerialNumber": SERIAL}) == (
        "1 validation error detected: Value null at 'tokenCode' failed to satisfy constraint: "
        "Member must not be null when MFA is used"
    )


def test_web_identity_token_is_checked_as_sent_then_stripped() -> None:
    request = decode("AssumeRoleWithWebIdentity", {
        "RoleArn": ROLE_ARN, "RoleSessionName": "ci", "WebIdentityToken": "a.b.c\n",
    })
    assert isinstance(request, AssumeRoleWithWebIdentityRequest)
    assert request.web_identity_token == "a.b.c"
    message = validation_message("AssumeRoleWithWebIdentity", {"RoleArn": ROLE_ARN, "RoleSessionName": "ci"})
    assert message == (
        "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_saml_request_and_unknown_parameters_are_ignored() -> None:
    request = decode("AssumeRoleWithSAML", {
        "RoleArn": ROLE_ARN,
        "PrincipalArn": "arn:aws:iam::123456789012:saml-provider/idp",
        "SAMLAssertion": "PHNhbWw+",
        "SomethingElse": "x",
    })
    assert request == AssumeRoleWithSAMLRequest(
        role_arn=ROLE_ARN, principal_arn="arn:aws:iam::123456789012:saml-provider/idp", saml_assertion="PHNhbWw+"
    )


def test_get_caller_identity_builds_no_request() -> None:
    spec = load_actions()[("sts", "GetCallerIdentity")]
    decoder = request_decoder(spec.request_type)
    assert decoder({"Action": "GetCallerIdentity"}) is decoder({"Anything": "else"})


def test_get_access_key_info_and_decode_authorization_message() -> None:
    assert decode("GetAccessKeyInfo", {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}).access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert validation_message("GetAccessKeyInfo", {"AccessKeyId": "AKIA-short"}) == (
        "2 validation errors detected: "
        "Value 'AKIA-short' at 'accessKeyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 16; "
        "Value 'AKIA-short' at 'accessKeyId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w]*"
    )
    assert decode("DecodeAuthorizationMessage", {"EncodedMessage": "abc"}).encoded_message == "abc"
    assert validation_message("DecodeAuthorizationMessage", {}).endswith("at 'encodedMessage' failed to "
                                                                          "satisfy constraint: Member must not be null")


# --- Secrets ---------------------------------------------------------------------------------------
def test_secret_fields_are_marked_on_the_types() -> None:
    assert secret_fields(sp.MfaInput) == {"token_code"}
    assert secret_fields(AssumeRoleWithSAMLRequest) == {"saml_assertion"}
    assert secret_fields(AssumeRoleWithWebIdentityRequest) == {"web_identity_token"}
    assert secret_fields(Credentials) == {"secret_access_key", "session_token"}


def test_redacted_assume_role_request_and_result_show_no_secret() -> None:
    code, secret_key, token = "987654", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "IQoJb3JpZ2luX2VjE" + "x" * 200
    request = decode("AssumeRole", {
        "RoleArn": ROLE_ARN, "RoleSessionName": "deploy", "SerialNumber": SERIAL, "TokenCode": code,
    })
    result = AssumeRoleResult(
        Credentials("ASIAIOSFODNN7EXAMPLE", secret_key, token, datetime(2030, 1, 1, tzinfo=timezone.utc)),
        AssumedRoleUser("AROAEXAMPLE:deploy", "arn:aws:sts::123456789012:assumed-role/deployer/deploy"),
    )
    shown_request, shown_result = redacted(request), redacted(result)
    assert shown_request["mfa"] == {"serialNumber": SERIAL, "tokenCode": REDACTED}
    assert shown_result["credentials"]["secretAccessKey"] == REDACTED
    # A session token is shown as its SHA-256 fingerprint, so that it can be traced.
    assert shown_result["credentials"]["sessionToken"] == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    assert shown_result["credentials"]["accessKeyId"] == "ASIAIOSFODNN7EXAMPLE"
    text = json.dumps([shown_request, shown_result])
    for secret in (code, secret_key, token):
        assert secret not in text
    assert not re.search(secret_key, repr(result))  # kept out of repr() too


def test_get_web_identity_token_decodes_every_parameter() -> None:
    request = decode("GetWebIdentityToken", {
        "Audience": ["https://a.example.com", "b"], "DurationSeconds": "900", "SigningAlgorithm": "ES384",
        "SubjectMode": "AWSIdentity", "Tags": [{"Key": "job", "Value": ""}],
    })
    assert request.audience == ["https://a.example.com", "b"] and request.duration_seconds == 900
    assert request.signing_algorithm == "ES384" and request.tags == (("job", ""),) and request.scope is None
    default = decode("GetWebIdentityToken", {"Audience": ["a"], "SigningAlgorithm": "RS256"})
    assert default.duration_seconds == 300 and default.subject_mode == "AWSIdentity" and default.tags == ()
    message = validation_message("GetWebIdentityToken", {"Audience": [], "SigningAlgorithm": "RS257", "DurationSeconds": "59"})
    assert message.startswith("3 validation errors detected")

def test_token_size_and_scoped_parameters_decode() -> None:
    request = decode("GetScopedCredentials", {"Policy": "{}", "DurationSeconds": "60",
                                              "MinimumSessionTokenSize": "4096", "ScopedSessionDescription": "job 7"})
    assert (request.policy, request.duration_seconds, request.minimum_session_token_size,
            request.scoped_session_description) == ("{}", 60, 4096, "job 7")
    for action in ("AssumeRole", "GetSessionToken", "GetFederationToken", "AssumeRoleWithSAML",
                   "AssumeRoleWithWebIdentity", "GetScopedCredentials", "AssumeRoot"):
        message = validation_message(action, {"MinimumSessionTokenSize": "4097"})
        assert "Value '4097' at 'minimumSessionTokenSize' failed to satisfy constraint: Member must have value " \
               "less than or equal to 4096" in message, action


def test_trade_in_token_is_secret() -> None:
    request = decode("GetDelegatedAccessToken", {"TradeInToken": "trade-in-secret"})
    assert "trade-in-secret" not in json.dumps(redacted(request))
    assert "trade-in-secret" not in repr(request)
