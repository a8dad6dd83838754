"""MinimumSessionTokenSize, SessionTokenSize and SessionTokenUtilization on every credential-issuing
action, over HTTP with boto3 and the AWS CLI; the largest token the limits allow stays within the
maximum size OpenSTS guarantees (docs/SESSION-TOKENS.md)."""

from __future__ import annotations

import base64
import json
import math
import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore import UNSIGNED

from opensts.sts.credentials import MAX_SESSION_TOKEN_SIZE
from opensts.tokens import KeyRing, SessionClaims, encode_session_token
from opensts.tokens.session_token import PACKED_POLICY_BUDGET, packed_policy_size
from tests.conftest import BACKENDS, Credentials, ServerInfo, random_name, start_server, stop_server
from tests.federation import oidc_issuer
from tests.federation.oidc_issuer import register, trust_policy
from tests.federation.oidc_issuer import make_role as web_role
from tests.federation.saml_idp import SamlIdp
from tests.federation.test_saml import create_provider
from tests.federation.test_saml import make_role as saml_role
from tests.iam.conftest import allow, make_user
from tests.sts.test_assume_role import creds_of, error_of, make_role, trust, user_arn
from tests.sts.test_scoped_credentials import aws_cli

oidc_pki = oidc_issuer.oidc_pki
oidc_idp = oidc_issuer.oidc_idp
IDP = SamlIdp()


@pytest.fixture(scope="module", params=BACKENDS)
def fed_server(request: pytest.FixtureRequest, oidc_pki: oidc_issuer.IssuerPki,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    """A server on each backend that trusts the test CA (for the OIDC issuer's keys)."""
    info = start_server(tmp_path_factory.mktemp("token-size"), request.param,
                        extra_env={"SSL_CERT_FILE": str(oidc_pki.ca_path)})
    yield info
    stop_server(info)


def issuers(server: ServerInfo, idp: oidc_issuer.IssuerServer) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    """One call per credential-issuing action, each taking extra parameters."""
    name, user = make_user(server, allow("sts:GetFederationToken"))
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    issuer = idp.issuer()
    web_arn = web_role(server, trust_policy(register(server, issuer)))
    provider = create_provider(server, IDP)
    saml_arn = saml_role(server, provider.arn)
    anonymous = server.client("sts", signature_version=UNSIGNED)
    sts = server.client("sts", user)

    def scoped(extra: dict[str, Any]) -> dict[str, Any]:
        session = creds_of(sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"))
        answer: dict[str, Any] = server.client("sts", session).get_scoped_credentials(DurationSeconds=900, **extra)
        return answer

    return {
        "AssumeRole": lambda extra: sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", **extra),
        "GetSessionToken": lambda extra: sts.get_session_token(DurationSeconds=900, **extra),
        "GetFederationToken": lambda extra: sts.get_federation_token(
            Name="fed", Policy=json.dumps(allow("sts:GetCallerIdentity")), **extra),
        "AssumeRoleWithWebIdentity": lambda extra: anonymous.assume_role_with_web_identity(
            RoleArn=web_arn, RoleSessionName="web", WebIdentityToken=issuer.token(sub="subject-1"), **extra),
        "AssumeRoleWithSAML": lambda extra: anonymous.assume_role_with_saml(
            RoleArn=saml_arn, PrincipalArn=provider.arn,
            SAMLAssertion=IDP.response(roles=[(saml_arn, provider.arn)]), **extra),
        "GetScopedCredentials": scoped,
    }


def check_sizes(server: ServerInfo, answer: dict[str, Any], minimum: int = 0) -> Credentials:
    token = answer["Credentials"]["SessionToken"]
    assert answer["SessionTokenSize"] == len(token) >= minimum
    assert answer["SessionTokenUtilization"] == min(100, math.ceil(100 * len(token) / MAX_SESSION_TOKEN_SIZE))
    creds = creds_of(answer)
    server.client("sts", creds).get_caller_identity()  # the (padded) token works
    return creds


def test_every_issuing_action_reports_and_pads(fed_server: ServerInfo, oidc_idp: oidc_issuer.IssuerServer) -> None:
    server = fed_server
    for action, issue in issuers(server, oidc_idp).items():
        plain = issue({})
        check_sizes(server, plain)
        assert len(plain["Credentials"]["SessionToken"]) < 1500, action  # nothing to pad these with
        for minimum in (0, 1, 1500, 2047, 4096):
            answer = issue({"MinimumSessionTokenSize": minimum})
            check_sizes(server, answer, minimum)
            if minimum > len(plain["Credentials"]["SessionToken"]) + 100:
                assert answer["SessionTokenSize"] - minimum < 4, action  # padded to the next base64 length


def test_out_of_range_minimum_is_a_validation_error(fed_server: ServerInfo) -> None:
    server = fed_server
    name, user = make_user(server)
    role_arn = make_role(server, trust({"AWS": user_arn(server, name)}))
    lax = server.client("sts", user, parameter_validation=False)  # let the server judge the limits
    for value in (-1, 4097, 100000):
        error = error_of(lambda: lax.get_session_token(MinimumSessionTokenSize=value))
        assert error["Code"] == "ValidationError" and "minimumSessionTokenSize" in error["Message"], value
        error = error_of(lambda: lax.assume_role(RoleArn=role_arn, RoleSessionName="s1", MinimumSessionTokenSize=value))
        assert error["Code"] == "ValidationError", value


def test_padding_cannot_be_stripped(fed_server: ServerInfo) -> None:
    server = fed_server
    _, user = make_user(server)
    answer = server.client("sts", user).get_session_token(DurationSeconds=900, MinimumSessionTokenSize=3000)
    creds = creds_of(answer)
    raw = base64.b64decode(creds.session_token or "")
    shortened = base64.b64encode(raw[:-600] + raw[-16:]).decode()  # drop padding, keep a tag-sized tail
    cut = Credentials(creds.access_key_id, creds.secret_access_key, shortened)
    assert error_of(server.client("sts", cut).get_caller_identity)["Code"] == "InvalidClientTokenId"


def test_aws_cli_minimum_session_token_size(fed_server: ServerInfo, tmp_path: Path) -> None:
    server = fed_server
    _, user = make_user(server)
    answer = aws_cli(server, user, tmp_path, "get-session-token", "--duration-seconds", "900",
                     "--minimum-session-token-size", "3000")
    assert answer["SessionTokenSize"] == len(answer["Credentials"]["SessionToken"]) >= 3000
    assert answer["SessionTokenUtilization"] == math.ceil(100 * answer["SessionTokenSize"] / MAX_SESSION_TOKEN_SIZE)


# --- The largest token -------------------------------------------------------------------------------
RNG = random.Random(16)
LATIN1 = [chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\'] + [chr(c) for c in range(0xA1, 0x100)]
WORD = string.ascii_letters + string.digits


def noise(n: int, alphabet: Any = LATIN1) -> str:
    """Incompressible text: the worst case for the token's DEFLATE."""
    return "".join(RNG.choice(alphabet) for _ in range(n))


def largest_policy(policy_arns: tuple[str, ...] = (), tags: tuple[tuple[str, str], ...] = ()) -> str:
    """The least compressible valid policy of at most 2,048 characters within the packed budget."""
    value = noise(2048)

    def policy(n: int) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"StringEquals": {"aws:UserAgent": value[:n]}}}]}, ensure_ascii=False)
    low, high = 0, 2048
    while low < high:  # bisect on the value's length: at most 11 steps
        mid = (low + high + 1) // 2
        text = policy(mid)
        if len(text) <= 2048 and packed_policy_size(text, policy_arns, tags) <= PACKED_POLICY_BUDGET:
            low = mid
        else:
            high = mid - 1
    return policy(low)


def largest_tags() -> tuple[tuple[str, str], ...]:
    """50 tags with incompressible keys and values, as long as the packed budget allows."""
    for length in range(256, 0, -4):
        tags = tuple((f"k{i:02d}-{noise(8, WORD)}", noise(length, WORD)) for i in range(50))
        if packed_policy_size(None, (), tags) <= PACKED_POLICY_BUDGET:
            return tags
    raise AssertionError("no 50 tags fit the packed budget")


def largest_claims(variant: str) -> SessionClaims:
    account = "123456789012"
    role, session = noise(64, WORD), noise(64, WORD)
    path = "/" + noise(510, WORD) + "/"
    tags: tuple[tuple[str, str], ...] = ()
    policy_arns: tuple[str, ...] = ()
    if variant == "tags":
        tags = largest_tags()
        policy = None
    elif variant == "policy-arns":
        policy_arns = tuple(f"arn:aws:iam::{account}:policy/{noise(180, WORD)}" for _ in range(10))
        policy = largest_policy(policy_arns)
    else:
        policy = largest_policy()
    claims = [(f"{'issuer.example.com/' + noise(150, WORD)}:{k}", noise(1024)) for k in ("sub", "aud", "azp", "amr")]
    return SessionClaims(
        access_key_id="ASIA" + noise(16, string.ascii_uppercase), secret_access_key=noise(40, WORD),
        account_id=account, kind="assumed-role", principal_arn=f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        principal_id=f"AROA{noise(17, string.ascii_uppercase)}:{session}",
        source_arn=f"arn:aws:iam::{account}:role{path}{role}", source_id="AROA" + noise(17, string.ascii_uppercase),
        issued_at=1_800_000_000, expires_at=1_800_129_600, mfa_authenticated_at=1_800_000_000,
        source_identity=noise(64, WORD), tags=tags, transitive_tag_keys=tuple(k for k, _ in tags),
        session_policy=policy, policy_arns=policy_arns, role_chained=True,
        federated_provider=f"arn:aws:iam::{account}:oidc-provider/{noise(255, WORD)}", attributes=tuple(claims),
        scope_policies=tuple(largest_policy() for _ in range(3)),
    )


@pytest.mark.parametrize("variant", ["policy", "tags", "policy-arns"])
def test_the_largest_allowed_token_fits(variant: str) -> None:
    """Everything at its limit: a session policy, 10 policy ARNs or 50 tags (each variant fills the
    packed budget), 50 transitive keys, a 64-character source identity, role path and names at their
    maximum, four 1,024-character web-identity claims, and 3 scope-down layers."""
    ring = KeyRing.generate()
    claims = largest_claims(variant)
    size = max(len(encode_session_token(claims, ring, min_size=4096)) for _ in range(3))
    assert 15000 < size <= MAX_SESSION_TOKEN_SIZE  # large indeed, and within the guarantee


def test_the_largest_token_over_http(server: ServerInfo) -> None:
    """Over the API: AssumeRole with a full session policy, 50 transitive tags, a source identity and
    the longest role path and names, then 3 GetScopedCredentials layers at the packed limit."""
    name, user = make_user(server)
    iam = server.client("iam")
    role_name = random_name("r") + "x" * 54
    statement = {"Effect": "Allow", "Principal": {"AWS": user_arn(server, name)},
                 "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]}
    role_arn = iam.create_role(
        RoleName=role_name, Path="/" + "p" * 510 + "/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(allow("*")))
    tags = [{"Key": f"k{i:02d}", "Value": noise(20, WORD)} for i in range(50)]
    answer = server.client("sts", user).assume_role(
        RoleArn=role_arn, RoleSessionName=noise(64, WORD),
        Policy=largest_policy(tags=tuple((t["Key"], t["Value"]) for t in tags)), Tags=tags,
        TransitiveTagKeys=[t["Key"] for t in tags], SourceIdentity=noise(64, WORD))
    creds = check_sizes(server, answer)
    for layer in range(1, 4):
        answer = server.client("sts", creds).get_scoped_credentials(Policy=largest_policy())
        assert answer["ScopedPoliciesCount"] == layer
        creds = check_sizes(server, answer)
    assert answer["SessionTokenSize"] <= MAX_SESSION_TOKEN_SIZE
