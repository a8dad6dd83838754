"""Hostile characters in text never give a 500 or an unparseable response (issue 12, items 9-11).

NUL, other control characters and lone surrogates are refused with AWS's errors before anything is
stored, on every backend; and whatever the store holds, responses are XML that botocore parses.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree

import botocore.session
import httpx
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from sqlalchemy import create_engine, update

from opensts.store import schema
from opensts.store.db import normalise_url
from tests.conftest import ServerInfo, random_name
from tests.iam.conftest import allow, make_user

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
# The JSON escape of a lone surrogate: valid ASCII on the wire, a string with no UTF-8 form once parsed.
LONE_SURROGATE_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get\\ud800", "Resource": "*"}]}'
)
TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


@pytest.fixture
def iam(server: ServerInfo):  # type: ignore[no-untyped-def]
    return server.client("iam")


# --- Item 9: lone surrogates ------------------------------------------------------------------
def test_a_lone_surrogate_in_a_managed_policy_is_malformed(iam) -> None:  # type: ignore[no-untyped-def]
    name = random_name("p")
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=name, PolicyDocument=LONE_SURROGATE_POLICY)
    code, status, message = error_of(exc)
    assert (code, status) == ("MalformedPolicyDocument", 400) and "surrogate" in message
    assert name not in {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}


def test_a_lone_surrogate_in_an_inline_or_trust_policy_is_malformed(iam) -> None:  # type: ignore[no-untyped-def]
    user = random_name("u")
    iam.create_user(UserName=user)
    with pytest.raises(ClientError) as exc:
        iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=LONE_SURROGATE_POLICY)
    assert error_of(exc)[:2] == ("MalformedPolicyDocument", 400)
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    trust = TRUST.replace("sts:AssumeRole", "sts:AssumeRole\\udfff")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=trust)
    assert error_of(exc)[:2] == ("MalformedPolicyDocument", 400)


def test_a_lone_surrogate_in_a_session_policy_is_malformed(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    role = random_name("r")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    _, caller = make_user(server, allow("sts:AssumeRole"))
    with pytest.raises(ClientError) as exc:
        server.client("sts", caller).assume_role(RoleArn=arn, RoleSessionName="ss", Policy=LONE_SURROGATE_POLICY)
    assert error_of(exc)[:2] == ("MalformedPolicyDocument", 400)


def test_a_lone_surrogate_in_a_simulated_policy_is_invalid_input(iam) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: iam.simulate_custom_policy(PolicyInputList=[LONE_SURROGATE_POLICY], ActionNames=["s3:GetObject"]),
        lambda: iam.simulate_custom_policy(PolicyInputList=[ALLOW_ALL], ActionNames=["s3:GetObject"],
                                           ResourceArns=["arn:aws:s3:::b"], ResourcePolicy=LONE_SURROGATE_POLICY),
        lambda: iam.get_context_keys_for_custom_policy(PolicyInputList=[LONE_SURROGATE_POLICY]),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        code, status, message = error_of(exc)
        assert (code, status) == ("InvalidInput", 400) and "surrogate" in message


def test_a_lone_surrogate_in_an_authorize_resource_policy_is_malformed(server: ServerInfo) -> None:
    from tests.authorize.conftest import call, inner_request, instance_arn

    payload = {"request": inner_request(server.root), "action": "ec2:StopInstances",
               "resource": instance_arn(server.account_id), "resourcePolicy": LONE_SURROGATE_POLICY}
    response = call(server, payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MalformedPolicyDocument"
    # A lone surrogate anywhere in the JSON body itself is a malformed body, not a 500.
    body = json.dumps({**payload, "resourcePolicy": None, "action": "ec2:@"}).replace("@", "\\ud800")
    assert call(server, None, raw=body.encode()).status_code == 400


def test_a_paired_surrogate_escape_is_fine(iam) -> None:  # type: ignore[no-untyped-def]
    policy = LONE_SURROGATE_POLICY.replace("\\ud800", "\\ud83d\\ude00")
    iam.create_policy(PolicyName=random_name("p"), PolicyDocument=policy)


# --- Item 10: NUL and control characters in text fields ---------------------------------------
@pytest.mark.parametrize("bad", ["\x00", "a\x01b", "\x1f", "\ufffe"])
def test_control_characters_in_tag_values_are_refused(iam, bad: str) -> None:  # type: ignore[no-untyped-def]
    name = random_name("u")
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=name, Tags=[{"Key": "k", "Value": bad}])
    code, status, message = error_of(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("1 validation error detected: Value ")
    assert "at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
    with pytest.raises(ClientError) as missing:
        iam.get_user(UserName=name)
    assert error_of(missing)[0] == "NoSuchEntity"


def test_nul_in_descriptions_and_unpatterned_fields_is_refused(iam) -> None:  # type: ignore[no-untyped-def]
    policy = random_name("p")
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=policy, PolicyDocument=ALLOW_ALL, Description="a\x00b")
    assert error_of(exc)[:2] == ("ValidationError", 400)
    assert "at 'description'" in error_of(exc)[2]
    assert policy not in {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    role = random_name("r")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST, Description="\x00")
    assert error_of(exc)[:2] == ("ValidationError", 400)
    # No pattern in AWS's model for these: the XML-safe characters (STS's arnType pattern) apply.
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url="https://example.com/\x00", ThumbprintList=["a" * 40])
    code, status, message = error_of(exc)
    assert (code, status) == ("ValidationError", 400) and "at 'url'" in message
    with pytest.raises(ClientError) as exc:
        iam.attach_user_policy(UserName="nobody", PolicyArn="arn:aws:iam::aws:policy/\x00")
    assert error_of(exc)[:2] == ("ValidationError", 400)


def test_sts_refuses_nul_and_controls(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    arn = iam.create_role(RoleName=random_name("r"), AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    sts = server.client("sts")
    cases = [
        {"RoleSessionName": "s\x00s"},
        {"RoleSessionName": "ss", "SourceIdentity": "id\x01"},
        {"RoleSessionName": "ss", "Tags": [{"Key": "k", "Value": "\x00"}]},
        {"RoleSessionName": "ss", "Tags": [{"Key": "k", "Value": "v"}], "TransitiveTagKeys": ["k\x00"]},
        {"RoleSessionName": "ss", "ExternalId": "e\x00x"},
    ]
    for extra in cases:
        with pytest.raises(ClientError) as exc:
            sts.assume_role(RoleArn=arn, **extra)
        assert error_of(exc)[:2] == ("ValidationError", 400), extra


# --- Item 11: control characters never make malformed XML -------------------------------------
def _parse_error(body: bytes) -> dict:
    """botocore's own parser on an error body (it raises on malformed XML)."""
    model = botocore.session.get_session().get_service_model("iam").operation_model("GetUser")
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": 400}, model.output_shape)
    return parsed["Error"]


@pytest.mark.parametrize("name", ["X%01", "X%00", "X%0D", "X%EF%BF%BE", "X%1B%5B31m"])
def test_an_error_echoing_a_parameter_name_with_controls_is_well_formed(server: ServerInfo, name: str) -> None:
    body = f"Action=GetUser&Version=2010-05-08&{name}=1&{name}.Y=2"
    response = httpx.post(server.url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    ElementTree.fromstring(response.content)
    error = _parse_error(response.content)
    assert error["Code"] == "MalformedQueryString" and "conflicts" in error["Message"]


def test_a_control_character_description_is_refused_at_create(iam) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName=random_name("p"), PolicyDocument=ALLOW_ALL, Description="a\x01")
    assert error_of(exc)[:2] == ("ValidationError", 400)


def test_a_stored_control_character_does_not_poison_reads(server: ServerInfo, iam) -> None:  # type: ignore[no-untyped-def]
    """Text stored before validation existed (or by hand) still gives responses botocore parses."""
    name = random_name("p")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=ALLOW_ALL, Description="clean")["Policy"]["Arn"]
    engine = create_engine(normalise_url(server.database_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                update(schema.managed_policies)
                .where(schema.managed_policies.c.name == name)
                .values(description="a\x01b\rc\x1f")
            )
    finally:
        engine.dispose()
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "a\ufffdb\rc\ufffd"
    details = iam.get_account_authorization_details(Filter=["LocalManagedPolicy"])
    described = {p["PolicyName"]: p.get("Description") for p in details["Policies"]}
    assert described[name] == "a\ufffdb\rc\ufffd"
