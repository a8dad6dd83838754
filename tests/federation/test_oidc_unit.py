"""In-process tests of ``opensts.federation.oidc``: JWKS parsing, the cache's refresh rules, claims."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from opensts.errors import (
    ExpiredTokenException,
    IDPCommunicationError,
    InvalidIdentityToken,
)
from opensts.federation import oidc
from tests.federation.oidc_issuer import new_key

ISS = "https://idp.example:8443/realms/dev"


def jwks_of(*keys: Any) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys]}


class FakeIdp:
    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)
        self.calls = 0
        self.fail = False
        self.delay = 0.0

    def __call__(self, issuer: str, thumbprints: Sequence[str]) -> tuple[tuple[oidc.SigningKey, ...], float]:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise oidc.FetchError("down")
        return oidc.parse_jwks(jwks_of(*self.keys)), 600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- JWKS parsing ------------------------------------------------------------------------------------
def test_parse_jwks_keeps_only_usable_public_signing_keys() -> None:
    rs, es, ed = new_key("RS256"), new_key("ES256"), new_key("EdDSA")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak_jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key())), "kid": "weak"}
    private_jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rs.private)), "kid": "private"}
    document = {
        "keys": [
            rs.jwk(), es.jwk(), ed.jwk(),
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**rs.jwk(), "kid": "enc", "use": "enc"},
            {**rs.jwk(), "kid": "ops", "key_ops": ["encrypt"]},
            {**rs.jwk(), "kid": "hs", "alg": "HS256"},
            weak_jwk, private_jwk,
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not a key",
        ]
    }
    kids = [k.kid for k in oidc.parse_jwks(document)]
    assert kids == [rs.kid, es.kid, ed.kid]
    with pytest.raises(ValueError):
        oidc.parse_jwks({"nokeys": []})


def test_key_must_fit_the_algorithm() -> None:
    rs, es = oidc.parse_jwks(jwks_of(new_key("RS256"), new_key("ES256")))
    assert rs.fits("RS256") and not rs.fits("PS512")  # the JWK names its algorithm: only that one
    rs_any = oidc.SigningKey(rs.kid, rs.kty, None, None, rs.key)
    assert rs_any.fits("RS256") and rs_any.fits("PS512") and not rs_any.fits("ES256") and not rs_any.fits("HS256")
    es_alg = oidc.SigningKey(es.kid, es.kty, None, es.curve, es.key)
    assert es_alg.fits("ES256") and not es_alg.fits("ES384") and not es_alg.fits("EdDSA")
    assert not es.fits("ES512")


def test_issuer_matching() -> None:
    assert oidc.issuer_matches(ISS, ISS)
    assert oidc.issuer_matches("https://IDP.example:8443/realms/dev", ISS)
    assert not oidc.issuer_matches("https://idp.example:8443/realms/DEV", ISS)
    assert not oidc.issuer_matches(ISS + "/", ISS)
    assert not oidc.issuer_matches("https://idp.example/realms/dev", ISS)
    assert not oidc.issuer_matches("http://idp.example:8443/realms/dev", ISS)
    assert oidc.issuer_matches("https://auth.example/", "https://auth.example/")
    assert not oidc.issuer_matches("https://auth.example", "https://auth.example/")


# --- The cache -----------------------------------------------------------------------------------
def test_cache_refreshes_once_for_unknown_kids_then_rate_limits() -> None:
    k1, k2 = new_key("RS256"), new_key("RS256")
    idp, clock = FakeIdp(k1), Clock()
    cache = oidc.JwksCache(idp, clock=clock, forced_refresh_interval=10)
    assert cache.key_for(ISS, (), k1.kid, "RS256") is not None and idp.calls == 1
    idp.keys = [k2]  # rotation
    assert cache.key_for(ISS, (), k2.kid, "RS256") is not None and idp.calls == 2
    for _ in range(20):
        with pytest.raises(InvalidIdentityToken):
            cache.key_for(ISS, (), "random-kid", "RS256")
    assert idp.calls == 2
    clock.now += 11
    with pytest.raises(InvalidIdentityToken):
        cache.key_for(ISS, (), "random-kid", "RS256")
    assert idp.calls == 3
    clock.now += 600  # expiry: an ordinary refetch
    cache.key_for(ISS, (), k2.kid, "RS256")
    assert idp.calls == 4


def test_cache_is_per_issuer_and_thumbprints() -> None:
    k = new_key("ES256")
    idp = FakeIdp(k)
    cache = oidc.JwksCache(idp)
    cache.key_for(ISS, (), k.kid, "ES256")
    cache.key_for(ISS, ("AB" * 20,), k.kid, "ES256")
    cache.key_for(ISS + "2", (), k.kid, "ES256")
    cache.key_for(ISS, ("ab" * 20,), k.kid, "ES256")
    assert idp.calls == 3


def test_failures_are_remembered_briefly_and_expired_keys_never_used() -> None:
    k = new_key("RS256")
    idp, clock = FakeIdp(k), Clock()
    cache = oidc.JwksCache(idp, clock=clock, failure_backoff=2)
    cache.key_for(ISS, (), k.kid, "RS256")
    clock.now += 601
    idp.fail = True
    with pytest.raises(IDPCommunicationError):
        cache.key_for(ISS, (), k.kid, "RS256")
    with pytest.raises(IDPCommunicationError):
        cache.key_for(ISS, (), k.kid, "RS256")
    assert idp.calls == 2  # the second call did not reach the IdP
    clock.now += 3
    idp.fail = False
    cache.key_for(ISS, (), k.kid, "RS256")
    assert idp.calls == 3


def test_no_thundering_herd() -> None:
    k = new_key("RS256")
    idp = FakeIdp(k)
    idp.delay = 0.2
    cache = oidc.JwksCache(idp)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.key_for(ISS, (), k.kid, "RS256"))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20 and idp.calls == 1


def test_token_without_kid_needs_exactly_one_fitting_key() -> None:
    a, b = new_key("RS256"), new_key("RS256")
    cache = oidc.JwksCache(FakeIdp(a))
    assert cache.key_for(ISS, (), None, "RS256") is not None
    cache2 = oidc.JwksCache(FakeIdp(a, b))
    with pytest.raises(InvalidIdentityToken):
        cache2.key_for(ISS, (), None, "RS256")


# --- Claims --------------------------------------------------------------------------------------
def claims(**overrides: Any) -> dict[str, Any]:
    base = {"iss": ISS, "sub": "s", "aud": "c", "iat": 1000, "exp": 2000}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_times_use_the_given_clock_with_leeway() -> None:
    oidc.check_claims(claims(), ISS, ["c"], 1500)
    oidc.check_claims(claims(), ISS, ["c"], 2000 + oidc.LEEWAY - 1)
    with pytest.raises(ExpiredTokenException):
        oidc.check_claims(claims(), ISS, ["c"], 2000 + oidc.LEEWAY)
    oidc.check_claims(claims(iat=1000 + oidc.LEEWAY), ISS, ["c"], 1000)
    with pytest.raises(InvalidIdentityToken):
        oidc.check_claims(claims(iat=1001 + oidc.LEEWAY), ISS, ["c"], 1000)
    with pytest.raises(InvalidIdentityToken):
        oidc.check_claims(claims(nbf=1500), ISS, ["c"], 1100)


def test_audience_rules() -> None:
    assert oidc.check_claims(claims(aud=["x", "c"]), ISS, ["c"], 1500).audience == "c"
    assert oidc.check_claims(claims(aud="x", azp="c"), ISS, ["c"], 1500).audience == "c"
    with pytest.raises(InvalidIdentityToken):
        oidc.check_claims(claims(aud="x"), ISS, ["c"], 1500)
    with pytest.raises(InvalidIdentityToken):
        oidc.check_claims(claims(), ISS, [], 1500)


def test_inspect_rejects_disallowed_algorithms() -> None:
    k = new_key("RS256")
    good = jwt.encode(claims(), k.private, algorithm="RS256", headers={"kid": k.kid})
    assert oidc.inspect_token(good).issuer == ISS
    for alg in ("HS256", "none", "ES256K", "RS1"):
        header = json.dumps({"alg": alg}).encode()
        import base64

        token = base64.urlsafe_b64encode(header).rstrip(b"=").decode() + "." + good.split(".", 1)[1]
        with pytest.raises(InvalidIdentityToken):
            oidc.inspect_token(token)


def test_session_tag_claim_shapes() -> None:
    tags = {oidc.AWS_TAGS_CLAIM: {"principal_tags": {"a": ["1"], "b": "2"}, "transitive_tag_keys": ["a"]}}
    assert oidc.session_tags_claim(tags) == ((("a", "1"), ("b", "2")), ("a",))
    assert oidc.session_tags_claim({}) == ((), ())
    for bad in ({"principal_tags": {"a": []}}, {"principal_tags": {"a": [1]}}, {"principal_tags": []}, []):
        with pytest.raises(oidc.ClaimError):
            oidc.session_tags_claim({oidc.AWS_TAGS_CLAIM: bad})
