"""Security suite: known attacks on OIDC token validation (AssumeRoleWithWebIdentity).

One test per attack, against a real OpenSTS server and a real HTTPS issuer. Each attack must be
refused with a 4xx AWS error well under a second, and leave the server healthy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
import httpx
import jwt
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography.hazmat.primitives import serialization

from tests.conftest import REGION, ServerInfo
from tests.federation import oidc_issuer
from tests.federation.oidc_issuer import (
    Issuer,
    IssuerServer,
    make_role,
    new_key,
    register,
    trust_policy,
    unsigned_jwt,
)

# module-scoped fixtures: a private CA, an HTTPS issuer server, an OpenSTS server trusting the CA
oidc_pki = oidc_issuer.oidc_pki
oidc_idp = oidc_issuer.oidc_idp
oidc_server = oidc_issuer.oidc_server

FAST = 1.0  # seconds: "well under a second" on a loaded 2-core CI box; typical figures are ~10 ms


@dataclass
class Target:
    server: ServerInfo
    issuer: Issuer
    provider_arn: str
    role_arn: str


@pytest.fixture(scope="module")
def target(oidc_server: ServerInfo, oidc_idp: IssuerServer) -> Target:
    issuer = oidc_idp.issuer("victim")
    provider_arn = register(oidc_server, issuer)
    role_arn = make_role(oidc_server, trust_policy(provider_arn))
    # a legitimate call first: the JWKS is cached, as in a running deployment
    sts(oidc_server).assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="warm-up", WebIdentityToken=issuer.token())
    return Target(oidc_server, issuer, provider_arn, role_arn)


def sts(server: ServerInfo):  # type: ignore[no-untyped-def]
    return boto3.client(
        "sts", endpoint_url=server.url, region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def refused(target: Target, token: str, role_arn: str | None = None) -> dict[str, Any]:
    """Send the token; return the AWS error (code, message, status, seconds). Fails if accepted."""
    client = sts(target.server)
    started = time.perf_counter()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.assume_role_with_web_identity(
            RoleArn=role_arn or target.role_arn, RoleSessionName="attacker", WebIdentityToken=token
        )
    elapsed = time.perf_counter() - started
    status = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    error = {**info.value.response["Error"], "Status": status, "Seconds": elapsed}
    assert 400 <= status < 500, error
    assert elapsed < FAST, error
    return error


@pytest.fixture(autouse=True)
def server_stays_healthy(oidc_server: ServerInfo) -> Iterator[None]:
    yield
    response = httpx.get(f"{oidc_server.url}/health", timeout=5)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert oidc_server.process.poll() is None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


# --- Attacks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none(target: Target, alg: str) -> None:
    token = unsigned_jwt({"alg": alg, "typ": "JWT", "kid": target.issuer.key.kid}, target.issuer.claims())
    error = refused(target, token)
    assert error["Code"] == "InvalidIdentityToken"
    # the same with a signature segment present
    error = refused(target, token + "c2lnbmF0dXJl")
    assert error["Code"] == "InvalidIdentityToken"


@pytest.mark.parametrize("encoding", ["pem", "der", "jwk"])
def test_hs256_signed_with_the_rsa_public_key(target: Target, encoding: str) -> None:
    public = target.issuer.key.private.public_key()
    secret = {
        "pem": lambda: public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der": lambda: public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk": lambda: json.dumps(target.issuer.key.jwk()).encode(),
    }[encoding]()
    for alg in ("HS256", "HS384", "HS512"):
        token = hs256({"alg": alg, "typ": "JWT", "kid": target.issuer.key.kid}, target.issuer.claims(), secret)
        assert refused(target, token)["Code"] == "InvalidIdentityToken"


def test_foreign_key(target: Target) -> None:
    foreign = new_key("RS256")
    # a valid signature by a key the IdP does not publish, claiming a published kid ...
    token = jwt.encode(target.issuer.claims(), foreign.private, algorithm="RS256", headers={"kid": target.issuer.key.kid})
    error = refused(target, token)
    assert error["Code"] == "InvalidIdentityToken" and "signature" in error["Message"]
    # ... or its own kid, or none at all
    token = jwt.encode(target.issuer.claims(), foreign.private, algorithm="RS256", headers={"kid": foreign.kid})
    assert refused(target, token)["Code"] == "InvalidIdentityToken"
    token = jwt.encode(target.issuer.claims(), foreign.private, algorithm="RS256")
    assert refused(target, token)["Code"] == "InvalidIdentityToken"


def test_key_embedded_or_linked_by_the_token_is_ignored(target: Target, oidc_idp: IssuerServer) -> None:
    attacker = oidc_idp.issuer("attacker")  # a real JWKS the attacker controls
    key = attacker.key
    for header in (
        {"kid": key.kid, "jku": f"{attacker.url}/jwks"},
        {"kid": key.kid, "x5u": f"{attacker.url}/jwks"},
        {"kid": key.kid, "jwk": key.jwk()},
    ):
        token = jwt.encode(target.issuer.claims(), key.private, algorithm=key.alg, headers=header)
        assert refused(target, token)["Code"] == "InvalidIdentityToken"
    assert attacker.jwks_requests == 0 and attacker.discovery_requests == 0


def test_key_type_confusion(target: Target) -> None:
    """ES256 / EdDSA / PS256 headers naming the RSA kid: the key type must fit the algorithm."""
    for alg in ("ES256", "EdDSA"):
        other = new_key(alg)
        token = jwt.encode(target.issuer.claims(), other.private, algorithm=alg, headers={"kid": target.issuer.key.kid})
        assert refused(target, token)["Code"] == "InvalidIdentityToken"


def test_wrong_issuer(target: Target, oidc_server: ServerInfo, oidc_idp: IssuerServer) -> None:
    # a registered issuer's name on a token signed by the victim's key: that issuer's JWKS lacks the kid
    other = oidc_idp.issuer("other-issuer")
    other_arn = register(oidc_server, other)
    token = target.issuer.token(iss=other.url)
    assert refused(target, token)["Code"] == "InvalidIdentityToken"
    # a valid token of another registered issuer, for a role trusting only the victim issuer
    assert refused(target, other.token())["Code"] == "AccessDenied"
    assert other_arn != target.provider_arn
    # look-alike issuers are not the provider
    for iss in (
        target.issuer.url + "/",
        target.issuer.url.upper().replace("HTTPS://", "https://"),
        target.issuer.url.replace("https://", "http://"),
        target.issuer.url + "/../victim",
        "https://evil.example/" + target.issuer.without_scheme,
    ):
        error = refused(target, target.issuer.token(iss=iss))
        assert error["Code"] == "InvalidIdentityToken", iss
        assert error["Message"].startswith("No OpenIDConnect provider found in your account for"), iss
    # no issuer at all
    assert refused(target, target.issuer.token(iss=None))["Code"] == "InvalidIdentityToken"


def test_wrong_audience(target: Target) -> None:
    for claims in ({"aud": "someone-else"}, {"aud": ["a", "b"]}, {"aud": None}, {"aud": "x", "azp": "y"}, {"aud": 7}):
        error = refused(target, target.issuer.token(**claims))
        assert error["Code"] == "InvalidIdentityToken", claims


def test_expired(target: Target) -> None:
    now = int(time.time())
    error = refused(target, target.issuer.token(iat=now - 7200, exp=now - 3600))
    assert error == {**error, "Code": "ExpiredTokenException", "Message": "Token is expired", "Status": 400}
    # the leeway is small: 2 minutes past exp is expired
    assert refused(target, target.issuer.token(iat=now - 600, exp=now - 120))["Code"] == "ExpiredTokenException"
    # a token without exp is no token
    assert refused(target, target.issuer.token(exp=None))["Code"] == "InvalidIdentityToken"


def test_not_yet_valid(target: Target) -> None:
    now = int(time.time())
    assert refused(target, target.issuer.token(nbf=now + 3600))["Code"] == "InvalidIdentityToken"
    assert refused(target, target.issuer.token(iat=now + 3600, exp=now + 7200))["Code"] == "InvalidIdentityToken"


def test_huge_token(target: Target) -> None:
    token = target.issuer.token(padding="x" * 25_000)
    error = refused(target, token)
    assert error["Code"] == "ValidationError"
    assert "Member must have length less than or equal to 20000" in error["Message"]


def test_unknown_kid_flood(target: Target, oidc_idp: IssuerServer, oidc_server: ServerInfo) -> None:
    issuer = oidc_idp.issuer("flooded")
    role_arn = make_role(oidc_server, trust_policy(register(oidc_server, issuer)))
    sts(oidc_server).assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="ok", WebIdentityToken=issuer.token())
    assert issuer.jwks_requests == 1
    started = time.perf_counter()
    slowest = 0.0
    for _ in range(50):
        kid = secrets.token_hex(8)
        token = jwt.encode(issuer.claims(), issuer.key.private, algorithm="RS256", headers={"kid": kid})
        error = refused(target, token, role_arn=role_arn)
        assert error["Code"] == "InvalidIdentityToken"
        slowest = max(slowest, error["Seconds"])
    total = time.perf_counter() - started
    assert issuer.jwks_requests <= 2, issuer.jwks_requests  # at most one forced refresh
    assert total < 10 and slowest < FAST
    # the legitimate key still works
    sts(oidc_server).assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="ok", WebIdentityToken=issuer.token())


@pytest.mark.parametrize(
    "token",
    [
        "abcd",
        "aa.bb",
        "a.b.c.d",
        "a.b.c.d.e",
        "a..b",
        "....",
        "!!!!.@@@@.####",
        f"{b64(b'not json')}.{b64(b'{}')}.{b64(b'sig')}",
        f"{b64(json.dumps({'alg': 'RS256'}).encode())}.{b64(b'not json')}.{b64(b'sig')}",
        f"{b64(json.dumps({'alg': 'RS256'}).encode())}.{b64(b'[1, 2]')}.{b64(b'sig')}",
        f"{b64(json.dumps(['RS256']).encode())}.{b64(b'{}')}.{b64(b'sig')}",
        f"{b64(json.dumps({'alg': 'RS256'}).encode())}.{b64(b'{' * 5000)}.{b64(b'sig')}",
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL3gifQ.é",
    ],
    ids=lambda t: t[:24],
)
def test_malformed_segments(target: Target, token: str) -> None:
    error = refused(target, token)
    assert error["Code"] in ("InvalidIdentityToken", "ValidationError"), error


def test_malformed_but_signed_claims(target: Target) -> None:
    """Well-signed tokens whose claims have the wrong types."""
    for claims in ({"sub": None}, {"sub": 12}, {"exp": "tomorrow"}, {"exp": True}, {"iat": None}, {"azp": ["x"]}):
        error = refused(target, target.issuer.token(**claims))
        assert error["Code"] == "InvalidIdentityToken", claims


def test_critical_header_extensions(target: Target) -> None:
    key = target.issuer.key
    for header in ({"kid": key.kid, "crit": ["exp"], "exp": 1}, {"kid": key.kid, "b64": False, "crit": ["b64"]}):
        token = jwt.encode(target.issuer.claims(), key.private, algorithm=key.alg, headers=header)
        assert refused(target, token)["Code"] == "InvalidIdentityToken"


def test_token_of_one_account_against_another_accounts_role(target: Target) -> None:
    """The provider is looked up in the role's account: a token for an unregistered account fails."""
    role_arn = "arn:aws:iam::999999999999:role/victim"
    error = refused(target, target.issuer.token(), role_arn=role_arn)
    assert error["Code"] == "InvalidIdentityToken"
    assert error["Message"] == f"No OpenIDConnect provider found in your account for {target.issuer.url}"
