"""Hostile and unusual policies over HTTP: globs that made a backtracking matcher spin for minutes,
numbers past CPython's int() digit limit, and the documented semantics of negated operators against
an unresolvable variable, NotPrincipal and W3C dates. The server must answer (never a 500) and
/health must stay responsive."""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.authorize.conftest import authorize, call, inner_request, instance_arn
from tests.conftest import Credentials, ServerInfo, random_name, start_server, stop_server
from tests.iam.conftest import allow, make_user

STARS = "*a" * 20 + "*b"  # never matches a text without "b"; exponential for a backtracking regex


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _healthy(server: ServerInfo) -> None:
    start = time.monotonic()
    assert httpx.get(server.url + "/health", timeout=5).status_code == 200
    assert time.monotonic() - start < 5


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    # Its own process: before the fix a request here pinned the worker for minutes.
    info = start_server(tmp_path_factory.mktemp("dos"), "sqlite")
    yield info
    stop_server(info)


# ------------------------------------------------------------------ glob complexity
def test_evil_globs_answer_quickly_and_health_stays_up(own_server: ServerInfo) -> None:
    server = own_server
    acct = server.account_id
    name = "a" * 64
    policy = _doc(
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": f"arn:aws:iam::{acct}:user/{STARS}"},
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
         "Condition": {"StringLike": {"aws:username": STARS}}},
        {"Effect": "Allow", "Action": ["iam:ListUsers", "ec2:StopInstances"], "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:StartInstances", "Resource": f"arn:aws:ec2:*:{acct}:instance/{STARS}",
         "Condition": {"StringLike": {"ec2:InstanceMarketType": ["*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "${aws:username}*a*a*a*a*a*a*a*a*b"]}}},
    )
    _, creds = make_user(server, policy, name=name)
    iam = server.client("iam", creds, read_timeout=20, connect_timeout=5)
    start = time.monotonic()
    with pytest.raises(ClientError) as err:
        iam.get_user(UserName=name)  # both statements must be checked: neither matches
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    iam.list_users()  # an authorized action still works
    assert time.monotonic() - start < 10
    _healthy(server)

    # The simulator: literal resources and a 1,300-character glob as the resource (pattern mode).
    root_iam = server.client("iam", read_timeout=20)
    user_arn = f"arn:aws:iam::{acct}:user/{name}"
    results = root_iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["iam:GetUser"],
        ResourceArns=[user_arn, f"arn:aws:iam::{acct}:user/" + "*a" * 650 + "*c"],
    )["EvaluationResults"]
    assert {r["EvalDecision"] for r in results} <= {"implicitDeny", "allowed"}
    assert results[0]["EvalDecision"] == "implicitDeny"
    _healthy(server)

    # /v1/authorize: long resource and a 4,000-character condition value.
    resource = instance_arn(acct, "i-" + "a" * 1900)
    answer = authorize(server, creds, action="ec2:StartInstances", resource=resource,
                       context={"ec2:InstanceMarketType": "a" * 4000})
    assert answer["decision"] == "Deny"
    _healthy(server)


# ------------------------------------------------------------------ numbers past int()'s limit
def test_numbers_of_thousands_of_digits(server: ServerInfo) -> None:
    huge = "9" * 5000
    iam = server.client("iam")
    arn = iam.create_policy(PolicyName=random_name("num"), PolicyDocument=json.dumps(_doc(
        {"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*",
         "Condition": {"NumericLessThan": {"ec2:Count": huge}}},
        {"Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"ec2:Count": "10"}}},
    )))["Policy"]["Arn"]
    name, creds = make_user(server)
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    long_value = "9" * 4096  # the longest context value /v1/authorize takes
    assert authorize(server, creds, context={"ec2:Count": "10"})["decision"] == "Allow"
    assert authorize(server, creds, context={"ec2:Count": long_value})["decision"] == "Allow"
    assert authorize(server, creds, context={"ec2:Count": "1e5000"})["decision"] == "Deny"  # 10**5000 > 9...9
    assert authorize(server, creds, context={"ec2:Count": "1e99999999999999999999"})["decision"] == "Deny"
    assert authorize(server, creds, action="ec2:StartInstances", context={"ec2:Count": long_value})["decision"] == "Allow"
    too_long = call(server, {"request": inner_request(creds), "action": "ec2:StopInstances",
                             "context": {"ec2:Count": huge}})
    assert too_long.status_code == 400, too_long.text
    # An inline policy with such a value is a clean answer too (stored, or refused as too large).
    try:
        iam.put_user_policy(UserName=name, PolicyName="n", PolicyDocument=json.dumps(_doc(
            {"Effect": "Allow", "Action": "ec2:RebootInstances", "Resource": "*",
             "Condition": {"NumericEquals": {"ec2:Count": "1" * 4400}}})))
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] < 500, e.response
    # As a JSON number, too long for any parser: a 4xx, not a 500.
    raw = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RebootInstances","Resource":"*",'
           '"Condition":{"NumericEquals":{"ec2:Count":' + "1" * 4400 + '}}}]}')
    with pytest.raises(ClientError) as err:
        iam.create_policy(PolicyName=random_name("num"), PolicyDocument=raw)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    body = ('{"request": ' + json.dumps(inner_request(creds)) + ', "action": "ec2:StopInstances", '
            '"context": {"ec2:Count": ' + "9" * 5000 + '}}').encode()
    response = call(server, None, raw=body)
    assert response.status_code < 500, response.text


# ------------------------------------------------------------------ negated operator vs unresolvable variable
def test_string_not_equals_against_missing_principal_tag_denies(server: ServerInfo) -> None:
    policy = _doc(
        {"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*"},
        {"Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team}"}}},
    )
    name, creds = make_user(server, policy)
    ctx = {"context": {"aws:ResourceTag/Team": "web"}}
    assert authorize(server, creds, **ctx)["decision"] == "Deny"  # untagged: null value, StringNotEquals matches
    server.client("iam").tag_user(UserName=name, Tags=[{"Key": "Team", "Value": "web"}])
    assert authorize(server, creds, **ctx)["decision"] == "Allow"
    assert authorize(server, creds, context={"aws:ResourceTag/Team": "db"})["decision"] == "Deny"


# ------------------------------------------------------------------ NotPrincipal
def test_not_principal_exempts_only_named_principals(server: ServerInfo) -> None:
    acct = server.account_id
    name, creds = make_user(server, allow("ec2:StopInstances"))
    user_arn = f"arn:aws:iam::{acct}:user/{name}"
    root = f"arn:aws:iam::{acct}:root"

    def guard(*names: str) -> dict[str, Any]:
        return _doc({"Effect": "Deny", "NotPrincipal": {"AWS": list(names)}, "Action": "ec2:*", "Resource": "*"})

    assert authorize(server, creds, resourcePolicy=guard(root))["decision"] == "Deny"
    assert authorize(server, creds, resourcePolicy=guard(acct))["decision"] == "Deny"
    assert authorize(server, creds, resourcePolicy=guard(user_arn, root))["decision"] == "Allow"

    # A role session: naming the role (and account) is not enough; the session must be named.
    trust = _doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": user_arn}})
    iam = server.client("iam")
    role = iam.create_role(RoleName=random_name("role"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="p", PolicyDocument=json.dumps(allow("ec2:StopInstances")))
    iam.put_user_policy(UserName=name, PolicyName="assume",
                        PolicyDocument=json.dumps(allow(["ec2:StopInstances", "sts:AssumeRole"])))
    assumed = _assume(server, creds, role["Arn"], "audit")
    session_arn = f"arn:aws:sts::{acct}:assumed-role/{role['RoleName']}/audit"
    assert authorize(server, assumed, resourcePolicy=guard(role["Arn"], root))["decision"] == "Deny"
    assert authorize(server, assumed, resourcePolicy=guard(session_arn, role["Arn"], root))["decision"] == "Allow"


def _assume(server: ServerInfo, creds: Credentials, role_arn: str, session: str) -> Credentials:
    deadline = time.monotonic() + 10
    while True:  # IAM writes are visible at once, but keep the test robust to a short cache TTL
        try:
            c = server.client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
            return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        except ClientError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# ------------------------------------------------------------------ W3C dates
@pytest.mark.parametrize("value", ["2020", "2020-05", "2020-05-06", "2020-05-06T10:20Z", "2020-05-06T10:20:30.5+01:00"])
def test_w3c_date_profiles_in_policies(server: ServerInfo, value: str) -> None:
    _, creds = make_user(server, allow("ec2:StopInstances", Condition={"DateGreaterThan": {"aws:CurrentTime": value}}))
    assert authorize(server, creds)["decision"] == "Allow"
    _, later = make_user(server, allow("ec2:StopInstances", Condition={"DateLessThan": {"aws:CurrentTime": value}}))
    assert authorize(server, later)["decision"] == "Deny"

