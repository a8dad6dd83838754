"""GetWebIdentityToken over HTTP: the JWT verifies as a relying party verifies it (PyJWT and joserfc
against the issuer's JWKS fetched over HTTP), its claims, the errors AWS defines, authorization with
its condition keys, tags, the payload cap, which credentials may call it, key rotation, and the AWS CLI.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from botocore.exceptions import ClientError
from joserfc import errors as jose_errors

from tests.conftest import BACKENDS, REGION, Credentials, ServerInfo, free_port, random_name, start_server, stop_server
from tests.sts.outbound import (
    AWS,
    TlsProxy,
    allow,
    discovery,
    enabled_account,
    error_of,
    make_user,
    new_account,
    policy,
    verify_joserfc,
    verify_pyjwt,
)

AUDIENCE = "https://service.example.com"


def token_for(server: ServerInfo, creds: Credentials, **params: Any) -> dict[str, Any]:
    params.setdefault("Audience", [AUDIENCE])
    params.setdefault("SigningAlgorithm", "RS256")
    return server.client("sts", creds).get_web_identity_token(**params)


@pytest.mark.parametrize("alg", ["RS256", "ES384"])
def test_token_verifies_with_two_libraries_against_the_jwks(server: ServerInfo, alg: str) -> None:
    account, issuer = enabled_account(server)
    user_arn, creds = make_user(server, account, allow("sts:GetWebIdentityToken"),
                                tags=[{"Key": "team", "Value": "data"}])
    response = token_for(server, creds, SigningAlgorithm=alg)
    token = response["WebIdentityToken"]

    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = verify_pyjwt(token, issuer, AUDIENCE)
    assert verify_joserfc(token, issuer, AUDIENCE) == claims
    assert claims["iss"] == issuer and claims["sub"] == user_arn and claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 300  # the default duration
    assert int(response["Expiration"].timestamp()) == claims["exp"]
    assert len(claims["jti"]) >= 16
    assert claims[AWS] == {
        "aws_account": account.account_id, "source_region": REGION, "principal_id": user_arn,
        "principal_tags": {"team": "data"},
    }
    assert account.account_id not in issuer  # the issuer URL does not reveal the account


def test_discovery_document_and_jwks(server: ServerInfo) -> None:
    _, issuer = enabled_account(server)
    response = httpx.get(issuer + "/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200 and "max-age" in response.headers["cache-control"]
    config = response.json()
    assert config["issuer"] == issuer
    assert config["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert config["response_types_supported"] == ["id_token"]
    assert config["subject_types_supported"] == ["public"]
    assert set(config["id_token_signing_alg_values_supported"]) == {"RS256", "ES384"}
    assert {"iss", "sub", "aud", "exp", "iat"} <= set(config["claims_supported"])

    jwks = httpx.get(config["jwks_uri"], timeout=10)
    assert jwks.status_code == 200 and "max-age" in jwks.headers["cache-control"]
    keys = jwks.json()["keys"]
    assert {k["alg"] for k in keys} >= {"RS256", "ES384"}
    for key in keys:
        assert key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # public halves only
        if key["kty"] == "RSA":
            assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
            assert len(base64.urlsafe_b64decode(key["n"] + "==")) * 8 >= 2048
        else:
            assert set(key) == {"kty", "kid", "use", "alg", "crv", "x", "y"} and key["crv"] == "P-384"

    base = issuer.rsplit("/", 1)[0]
    for unknown in (base + "/" + "a" * 26, base + "/not-an-issuer"):
        for suffix in ("/.well-known/openid-configuration", "/.well-known/jwks.json"):
            assert httpx.get(unknown + suffix, timeout=10).status_code == 404


def test_tampered_expired_and_misdirected_tokens_fail(clock: ServerInfo) -> None:
    server = clock
    account, issuer = enabled_account(server)
    _, creds = make_user(server, account, allow("sts:GetWebIdentityToken"))
    token = token_for(server, creds)["WebIdentityToken"]
    header, payload, signature = token.split(".")

    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "arn:aws:iam::123456789012:root"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{forged}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        verify_pyjwt(tampered, issuer, AUDIENCE)
    with pytest.raises(jose_errors.BadSignatureError):
        verify_joserfc(tampered, issuer, AUDIENCE)

    with pytest.raises(jwt.InvalidAudienceError):
        verify_pyjwt(token, issuer, "https://other.example.com")
    with pytest.raises(jose_errors.InvalidClaimError):
        verify_joserfc(token, issuer, "https://other.example.com")
    _, other_issuer = enabled_account(server)  # another account's issuer publishes the same keys
    with pytest.raises(jwt.InvalidIssuerError):
        verify_pyjwt(token, other_issuer, AUDIENCE)
    with pytest.raises(jose_errors.InvalidClaimError):
        verify_joserfc(token, other_issuer, AUDIENCE)

    server.set_clock_offset(-240)  # issued four minutes ago (within the signing skew), for 60 s
    expired = token_for(server, creds, DurationSeconds=60)["WebIdentityToken"]
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_pyjwt(expired, issuer, AUDIENCE)
    with pytest.raises(jose_errors.ExpiredTokenError):
        verify_joserfc(expired, issuer, AUDIENCE)


def test_role_session_subject_audiences_and_source_identity(server: ServerInfo) -> None:
    account, issuer = enabled_account(server)
    iam = server.client("iam", account.root)
    user_arn, user = make_user(server, account, allow(["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]))
    role_name = random_name("role")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": user_arn},
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]})
    role_arn = iam.create_role(RoleName=role_name, Path="/apps/", AssumeRolePolicyDocument=trust,
                               Tags=[{"Key": "tier", "Value": "gold"}])["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=policy(allow("sts:GetWebIdentityToken")))
    assumed = server.client("sts", user).assume_role(
        RoleArn=role_arn, RoleSessionName="worker", SourceIdentity="alice",
        Tags=[{"Key": "project", "Value": "x"}], DurationSeconds=900,
    )
    c = assumed["Credentials"]
    session = Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

    audiences = [AUDIENCE, "https://second.example.com"]
    token = token_for(server, session, Audience=audiences, SigningAlgorithm="ES384")["WebIdentityToken"]
    claims = verify_pyjwt(token, issuer, AUDIENCE)
    assert claims["sub"] == role_arn and role_arn.endswith(":role/apps/" + role_name)
    assert claims["aud"] == audiences
    aws = claims[AWS]
    assert aws["principal_id"] == role_arn
    assert aws["source_identity"] == "alice"
    assert aws["principal_tags"] == {"tier": "gold", "project": "x"}
    assert "request_tags" not in aws

    # A token may not outlive the session that asks for it (900 s here).
    with pytest.raises(ClientError) as exc:
        token_for(server, session, DurationSeconds=3600)
    assert error_of(exc) == ("SessionDurationEscalationException", 403)
    assert token_for(server, session, DurationSeconds=600)["WebIdentityToken"]


def test_account_without_the_feature_is_refused(server: ServerInfo) -> None:
    account = new_account(server)
    with pytest.raises(ClientError) as exc:
        token_for(server, account.root)
    assert error_of(exc) == ("OutboundWebIdentityFederationDisabledException", 403)

    iam = server.client("iam", account.root)
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    token = token_for(server, account.root)["WebIdentityToken"]
    assert verify_pyjwt(token, issuer, AUDIENCE)["sub"] == f"arn:aws:iam::{account.account_id}:root"
    iam.disable_outbound_web_identity_federation()
    with pytest.raises(ClientError) as exc:
        token_for(server, account.root)
    assert error_of(exc) == ("OutboundWebIdentityFederationDisabledException", 403)
    # Tokens issued before stay verifiable until they expire.
    assert verify_joserfc(token, issuer, AUDIENCE)["sub"] == f"arn:aws:iam::{account.account_id}:root"


def test_condition_keys_in_identity_policies(server: ServerInfo) -> None:
    account, _ = enabled_account(server)
    _, creds = make_user(server, account, allow("sts:GetWebIdentityToken", {
        "ForAllValues:StringEquals": {"sts:IdentityTokenAudience": [AUDIENCE, "https://b.example.com"]},
        "NumericLessThanEquals": {"sts:DurationSeconds": 300},
        "StringEquals": {"sts:SigningAlgorithm": "ES384"},
    }))
    assert token_for(server, creds, SigningAlgorithm="ES384")["WebIdentityToken"]
    assert token_for(server, creds, SigningAlgorithm="ES384", Audience=[AUDIENCE, "https://b.example.com"])
    for denied in (
        {"Audience": ["https://evil.example.com"]},
        {"Audience": [AUDIENCE, "https://evil.example.com"]},
        {"DurationSeconds": 301},
        {"SigningAlgorithm": "RS256"},
    ):
        with pytest.raises(ClientError) as exc:
            token_for(server, creds, **{"SigningAlgorithm": "ES384", **denied})
        assert error_of(exc) == ("AccessDenied", 403)
        assert "sts:GetWebIdentityToken" in exc.value.response["Error"]["Message"]


def test_request_tags_need_their_own_permission(server: ServerInfo) -> None:
    account, issuer = enabled_account(server)
    tags = [{"Key": "job", "Value": "nightly"}, {"Key": "env", "Value": "prod"}]
    _, plain = make_user(server, account, allow("sts:GetWebIdentityToken"))
    with pytest.raises(ClientError) as exc:
        token_for(server, plain, Tags=tags)
    assert error_of(exc) == ("AccessDenied", 403)
    assert "sts:TagGetWebIdentityToken" in exc.value.response["Error"]["Message"]

    _, tagger = make_user(
        server, account, allow("sts:GetWebIdentityToken"),
        allow("sts:TagGetWebIdentityToken", {"ForAllValues:StringEquals": {"aws:TagKeys": ["job", "env"]},
                                             "StringEquals": {"aws:RequestTag/env": "prod"}}),
    )
    token = token_for(server, tagger, Tags=tags)["WebIdentityToken"]
    assert verify_joserfc(token, issuer, AUDIENCE)[AWS]["request_tags"] == {"job": "nightly", "env": "prod"}
    for refused in ([{"Key": "owner", "Value": "x"}], [{"Key": "env", "Value": "dev"}]):
        with pytest.raises(ClientError) as exc:
            token_for(server, tagger, Tags=refused)
        assert error_of(exc) == ("AccessDenied", 403)

    with pytest.raises(ClientError) as exc:
        token_for(server, tagger, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "ENV", "Value": "prod"}])
    assert error_of(exc) == ("InvalidParameterValue", 400)


def test_payload_cap(server: ServerInfo) -> None:
    account, _ = enabled_account(server)
    tags = [{"Key": f"{i:02d}" + "k" * 126, "Value": "v" * 256} for i in range(50)]
    with pytest.raises(ClientError) as exc:
        token_for(server, account.root, Tags=tags, Audience=["a" * 1000] * 10)
    assert error_of(exc) == ("JWTPayloadSizeExceededException", 400)


def test_parameter_validation_subject_mode_and_scope(server: ServerInfo) -> None:
    account, _ = enabled_account(server)
    sts = server.client("sts", account.root, parameter_validation=False)
    bad: list[dict[str, Any]] = [
        {"Audience": [], "SigningAlgorithm": "RS256"},
        {"Audience": [f"a{i}" for i in range(11)], "SigningAlgorithm": "RS256"},
        {"Audience": ["a" * 1001], "SigningAlgorithm": "RS256"},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "HS256"},
        {"Audience": [AUDIENCE]},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256", "DurationSeconds": 59},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256", "DurationSeconds": 3601},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256", "Tags": [{"Key": f"k{i}", "Value": ""} for i in range(51)]},
        # No OpenSTS session carries a trusted identity propagation context.
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256", "SubjectMode": "OriginIdentity"},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256", "SubjectMode": "OriginIdentity", "Scope": "read"},
        {"Audience": [AUDIENCE], "SigningAlgorithm": "RS256", "Scope": "read write"},
    ]
    for params in bad:
        with pytest.raises(ClientError) as exc:
            sts.get_web_identity_token(**params)
        assert error_of(exc) == ("ValidationError", 400), params
    assert sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256", SubjectMode="AWSIdentity")


def test_which_credentials_may_call_it(server: ServerInfo) -> None:
    account, _ = enabled_account(server)
    _, user = make_user(server, account, allow(["sts:GetWebIdentityToken", "sts:GetFederationToken"]))
    sts = server.client("sts", user)
    c = sts.get_session_token()["Credentials"]
    session = Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    f = sts.get_federation_token(Name="fed", Policy=policy(allow("sts:*")))["Credentials"]
    federated = Credentials(f["AccessKeyId"], f["SecretAccessKey"], f["SessionToken"])
    for creds in (session, federated):
        with pytest.raises(ClientError) as exc:
            token_for(server, creds)
        assert error_of(exc) == ("AccessDenied", 403)
    _, nobody = make_user(server, account)
    with pytest.raises(ClientError) as exc:
        token_for(server, nobody)
    assert error_of(exc) == ("AccessDenied", 403)


def test_rotation_keeps_the_old_key_published_until_its_tokens_expire(clock: ServerInfo) -> None:
    server = clock
    account, issuer = enabled_account(server)
    before = token_for(server, account.root)["WebIdentityToken"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    out = subprocess.run([sys.executable, "-m", "opensts", "keys", "rotate"], env=server.env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    new_kids = json.loads(out.stdout)["JwtKeyIds"]
    assert set(new_kids) == {"RS256", "ES384"} and old_kid not in new_kids.values()

    # A node reads the keys again within 30 s (runtime.JWT_KEYS_REFRESH_SECONDS); new keys sign only
    # after being published for 10 minutes, so that delay never leaves a token's key unpublished.
    server.set_clock_offset(31)
    jwks_uri = discovery(issuer)["jwks_uri"]
    kids = {k["kid"] for k in httpx.get(jwks_uri, timeout=10).json()["keys"]}
    assert old_kid in kids and set(new_kids.values()) <= kids
    server.set_clock_offset(0)  # tokens issued from now on carry the verifier's time
    assert verify_pyjwt(before, issuer, AUDIENCE)
    after = token_for(server, account.root)["WebIdentityToken"]
    assert verify_joserfc(after, issuer, AUDIENCE)

    server.set_clock_offset(4600)  # past the old key's last token's expiry (plus slack)
    kids = {k["kid"] for k in httpx.get(jwks_uri, timeout=10).json()["keys"]}
    assert old_kid not in kids and set(new_kids.values()) <= kids


def test_aws_cli(server: ServerInfo) -> None:
    account, issuer = enabled_account(server)
    env = {
        **os.environ, "AWS_ACCESS_KEY_ID": account.root.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.root.secret_access_key, "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    out = subprocess.run(
        ["aws", "--endpoint-url", server.url, "sts", "get-web-identity-token", "--audience", AUDIENCE,
         "https://two.example.com", "--signing-algorithm", "ES384", "--duration-seconds", "120",
         "--tags", "Key=run,Value=42", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    claims = verify_pyjwt(answer["WebIdentityToken"], issuer, "https://two.example.com")
    assert claims["exp"] - claims["iat"] == 120 and claims[AWS]["request_tags"] == {"run": "42"}
    assert "Expiration" in answer


# --- OpenSTS federates with itself --------------------------------------------------------------
def _trusting_role(server: ServerInfo, root: Credentials, issuer: str, audience: str, subject: str) -> str:
    """An OIDC provider for ``issuer`` and a role trusting it for ``audience`` and ``subject``."""
    iam = server.client("iam", root)
    provider_arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[audience])["OpenIDConnectProviderArn"]
    prefix = issuer[len("https://"):]
    trust = policy({
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{prefix}:aud": audience, f"{prefix}:sub": subject}},
    })
    return iam.create_role(RoleName=random_name("fed"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def _assume(server: ServerInfo, role_arn: str, token: str) -> dict[str, Any]:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    sts = boto3.client("sts", endpoint_url=server.url, region_name=REGION,
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="from-a", WebIdentityToken=token)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("https", ["tls", "proxy"])
def test_opensts_trusts_its_own_issuer_over_https(tmp_path: Path, backend: str, https: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Account A's token is accepted by AssumeRoleWithWebIdentity in account B of the same deployment,
    and in a second deployment, once A's issuer is registered there as an OIDC provider. The issuer
    is reached over HTTPS: served by OpenSTS's own TLS listener (``--tls-cert``; the default public
    URL is then https), or through a TLS-terminating proxy named by ``--public-url``. Both servers
    trust the test CA (SSL_CERT_FILE)."""
    import ssl

    from tests.federation.oidc_issuer import IssuerPki

    pki = IssuerPki(tmp_path / "pki")
    tls_env = {"SSL_CERT_FILE": str(pki.ca_path)}
    proxy: TlsProxy | None = None
    if https == "tls":
        monkeypatch.setenv("AWS_CA_BUNDLE", str(pki.ca_path))  # boto3 trusts the test CA
        first = start_server(
            tmp_path / "first", backend,
            {**tls_env, "OPENSTS_TLS_CERT": str(pki.cert_path), "OPENSTS_TLS_KEY": str(pki.key_path)},
            https=ssl.create_default_context(cafile=str(pki.ca_path)),
        )
        expected_base = first.url
    else:
        proxy_port = free_port()
        first = start_server(tmp_path / "first", backend,
                             {**tls_env, "OPENSTS_PUBLIC_URL": f"https://127.0.0.1:{proxy_port}"})
        proxy = TlsProxy(proxy_port, int(first.url.rsplit(":", 1)[1]), str(pki.cert_path), str(pki.key_path))
        expected_base = f"https://127.0.0.1:{proxy_port}"
    second = start_server(tmp_path / "second", backend, tls_env)
    try:
        a, issuer = enabled_account(first)
        assert issuer.startswith(expected_base + "/oidc/")
        user_arn, user = make_user(first, a, allow("sts:GetWebIdentityToken"))
        _, other = make_user(first, a, allow("sts:GetWebIdentityToken"))
        audience = "opensts-account-b"
        token = token_for(first, user, Audience=[audience])["WebIdentityToken"]
        stranger = token_for(first, other, Audience=[audience])["WebIdentityToken"]
        wrong_audience = token_for(first, user, Audience=["someone-else"])["WebIdentityToken"]

        b = new_account(first)
        for server, root in ((first, b.root), (second, second.root)):
            role_arn = _trusting_role(server, root, issuer, audience, user_arn)
            answer = _assume(server, role_arn, token)
            assert answer["SubjectFromWebIdentityToken"] == user_arn
            assert answer["Provider"].endswith(issuer[len("https://"):])
            c = answer["Credentials"]
            caller = server.client("sts", Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
            assert caller.get_caller_identity()["Arn"].startswith(role_arn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/"))
            with pytest.raises(ClientError) as exc:
                _assume(server, role_arn, stranger)  # another subject: the trust condition refuses it
            assert error_of(exc) == ("AccessDenied", 403)
            with pytest.raises(ClientError) as exc:
                _assume(server, role_arn, wrong_audience)  # not a client id of the provider
            assert error_of(exc) == ("InvalidIdentityToken", 400)
    finally:
        if proxy is not None:
            proxy.close()
        stop_server(first)
        stop_server(second)
