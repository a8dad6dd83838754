"""The JWT signing keys' rotation policy (tokens/jwt_keys.py): pure functions of the rows and ``now``."""

from __future__ import annotations

import json

import jwt

from opensts.tokens.jwt_keys import (
    MAX_TOKEN_LIFETIME,
    PUBLISH_AHEAD,
    JwtSigner,
    missing_jwt_key_records,
    published_jwks,
    rotate_jwt_key_records,
    signing_key_id,
)
from opensts.tokens.master_key import MasterKey

T0 = 1_800_000_000


def test_first_keys_sign_at_once_and_are_published() -> None:
    master = MasterKey.generate()
    records = list(missing_jwt_key_records([], master, T0) or ())
    assert sorted(r.algorithm for r in records) == ["ES384", "RS256"]
    assert missing_jwt_key_records(records, master, T0) is None
    kids = {k["kid"] for k in published_jwks(records, T0)["keys"]}
    assert {signing_key_id(records, "RS256", T0), signing_key_id(records, "ES384", T0)} == kids


def test_a_new_key_is_published_before_it_signs_and_the_old_one_stays_until_its_tokens_expire() -> None:
    master = MasterKey.generate()
    first = list(missing_jwt_key_records([], master, T0) or ())
    old = signing_key_id(first, "RS256", T0)
    rotated_at = T0 + PUBLISH_AHEAD + 10  # the first keys have been published long enough
    rotated = list(rotate_jwt_key_records(first, master, rotated_at))
    new = next(r.key_id for r in rotated if r.active and r.algorithm == "RS256")
    assert new != old
    published = {k["kid"] for k in published_jwks(rotated, rotated_at)["keys"]}
    assert {old, new} <= published
    assert signing_key_id(rotated, "RS256", rotated_at) == old  # verifiers may not know the new key yet
    assert signing_key_id(rotated, "RS256", rotated_at + PUBLISH_AHEAD) == new
    last_old_token_expiry = rotated_at + PUBLISH_AHEAD - 1 + MAX_TOKEN_LIFETIME
    assert old in {k["kid"] for k in published_jwks(rotated, last_old_token_expiry)["keys"]}
    later = last_old_token_expiry + 3600
    assert old not in {k["kid"] for k in published_jwks(rotated, later)["keys"]}
    # The next rotation drops the expired rows.
    assert old not in {r.key_id for r in rotate_jwt_key_records(rotated, master, later)}


def test_signed_tokens_verify_with_the_published_key() -> None:
    master = MasterKey.generate()
    records = list(missing_jwt_key_records([], master, T0) or ())
    signer = JwtSigner(master)
    for alg in ("RS256", "ES384"):
        token, kid = signer.sign(records, alg, {"sub": "x", "aud": "y"}, T0)
        jwk = next(k for k in published_jwks(records, T0)["keys"] if k["kid"] == kid)
        assert jwt.decode(token, jwt.PyJWK(jwk), algorithms=[alg], audience="y")["sub"] == "x"
        assert jwt.get_unverified_header(token) == {"alg": alg, "kid": kid, "typ": "JWT"}
    # Nothing private in the stored public JWKs.
    for record in records:
        assert not {"d", "p", "q"} & set(json.loads(record.public_jwk))
