"""AssumeRoleWithSAML over HTTP with boto3 (unsigned calls), with real signed SAML Responses."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

import botocore.exceptions
import pytest
from botocore import UNSIGNED

from tests.conftest import Credentials, ServerInfo, random_name, start_server, stop_server
from tests.federation.saml_idp import (
    AWS_SAML,
    AWS_URN,
    EMAIL,
    SESSION_DURATION_ATTR,
    SOURCE_IDENTITY_ATTR,
    TAG_ATTR,
    TRANSIENT,
    TRANSITIVE_ATTR,
    SamlIdp,
)

IDP = SamlIdp()


@dataclass
class Provider:
    arn: str
    name: str
    idp: SamlIdp


def create_provider(server: ServerInfo, idp: SamlIdp = IDP, metadata: str | None = None) -> Provider:
    name = random_name("idp")
    arn = server.client("iam").create_saml_provider(Name=name, SAMLMetadataDocument=metadata or idp.metadata())[
        "SAMLProviderArn"
    ]
    return Provider(arn, name, idp)


@pytest.fixture(scope="module")
def provider(server: ServerInfo) -> Provider:
    return create_provider(server)


def saml_trust(provider_arn: str, *, condition: dict | None = None, actions: list[str] | None = None) -> str:
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": actions or ["sts:AssumeRoleWithSAML"],
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def make_role(server: ServerInfo, provider_arn: str, *, policy: dict | None = None, **trust_args: object) -> str:
    iam = server.client("iam")
    name = random_name("saml-role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=saml_trust(provider_arn, **trust_args))["Role"]["Arn"]  # type: ignore[arg-type]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


def unsigned_sts(server: ServerInfo):  # type: ignore[no-untyped-def]
    return server.client("sts", signature_version=UNSIGNED, parameter_validation=False)


def assume(server: ServerInfo, role_arn: str, provider: Provider, assertion: str, **kwargs: object) -> dict:
    return unsigned_sts(server).assume_role_with_saml(
        RoleArn=role_arn, PrincipalArn=provider.arn, SAMLAssertion=assertion, **kwargs
    )


def error_of(call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return {**info.value.response["Error"], "Status": info.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def creds_of(response: dict) -> Credentials:
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def lifetime(response: dict) -> float:
    return (response["Credentials"]["Expiration"] - datetime.now(timezone.utc)).total_seconds()


# --- happy paths --------------------------------------------------------------------------------
@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_signed_response_gives_role_credentials(server: ServerInfo, provider: Provider, sign: str) -> None:
    role_arn = make_role(server, provider.arn)
    assertion = IDP.response(sign=sign, roles=[(role_arn, provider.arn)], session_name="alice@example.test")
    response = assume(server, role_arn, provider, assertion)
    role_name = role_arn.rsplit("/", 1)[-1]
    session_arn = f"arn:aws:sts::{server.account_id}:assumed-role/{role_name}/alice@example.test"
    assert response["AssumedRoleUser"]["Arn"] == session_arn
    assert response["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert 3500 < lifetime(response) <= 3600
    assert response["Subject"] == "alice@example.test"
    assert response["SubjectType"] == "persistent"
    assert response["Issuer"] == IDP.entity_id
    assert response["Audience"] == AWS_SAML
    assert "PackedPolicySize" not in response and "SourceIdentity" not in response
    identity = server.client("sts", creds_of(response)).get_caller_identity()
    assert identity["Arn"] == session_arn and identity["Account"] == server.account_id


def test_base64_with_line_breaks_and_surrounding_whitespace(server: ServerInfo, provider: Provider) -> None:
    """As AWS: the assertion is base64, and base64 as `base64`/`openssl` print it (76-column lines, a final
    newline, CRLF) is the same assertion."""
    role_arn = make_role(server, provider.arn)
    for wrap in (lambda lines: "\n".join(lines) + "\n", lambda lines: "\r\n".join(lines) + "\r\n",
                 lambda lines: " \t" + "".join(lines) + "\n"):
        compact = IDP.response(roles=[(role_arn, provider.arn)])  # a new one each time: assertions are accepted once
        response = assume(server, role_arn, provider, wrap([compact[i:i + 76] for i in range(0, len(compact), 76)]))
        assert response["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{server.account_id}:assumed-role/")


def test_name_qualifier_is_aws_formula(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    response = assume(server, role_arn, provider, IDP.response(roles=[(role_arn, provider.arn)]))
    expected = base64.b64encode(
        hashlib.sha1(f"{IDP.entity_id}{server.account_id}/{provider.name}".encode()).digest()
    ).decode()
    assert response["NameQualifier"] == expected


def test_subject_type_strips_only_the_saml2_prefix(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    pair = [(role_arn, provider.arn)]
    assert assume(server, role_arn, provider, IDP.response(roles=pair, name_id_format=TRANSIENT))["SubjectType"] == "transient"
    assert assume(server, role_arn, provider, IDP.response(roles=pair, name_id_format=EMAIL))["SubjectType"] == EMAIL
    unspecified = assume(server, role_arn, provider, IDP.response(roles=pair, name_id_format=None))
    assert unspecified["SubjectType"] == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


def test_role_pair_either_order_among_several(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    other = make_role(server, provider.arn)
    # provider first, then role; and a second pair for another role
    assertion = IDP.response(roles=[(other, provider.arn)], attributes={
        "https://aws.amazon.com/SAML/Attributes/Role": [f"{other},{provider.arn}", f"{provider.arn}, {role_arn}"],
    })
    assert assume(server, role_arn, provider, assertion)["AssumedRoleUser"]["Arn"].endswith("/alice")


def test_regional_recipient_and_urn_audience_are_accepted(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    pair = [(role_arn, provider.arn)]
    regional = "https://eu-west-1.signin.aws.amazon.com/saml"
    response = assume(server, role_arn, provider, IDP.response(roles=pair, recipient=regional, audiences=[AWS_URN]))
    assert response["Audience"] == regional
    static = "https://signin.aws.amazon.com/static/saml"
    assert assume(server, role_arn, provider, IDP.response(roles=pair, recipient=static))["Audience"] == static


def test_any_certificate_of_the_metadata_verifies(server: ServerInfo) -> None:
    """Key rotation: metadata listing the old and the new certificate accepts either signer."""
    new = SamlIdp(entity_id="https://rotating.example.test/saml", label="rotating-new")
    old = SamlIdp(entity_id=new.entity_id, label="rotating-old")
    provider = create_provider(server, new, metadata=old.metadata(extra_certs=[new.cert]))
    role_arn = make_role(server, provider.arn)
    for idp in (old, new):
        assume(server, role_arn, provider, idp.response(roles=[(role_arn, provider.arn)]))


# --- attributes → session -----------------------------------------------------------------------
def test_attributes_give_session_name_tags_and_source_identity(server: ServerInfo, provider: Provider) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/Dept": "eng", "saml:sub": "alice@example.test"}},
        }],
    }
    trusting = make_role(
        server, provider.arn, policy=policy,
        actions=["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
        condition={"StringEquals": {"aws:RequestTag/Dept": "eng", "sts:SourceIdentity": "alice"}},
    )
    attributes = {
        TAG_ATTR + "Dept": ["eng"],
        TAG_ATTR + "CostCenter": ["cc-42"],
        TRANSITIVE_ATTR: ["Dept"],
        SOURCE_IDENTITY_ATTR: ["alice"],
    }
    response = assume(server, trusting, provider,
                      IDP.response(roles=[(trusting, provider.arn)], session_name="alice.s", attributes=attributes))
    assert response["AssumedRoleUser"]["Arn"].endswith("/alice.s")
    assert response["SourceIdentity"] == "alice"
    assert 0 < response["PackedPolicySize"] <= 100
    # The session carries the tags and the saml:* keys into later requests.
    server.client("iam", creds_of(response)).list_roles()

    # Tags and a source identity need sts:TagSession / sts:SetSourceIdentity in the trust policy.
    plain = make_role(server, provider.arn)
    for extra in ({TAG_ATTR + "Dept": ["eng"]}, {SOURCE_IDENTITY_ATTR: ["alice"]}):
        error = error_of(lambda: assume(server, plain, provider,
                                        IDP.response(roles=[(plain, provider.arn)], attributes=extra)))
        assert error["Code"] == "AccessDenied"


def test_invalid_attributes_are_invalid_identity_tokens(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    pair = [(role_arn, provider.arn)]
    cases = [
        ({"session_name": None}, "RoleSessionName is required in AuthnResponse"),
        ({"session_name": "a"}, "RoleSessionName"),
        ({"session_name": "bad name!"}, "RoleSessionName"),
        ({"attributes": {SESSION_DURATION_ATTR: ["60"]}}, "SessionDuration"),
        ({"attributes": {SESSION_DURATION_ATTR: ["soon"]}}, "SessionDuration"),
        ({"attributes": {TRANSITIVE_ATTR: ["NotATag"]}}, "transitive"),
        ({"attributes": {SOURCE_IDENTITY_ATTR: ["aws:me"]}}, "SourceIdentity"),
    ]
    for args, fragment in cases:
        error = error_of(lambda: assume(server, role_arn, provider, IDP.response(roles=pair, **args)))  # type: ignore[arg-type]
        assert error["Code"] == "InvalidIdentityToken", (args, error)
        assert fragment in error["Message"], (args, error)


def test_session_duration_caps(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    pair = [(role_arn, provider.arn)]
    capped = IDP.response(roles=pair, attributes={SESSION_DURATION_ATTR: ["1000"]})
    assert 950 < lifetime(assume(server, role_arn, provider, capped)) <= 1000
    capped = IDP.response(roles=pair, attributes={SESSION_DURATION_ATTR: ["1000"]})
    assert 950 < lifetime(assume(server, role_arn, provider, capped, DurationSeconds=2000)) <= 1000
    longer = IDP.response(roles=pair, attributes={SESSION_DURATION_ATTR: ["7200"]})
    assert 1150 < lifetime(assume(server, role_arn, provider, longer, DurationSeconds=1200)) <= 1200
    session_end = datetime.now(timezone.utc) + timedelta(seconds=950)
    ends = IDP.response(roles=pair, session_not_on_or_after=session_end)
    assert 900 < lifetime(assume(server, role_arn, provider, ends, DurationSeconds=3600)) <= 950
    # DurationSeconds beyond the role's maximum (3600) is a parameter error, as for AssumeRole.
    error = error_of(lambda: assume(server, role_arn, provider, IDP.response(roles=pair), DurationSeconds=7200))
    assert error["Code"] == "ValidationError" and "MaxSessionDuration" in error["Message"]
    error = error_of(lambda: assume(server, role_arn, provider, IDP.response(roles=pair), DurationSeconds=600))
    assert error["Code"] == "ValidationError"


# --- trust policy -------------------------------------------------------------------------------
def test_trust_conditions_on_saml_keys(server: ServerInfo, provider: Provider) -> None:
    qualifier = base64.b64encode(
        hashlib.sha1(f"{IDP.entity_id}{server.account_id}/{provider.name}".encode()).digest()
    ).decode()
    role_arn = make_role(server, provider.arn, condition={
        "StringEquals": {
            "SAML:aud": AWS_SAML,
            "saml:sub": "alice@example.test",
            "saml:iss": IDP.entity_id,
            "saml:sub_type": "persistent",
            "saml:doc": f"{server.account_id}/{provider.name}",
            "saml:namequalifier": qualifier,
            "aws:FederatedProvider": provider.arn,
        },
    })
    pair = [(role_arn, provider.arn)]
    assume(server, role_arn, provider, IDP.response(roles=pair))
    for args in ({"name_id": "mallory@example.test"}, {"recipient": "https://eu-west-1.signin.aws.amazon.com/saml"},
                 {"name_id_format": TRANSIENT}):
        error = error_of(lambda: assume(server, role_arn, provider, IDP.response(roles=pair, **args)))  # type: ignore[arg-type]
        assert error == {**error, "Code": "AccessDenied", "Status": 403,
                         "Message": "Not authorized to perform sts:AssumeRoleWithSAML"}


def test_role_pair_not_in_assertion_is_denied(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    other = make_role(server, provider.arn)
    missing = f"arn:aws:iam::{server.account_id}:role/no-such-role"
    refusing = make_role(server, f"arn:aws:iam::{server.account_id}:saml-provider/another")
    messages = set()
    for requested, pairs in ((role_arn, [(other, provider.arn)]), (missing, [(missing, provider.arn)]),
                             (refusing, [(refusing, provider.arn)])):
        error = error_of(lambda: assume(server, requested, provider, IDP.response(roles=pairs)))
        assert error["Code"] == "AccessDenied" and error["Status"] == 403
        messages.add(error["Message"])
    assert len(messages) == 1  # a missing role looks like a refusal


def test_unknown_or_malformed_provider(server: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(server, provider.arn)
    ghost = Provider(f"arn:aws:iam::{server.account_id}:saml-provider/ghost", "ghost", IDP)
    error = error_of(lambda: assume(server, role_arn, ghost, IDP.response(roles=[(role_arn, ghost.arn)])))
    assert error["Code"] == "InvalidIdentityToken" and "provider" in error["Message"]
    bad = Provider(f"arn:aws:iam::{server.account_id}:user/not-a-provider", "x", IDP)
    assert error_of(lambda: assume(server, role_arn, bad, IDP.response()))["Code"] == "ValidationError"


def test_missing_parameters_are_validation_errors(server: ServerInfo, provider: Provider) -> None:
    sts = unsigned_sts(server)
    role_arn = make_role(server, provider.arn)
    error = error_of(lambda: sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider.arn, SAMLAssertion="abc"))
    assert error["Code"] == "ValidationError" and "sAMLAssertion" in error["Message"]


def test_server_clock_decides_expiry(clock: ServerInfo, provider: Provider) -> None:
    role_arn = make_role(clock, provider.arn)
    assertion = IDP.response(roles=[(role_arn, provider.arn)])
    clock.set_clock_offset(600)
    error = error_of(lambda: assume(clock, role_arn, provider, assertion))
    assert error["Code"] == "ExpiredTokenException" and error["Status"] == 400
    clock.set_clock_offset(0)
    assume(clock, role_arn, provider, assertion)


# --- a configured OpenSTS audience --------------------------------------------------------------
OWN_URL = "https://sts.opensts.test/saml"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info = start_server(tmp_path_factory.mktemp("saml-own"), "sqlite", {"OPENSTS_SAML_AUDIENCE": OWN_URL})
    yield info
    stop_server(info)


def test_configured_audience_and_recipient(own_server: ServerInfo, server: ServerInfo, provider: Provider) -> None:
    own_provider = create_provider(own_server)
    role_arn = make_role(own_server, own_provider.arn, condition={"StringEquals": {"saml:aud": OWN_URL}})
    pair = [(role_arn, own_provider.arn)]
    response = assume(own_server, role_arn, own_provider, IDP.response(roles=pair, audiences=[OWN_URL], recipient=OWN_URL))
    assert response["Audience"] == OWN_URL
    # The default server does not know that URL.
    default_role = make_role(server, provider.arn)
    error = error_of(lambda: assume(server, default_role, provider,
                                    IDP.response(roles=[(default_role, provider.arn)], audiences=[OWN_URL], recipient=OWN_URL)))
    assert error["Code"] == "InvalidIdentityToken"
