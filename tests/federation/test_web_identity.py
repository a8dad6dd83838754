"""AssumeRoleWithWebIdentity over HTTP against a real HTTPS OIDC issuer with its own CA.

One OpenSTS server for the module trusts the test CA through ``SSL_CERT_FILE``; every test registers
its own issuer (its own path on the issuer server) so JWKS caches and counters do not mix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.conftest import REGION, Credentials, ServerInfo, free_port
from tests.federation import oidc_issuer
from tests.federation.oidc_issuer import (
    CLIENT_ID,
    Issuer,
    IssuerPki,
    IssuerServer,
    make_role,
    register,
    trust_policy,
)

# module-scoped fixtures: a private CA, an HTTPS issuer server, an OpenSTS server trusting the CA
oidc_pki = oidc_issuer.oidc_pki
oidc_idp = oidc_issuer.oidc_idp
oidc_server = oidc_issuer.oidc_server


def unsigned_sts(server: ServerInfo):  # type: ignore[no-untyped-def]
    return boto3.client(
        "sts", endpoint_url=server.url, region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def assume(server: ServerInfo, role_arn: str, token: str, **kwargs: Any) -> dict[str, Any]:
    return unsigned_sts(server).assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName=kwargs.pop("RoleSessionName", "web-session"), WebIdentityToken=token, **kwargs
    )


def error_of(call) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return {**info.value.response["Error"], "Status": info.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def creds_of(response: dict[str, Any]) -> Credentials:
    c = response["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def setup(server: ServerInfo, idp: IssuerServer, condition: dict | None = None, alg: str = "RS256",
          actions: Any = None, **role_kwargs: Any) -> tuple[Issuer, str, str]:
    issuer = idp.issuer(alg=alg)
    provider_arn = register(server, issuer)
    role_arn = make_role(server, trust_policy(provider_arn, condition, actions), **role_kwargs)
    return issuer, provider_arn, role_arn


# --- Happy paths ---------------------------------------------------------------------------------
def test_unsigned_boto3_call_returns_role_credentials(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, provider_arn, role_arn = setup(oidc_server, oidc_idp)
    response = assume(oidc_server, role_arn, issuer.token(sub="alice"), RoleSessionName="alice")
    role_name = role_arn.rsplit("/", 1)[-1]
    session_arn = f"arn:aws:sts::{oidc_server.account_id}:assumed-role/{role_name}/alice"
    assert response["SubjectFromWebIdentityToken"] == "alice"
    assert response["Provider"] == provider_arn
    assert provider_arn == f"arn:aws:iam::{oidc_server.account_id}:oidc-provider/{issuer.without_scheme}"
    assert response["Audience"] == CLIENT_ID
    assert response["AssumedRoleUser"]["Arn"] == session_arn
    assert response["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert "PackedPolicySize" not in response and "SourceIdentity" not in response
    identity = oidc_server.client("sts", creds_of(response)).get_caller_identity()
    assert identity["Arn"] == session_arn and identity["Account"] == oidc_server.account_id
    assert issuer.discovery_requests == 1 and issuer.jwks_requests == 1
    assume(oidc_server, role_arn, issuer.token(sub="bob"), RoleSessionName="bob")
    assert issuer.jwks_requests == 1  # cached


@pytest.mark.parametrize("alg", ["ES256", "ES384", "PS256", "RS512", "EdDSA"])
def test_other_signing_algorithms(oidc_server: ServerInfo, oidc_idp: IssuerServer, alg: str) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp, alg=alg)
    assert assume(oidc_server, role_arn, issuer.token())["SubjectFromWebIdentityToken"] == "user-1"


def test_audience_list_and_azp(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    response = assume(oidc_server, role_arn, issuer.token(aud=["account", CLIENT_ID]))
    assert response["Audience"] == CLIENT_ID
    response = assume(oidc_server, role_arn, issuer.token(aud="account", azp=CLIENT_ID))
    assert response["Audience"] == CLIENT_ID
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token(aud=["account", "other"], azp="other")))
    assert error["Code"] == "InvalidIdentityToken" and error["Message"] == "Incorrect token audience"


def test_trust_conditions_on_sub_and_aud(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer = oidc_idp.issuer()
    provider_arn = register(oidc_server, issuer, client_ids=[CLIENT_ID, "sts.amazonaws.com"])
    prefix = issuer.without_scheme  # 127.0.0.1:PORT/NAME: host with port, as for self-hosted issuers
    condition = {
        "StringEquals": {f"{prefix}:aud": "sts.amazonaws.com"},
        "StringLike": {f"{prefix}:sub": "repo:octo-org/octo-repo:ref:refs/heads/*"},
    }
    role_arn = make_role(oidc_server, trust_policy(provider_arn, condition))
    good = issuer.token(aud="sts.amazonaws.com", sub="repo:octo-org/octo-repo:ref:refs/heads/main")
    assert assume(oidc_server, role_arn, good)["SubjectFromWebIdentityToken"].endswith("refs/heads/main")
    for token in (
        issuer.token(aud="sts.amazonaws.com", sub="repo:octo-org/other-repo:ref:refs/heads/main"),
        issuer.token(aud=CLIENT_ID, sub="repo:octo-org/octo-repo:ref:refs/heads/main"),
        issuer.token(aud="sts.amazonaws.com", sub="repo:octo-org/octo-repo:pull_request"),
    ):
        error = error_of(lambda: assume(oidc_server, role_arn, token))
        assert error == {**error, "Code": "AccessDenied", "Message": "Not authorized to perform sts:AssumeRoleWithWebIdentity", "Status": 403}


def test_azp_oaud_and_amr_condition_keys(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer = oidc_idp.issuer()
    provider_arn = register(oidc_server, issuer)
    prefix = issuer.without_scheme
    condition = {
        "StringEquals": {f"{prefix}:aud": CLIENT_ID, f"{prefix}:azp": CLIENT_ID, f"{prefix}:oaud": "account"},
        "ForAnyValue:StringEquals": {f"{prefix}:amr": "mfa"},
    }
    role_arn = make_role(oidc_server, trust_policy(provider_arn, condition))
    assume(oidc_server, role_arn, issuer.token(aud="account", azp=CLIENT_ID, amr=["pwd", "mfa"]))
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token(aud="account", azp=CLIENT_ID, amr=["pwd"])))
    assert error["Code"] == "AccessDenied"


def test_federated_provider_and_claims_in_later_requests(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, provider_arn, role_arn = setup(oidc_server, oidc_idp)
    prefix = issuer.without_scheme
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "iam:GetRole", "Resource": role_arn,
            "Condition": {"StringEquals": {"aws:FederatedProvider": provider_arn, f"{prefix}:sub": "carol"}},
        }],
    }
    role_name = role_arn.rsplit("/", 1)[-1]
    oidc_server.client("iam").put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(policy))
    carol = oidc_server.client("iam", creds_of(assume(oidc_server, role_arn, issuer.token(sub="carol"))))
    assert carol.get_role(RoleName=role_name)["Role"]["Arn"] == role_arn
    dave = oidc_server.client("iam", creds_of(assume(oidc_server, role_arn, issuer.token(sub="dave"))))
    assert error_of(lambda: dave.get_role(RoleName=role_name))["Code"] == "AccessDenied"


def test_session_tags_from_the_tags_claim(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, provider_arn, role_arn = setup(
        oidc_server, oidc_idp, actions=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    )
    role_name = role_arn.rsplit("/", 1)[-1]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Action": "iam:GetRole", "Resource": role_arn,
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        }],
    }
    oidc_server.client("iam").put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps(policy))
    tags_claim = {"principal_tags": {"team": ["blue"], "cost": ["42"]}, "transitive_tag_keys": ["team"]}
    response = assume(oidc_server, role_arn, issuer.token(**{"https://aws.amazon.com/tags": tags_claim}))
    assert 0 < response["PackedPolicySize"] <= 100
    iam = oidc_server.client("iam", creds_of(response))
    assert iam.get_role(RoleName=role_name)["Role"]["RoleName"] == role_name
    red = assume(oidc_server, role_arn, issuer.token(**{"https://aws.amazon.com/tags": {"principal_tags": {"team": ["red"]}}}))
    assert error_of(lambda: oidc_server.client("iam", creds_of(red)).get_role(RoleName=role_name))["Code"] == "AccessDenied"

    # without sts:TagSession in the trust policy, a token carrying tags is refused
    _, _, plain_role = setup(oidc_server, oidc_idp)
    error = error_of(lambda: assume(oidc_server, plain_role, issuer.token(**{"https://aws.amazon.com/tags": tags_claim})))
    assert error["Code"] == "AccessDenied"


def test_malformed_tags_claim_is_rejected(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp, actions=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"])
    for claim in (
        {"principal_tags": {"team": ["a", "b"]}},
        {"principal_tags": {"team": 5}},
        {"principal_tags": {"team": ["x"]}, "transitive_tag_keys": ["other"]},
        {"principal_tags": {"bad key!": ["x"]}},
        "not an object",
    ):
        error = error_of(lambda: assume(oidc_server, role_arn, issuer.token(**{"https://aws.amazon.com/tags": claim})))
        assert error["Status"] == 403 and error["Code"] == "IDPRejectedClaim", claim


def test_source_identity_claim(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(
        oidc_server, oidc_idp, actions=["sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity"]
    )
    response = assume(oidc_server, role_arn, issuer.token(**{"https://aws.amazon.com/source_identity": "alice@example.com"}))
    assert response["SourceIdentity"] == "alice@example.com"
    _, _, plain_role = setup(oidc_server, oidc_idp)
    error = error_of(lambda: assume(oidc_server, plain_role, issuer.token(**{"https://aws.amazon.com/source_identity": "alice"})))
    assert error["Code"] == "AccessDenied"


def test_session_policy_duration_and_parameter_limits(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp, MaxSessionDuration=7200)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    before = time.time()
    response = assume(oidc_server, role_arn, issuer.token(), Policy=policy, DurationSeconds=7200)
    assert response["PackedPolicySize"] > 0
    assert abs(response["Credentials"]["Expiration"].timestamp() - before - 7200) < 30
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token(), DurationSeconds=7201))
    assert error["Code"] == "ValidationError"
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token(), RoleSessionName="a b"))
    assert error["Code"] == "ValidationError"


def test_missing_role_and_refusing_trust_look_the_same(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, provider_arn, _ = setup(oidc_server, oidc_idp)
    other = oidc_idp.issuer()
    other_arn = register(oidc_server, other)
    refusing = make_role(oidc_server, trust_policy(other_arn))
    missing = f"arn:aws:iam::{oidc_server.account_id}:role/no-such-role"
    for role_arn in (refusing, missing):
        error = error_of(lambda: assume(oidc_server, role_arn, issuer.token()))
        assert error == {**error, "Code": "AccessDenied", "Message": "Not authorized to perform sts:AssumeRoleWithWebIdentity"}


def test_unknown_provider(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer = oidc_idp.issuer()  # never registered
    role_arn = f"arn:aws:iam::{oidc_server.account_id}:role/any"
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token()))
    assert error["Code"] == "InvalidIdentityToken"
    assert error["Message"] == f"No OpenIDConnect provider found in your account for {issuer.url}"


def test_server_clock_decides_expiry(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    token = issuer.token()  # exp in 10 minutes
    assume(oidc_server, role_arn, token)
    try:
        oidc_server.set_clock_offset(3600)
        time.sleep(0.2)
        error = error_of(lambda: assume(oidc_server, role_arn, token))
        assert error == {**error, "Code": "ExpiredTokenException", "Message": "Token is expired", "Status": 400}
    finally:
        oidc_server.set_clock_offset(0)


# --- Keys: rotation, caching, reachability, pinning ------------------------------------------------
def test_key_rotation_picks_up_new_kid(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    old = issuer.key
    assume(oidc_server, role_arn, issuer.token())
    assert issuer.jwks_requests == 1
    new = issuer.rotate(alg="ES256")  # the old key is no longer published
    assume(oidc_server, role_arn, issuer.token())  # unknown kid: one refresh
    assert issuer.jwks_requests == 2
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token(key=old)))
    assert error["Code"] == "InvalidIdentityToken"
    assert issuer.jwks_requests == 2  # refreshes for unknown kids are rate-limited
    assert new.kid != old.kid


def test_jwks_unreachable(oidc_server: ServerInfo) -> None:
    iam = oidc_server.client("iam")
    url = f"https://127.0.0.1:{free_port()}/nobody-listens"
    provider_arn = iam.create_open_id_connect_provider(Url=url, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    role_arn = make_role(oidc_server, trust_policy(provider_arn))
    import jwt as pyjwt

    from tests.federation.oidc_issuer import new_key

    key = new_key()
    token = pyjwt.encode(
        {"iss": url, "sub": "x", "aud": CLIENT_ID, "iat": int(time.time()), "exp": int(time.time()) + 300},
        key.private, algorithm="RS256", headers={"kid": key.kid},
    )
    started = time.monotonic()
    error = error_of(lambda: assume(oidc_server, role_arn, token))
    assert error["Code"] == "IDPCommunicationError" and error["Status"] == 400
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("mode", ["error", "huge", "compressed", "hang"])
def test_broken_jwks_endpoint(oidc_server: ServerInfo, oidc_idp: IssuerServer, mode: str) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    issuer.mode = mode
    started = time.monotonic()
    error = error_of(lambda: assume(oidc_server, role_arn, issuer.token()))
    elapsed = time.monotonic() - started
    assert error["Code"] == "IDPCommunicationError", error
    assert elapsed < 3.0  # the fetch deadline is 2 s
    # failures are remembered briefly: an immediate retry does not reach the IdP again
    before = issuer.jwks_requests
    assert error_of(lambda: assume(oidc_server, role_arn, issuer.token()))["Code"] == "IDPCommunicationError"
    assert issuer.jwks_requests == before


def test_untrusted_certificate_is_refused(oidc_server: ServerInfo, tmp_path: Path) -> None:
    rogue = IssuerServer(IssuerPki(tmp_path / "rogue-pki"))  # a CA the OpenSTS server does not trust
    try:
        issuer = rogue.issuer()
        role_arn = make_role(oidc_server, trust_policy(register(oidc_server, issuer)))
        error = error_of(lambda: assume(oidc_server, role_arn, issuer.token()))
        assert error["Code"] == "IDPCommunicationError"
        assert issuer.jwks_requests == 0 and issuer.discovery_requests == 0
    finally:
        rogue.close()


def test_thumbprint_pinning(oidc_server: ServerInfo, oidc_idp: IssuerServer, oidc_pki: IssuerPki) -> None:
    for thumbprint, ok in ((oidc_pki.ca_thumbprint, True), (oidc_pki.leaf_thumbprint, True), ("ab" * 20, False)):
        issuer = oidc_idp.issuer()
        provider_arn = register(oidc_server, issuer, thumbprints=[thumbprint])
        role_arn = make_role(oidc_server, trust_policy(provider_arn))
        if ok:
            assume(oidc_server, role_arn, issuer.token())
        else:
            assert error_of(lambda: assume(oidc_server, role_arn, issuer.token()))["Code"] == "IDPCommunicationError"
            assert issuer.discovery_requests == 1  # discovery is not pinned (AWS pins the jwks_uri host)


def test_cache_control_is_honoured_within_bounds(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    issuer.cache_control = "max-age=0"  # clamped to 60 s: still cached
    assume(oidc_server, role_arn, issuer.token())
    assume(oidc_server, role_arn, issuer.token())
    assert issuer.jwks_requests == 1


# --- whitespace around the token (token files end in a newline) -------------------------------------
def test_whitespace_around_the_token_is_ignored(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    token = issuer.token(sub="alice")
    for padded in (token + "\n", token + "\r\n", " \t" + token + " \n\n"):
        response = assume(oidc_server, role_arn, padded, RoleSessionName="padded")
        assert response["SubjectFromWebIdentityToken"] == "alice"
    header, payload, signature = token.split(".")
    for broken in (f"{header}.\n{payload}.{signature}", f"{header}.{payload}.{signature[:10]} {signature[10:]}", " \n\t "):
        error = error_of(lambda: assume(oidc_server, role_arn, broken))
        assert (error["Code"], error["Status"]) == ("InvalidIdentityToken", 400), error


def test_aws_cli_with_a_token_file_ending_in_a_newline(oidc_server: ServerInfo, oidc_idp: IssuerServer, tmp_path: Path) -> None:
    """The GitHub Actions recipe of docs/FEDERATION.md: `jq -r .value > file` writes a final newline."""
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    token_file = tmp_path / "oidc-token"
    token_file.write_text(issuer.token(sub="repo:octo-org/octo-repo:ref:refs/heads/main") + "\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "sts", "assume-role-with-web-identity", "--endpoint-url", oidc_server.url,
         "--role-arn", role_arn, "--role-session-name", "gha", "--web-identity-token", f"file://{token_file}",
         "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["SubjectFromWebIdentityToken"] == "repo:octo-org/octo-repo:ref:refs/heads/main"


# --- boto3's own web-identity credential provider --------------------------------------------------
@pytest.mark.parametrize("ending", ["", "\n"])
def test_boto3_web_identity_provider(oidc_server: ServerInfo, oidc_idp: IssuerServer, tmp_path: Path, ending: str) -> None:
    issuer, _, role_arn = setup(oidc_server, oidc_idp)
    token_file = tmp_path / "token"
    token_file.write_text(issuer.token(sub="system:serviceaccount:default:app") + ending)
    script = (
        "import boto3, json; "
        "print(json.dumps(boto3.client('sts').get_caller_identity(), default=str))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_ROLE_ARN": role_arn,
        "AWS_ROLE_SESSION_NAME": "pod-session",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ENDPOINT_URL_STS": oidc_server.url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    identity = json.loads(done.stdout)
    role_name = role_arn.rsplit("/", 1)[-1]
    assert identity["Arn"] == f"arn:aws:sts::{oidc_server.account_id}:assumed-role/{role_name}/pod-session"
