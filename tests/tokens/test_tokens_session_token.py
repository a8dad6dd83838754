from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import zlib

import pytest

from opensts.tokens import (
    KINDS,
    AuthorizationMessageInvalid,
    InvalidSessionToken,
    KeyRing,
    SessionClaims,
    decode_authorization_message,
    decode_session_token,
    encode_authorization_message,
    encode_session_token,
    packed_policy_size_percent,
)
from opensts.tokens import session_token as st
from opensts.tokens.keyring import SigningKey

from .conftest import ACCT, make_claims

POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'


def test_round_trip_full(claims, ring):
    token = encode_session_token(claims, ring)
    assert decode_session_token(token, ring) == claims
    assert base64.b64encode(base64.b64decode(token)).decode() == token  # standard base64 alphabet


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_minimal(kind, ring):
    claims = make_claims(kind=kind, mfa_authenticated_at=None, source_identity=None, tags=(),
                         transitive_tag_keys=(), session_policy=None, policy_arns=(), role_chained=False,
                         attributes=(), federated_provider="arn:aws:iam::609629065308:oidc-provider/x")
    assert decode_session_token(encode_session_token(claims, ring), ring) == claims


def test_tokens_are_compact_and_randomised(claims, ring):
    minimal = make_claims(session_policy=None, policy_arns=(), attributes=(), tags=(), transitive_tag_keys=())
    t1, t2 = encode_session_token(minimal, ring), encode_session_token(minimal, ring)
    assert t1 != t2  # fresh nonce each time
    # A session without policies or tags is sent uncompressed (a DEFLATE stored block: cheaper to
    # build than to compress); AWS's own session tokens are longer still.
    assert len(t1) < 512
    assert len(encode_session_token(claims, ring)) < 600  # policies and tags are compressed
    assert claims.secret_access_key not in base64.b64decode(t1).decode("latin-1")


def test_header_layout(claims, ring):
    raw = base64.b64decode(encode_session_token(claims, ring))
    assert raw[0] == 0x01 and raw[1:5] == bytes.fromhex(ring.active_key_id)


def test_lists_are_normalised_to_tuples():
    c = make_claims(tags=[["a", "b"]], policy_arns=["arn:x"], transitive_tag_keys=["a"], attributes=[("k", "v")])
    assert c.tags == (("a", "b"),) and c.policy_arns == ("arn:x",) and c.transitive_tag_keys == ("a",)
    assert hash(c) == hash(make_claims(tags=(("a", "b"),), policy_arns=("arn:x",), transitive_tag_keys=("a",),
                                       attributes=(("k", "v"),)))


@pytest.mark.parametrize(
    "overrides",
    [{"kind": "user"}, {"issued_at": 1.5}, {"expires_at": 1}, {"issued_at": True}, {"access_key_id": ""},
     {"secret_access_key": None}, {"tags": (("a",),)}, {"tags": (("a", 1),)}, {"role_chained": 1},
     {"mfa_authenticated_at": "now"}, {"session_policy": b"{}"}, {"policy_arns": (1,)}, {"account_id": 609629065308}],
)
def test_claims_validation(overrides):
    with pytest.raises((TypeError, ValueError)):
        make_claims(**overrides)


def test_claims_helpers(claims):
    assert claims.mfa_present and claims.mfa_age(claims.mfa_authenticated_at + 30) == 30
    assert make_claims(mfa_authenticated_at=None).mfa_age(0) is None
    assert not claims.is_expired(claims.expires_at - 1) and claims.is_expired(claims.expires_at)
    assert claims.secret_access_key not in repr(claims)


def test_expiry_is_not_checked_by_codec(ring):
    expired = make_claims(issued_at=0, expires_at=900)
    assert decode_session_token(encode_session_token(expired, ring), ring).expires_at == 900


# -- rejection ------------------------------------------------------------------------------------
def test_every_bit_flip_rejected(claims, ring):
    raw = base64.b64decode(encode_session_token(claims, ring))
    for i in range(len(raw)):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            with pytest.raises(InvalidSessionToken):
                decode_session_token(base64.b64encode(bytes(bad)).decode(), ring)


def test_every_character_substitution_rejected(claims, ring):
    token = encode_session_token(claims, ring)
    for i, ch in enumerate(token):
        for other in {"A", "B", "/", "+", "=", "a"} - {ch}:
            with pytest.raises(InvalidSessionToken):
                decode_session_token(token[:i] + other + token[i + 1:], ring)


def test_truncation_and_extension_rejected(claims, ring):
    token = encode_session_token(claims, ring)
    for n in range(len(token)):
        with pytest.raises(InvalidSessionToken):
            decode_session_token(token[:n], ring)
    raw = base64.b64decode(token)
    for bad in (raw[:-1], raw + b"\x00", raw[:17], raw[:5]):
        with pytest.raises(InvalidSessionToken):
            decode_session_token(base64.b64encode(bad).decode(), ring)
    for bad in (token + "A", token + "=", " " + token, token + "\n", token.rstrip("=")):
        if bad != token:
            with pytest.raises(InvalidSessionToken):
                decode_session_token(bad, ring)


def test_other_key_ring_rejected(claims, ring):
    token = encode_session_token(claims, ring)
    with pytest.raises(InvalidSessionToken) as exc:
        decode_session_token(token, KeyRing.generate())
    assert exc.value.reason == "unknown-key"
    # same key id, different key: a foreign deployment that happened to pick the same id
    same_id = KeyRing([SigningKey(ring.active_key_id, b"\x00" * 32, 0)], ring.active_key_id)
    with pytest.raises(InvalidSessionToken) as exc:
        decode_session_token(token, same_id)
    assert exc.value.reason == "authentication"


def test_unknown_version_rejected(claims, ring):
    raw = bytearray(base64.b64decode(encode_session_token(claims, ring)))
    raw[0] = 0x03
    with pytest.raises(InvalidSessionToken) as exc:
        decode_session_token(base64.b64encode(bytes(raw)).decode(), ring)
    assert exc.value.reason == "unsupported-version"


def test_version_byte_is_authenticated(claims, ring):
    # A v1 token relabelled v2 (or the reverse) does not verify: the version byte is in the AAD.
    for min_size, new_version in ((0, 0x02), (2000, 0x01)):
        raw = bytearray(base64.b64decode(encode_session_token(claims, ring, min_size=min_size)))
        raw[0] = new_version
        with pytest.raises(InvalidSessionToken) as exc:
            decode_session_token(base64.b64encode(bytes(raw)).decode(), ring)
        assert exc.value.reason == "authentication"


def test_plain_tokens_stay_version_1(claims, ring):
    # Nodes that know only version 1 keep reading every token without scope-down policies or padding.
    assert base64.b64decode(encode_session_token(claims, ring))[0] == 0x01
    scoped = dataclasses.replace(claims, scope_policies=(POLICY,))
    assert base64.b64decode(encode_session_token(scoped, ring))[0] == 0x02


def test_scope_policies_round_trip(claims, ring):
    scoped = dataclasses.replace(claims, scope_policies=(POLICY, POLICY.replace("s3", "ec2"), "{}"))
    assert decode_session_token(encode_session_token(scoped, ring), ring) == scoped
    with pytest.raises(ValueError):
        dataclasses.replace(claims, scope_policies=("{}",) * 4)


@pytest.mark.parametrize("min_size", [0, 1, 100, 401, 402, 403, 404, 405, 1000, 1001, 1002, 1003, 2048, 4095, 4096])
def test_padding_reaches_the_minimum_size_and_decodes(claims, ring, min_size):
    token = encode_session_token(claims, ring, min_size=min_size)
    plain = encode_session_token(claims, ring)
    assert len(token) >= min_size
    if len(plain) >= min_size:
        assert len(token) == len(plain)  # no padding needed: none added
    else:
        assert len(token) - min_size < 4  # the smallest base64 length at or above the minimum
    assert decode_session_token(token, ring) == claims


def test_padding_keeps_a_well_compressed_token_small(claims, ring):
    """Padding follows the compressed claims: a token whose claims compress well (50 long, alike
    session tags) grows to the minimum, not to its uncompressed size (which would pass the largest
    token size and refuse a request that succeeds unpadded)."""
    tags = tuple((f"k{i:03d}" + "a" * 124, "v" * 256) for i in range(50))
    big = dataclasses.replace(claims, tags=tags, transitive_tag_keys=tuple(k for k, _ in tags))
    plain = encode_session_token(big, ring)
    padded = encode_session_token(big, ring, min_size=4096)
    assert len(plain) < 4096 <= len(padded) < 4096 + 4
    assert decode_session_token(padded, ring) == big


@pytest.mark.parametrize("min_size", [-1, 4097, 2.5])
def test_padding_size_out_of_range(claims, ring, min_size):
    with pytest.raises(ValueError):
        encode_session_token(claims, ring, min_size=min_size)


@pytest.mark.parametrize(
    "junk",
    ["", "=", "====", "A", "AAAA", "not a token", "é", "\x00" * 8, "A" * 100, "FwoGZXIvYXdzEBYaDH" * 20,
     "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJGMEQCIB", "A" * 70000, "🙂" * 10],
)
def test_garbage_rejected(junk, ring):
    with pytest.raises(InvalidSessionToken):
        decode_session_token(junk, ring)


@pytest.mark.parametrize("junk", [None, b"AAAA", 5, ["x"]])
def test_non_strings_rejected(junk, ring):
    with pytest.raises(InvalidSessionToken):
        decode_session_token(junk, ring)  # type: ignore[arg-type]


def _forge(ring: KeyRing, plaintext: bytes) -> str:
    """A token correctly encrypted with the ring's key but with a chosen (bad) payload."""
    key = ring.active
    header = bytes((1,)) + key.raw_id
    from opensts.tokens import hazmat

    return base64.b64encode(header + hazmat.seal(key._session_aead, plaintext, st._LABEL + header)).decode()


def _deflate(obj) -> bytes:
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    co = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, st.ZDICT_V1)
    return co.compress(data) + co.flush()


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not deflate",
        _deflate(b"not json"),
        _deflate([1, 2]),
        _deflate({}),
        _deflate({**st._to_wire(make_claims()), "zz": 1}),  # unknown field: fail closed
        _deflate({**st._to_wire(make_claims()), "t": 9}),
        _deflate({**st._to_wire(make_claims()), "t": "assumed-role"}),
        _deflate({**st._to_wire(make_claims()), "ia": "1"}),
        _deflate({**st._to_wire(make_claims()), "rc": True}),
        _deflate({**st._to_wire(make_claims()), "tg": [["a"]]}),
        _deflate({**st._to_wire(make_claims()), "tg": "ab"}),
        _deflate({k: v for k, v in st._to_wire(make_claims()).items() if k != "s"}),
        _deflate(json.dumps(st._to_wire(make_claims())).encode() + b"x"),
        _deflate(st._to_wire(make_claims())) + b"trailing",
        _deflate(st._to_wire(make_claims()))[:-3],
        _deflate(b"[" * 100000),
        _deflate(b" " * (2 * 1024 * 1024)),  # inflation bomb beyond the cap
    ],
)
def test_authentic_garbage_inside_rejected(payload, ring):
    with pytest.raises(InvalidSessionToken) as exc:
        decode_session_token(_forge(ring, payload), ring)
    assert exc.value.reason == "payload"


def test_forge_helper_is_faithful(claims, ring):
    assert decode_session_token(_forge(ring, _deflate(st._to_wire(claims))), ring).access_key_id == claims.access_key_id


def test_non_ascii_and_surrogates_round_trip(ring):
    c = make_claims(tags=(("ключ", "值 🙂"), ("k", "\udc80")), session_policy='{"Resource":"é"}',
                    attributes=(("x", "\x00\n"),))
    assert decode_session_token(encode_session_token(c, ring), ring) == c


def test_zdict_is_frozen():
    # ZDICT_V1 is part of wire format v1: changing it breaks every issued token.
    assert hashlib.sha256(st.ZDICT_V1).hexdigest() == ZDICT_V1_SHA256


ZDICT_V1_SHA256 = "c287c9d3cb148b0886ebabb1dc2ecf76e438781cc95a5483b0ba0f7f1fc8f4fa"


# -- cross-codec ----------------------------------------------------------------------------------
def test_session_token_is_not_an_authorization_message(claims, ring):
    token = encode_session_token(claims, ring)
    for text in (token, token.rstrip("=").replace("+", "-").replace("/", "_")):
        with pytest.raises(AuthorizationMessageInvalid):
            decode_authorization_message(text, ring)


def test_authorization_message_is_not_a_session_token(ring):
    msg = encode_authorization_message({"allowed": False}, ring)
    raw = base64.urlsafe_b64decode(msg + "=" * (-len(msg) % 4))
    for text in (msg, base64.b64encode(raw).decode()):
        with pytest.raises(InvalidSessionToken):
            decode_session_token(text, ring)
    # even with the version byte swapped, the subkey/associated data differ
    swapped = base64.b64encode(b"\x01" + raw[1:]).decode()
    with pytest.raises(InvalidSessionToken) as exc:
        decode_session_token(swapped, ring)
    assert exc.value.reason == "authentication"


# -- PackedPolicySize -------------------------------------------------------------------------------
REALISTIC_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [
        {"Sid": f"Stmt{i}", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::bucket-{i}-data/prefix/*", f"arn:aws:s3:::bucket-{i}-data"],
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": f"team{i}"}}} for i in range(5)]},
    indent=2,
)


def test_packed_size_plain_policy_well_under_100():
    assert 1800 < len(REALISTIC_POLICY) <= 2048
    pct = packed_policy_size_percent(REALISTIC_POLICY, (), [("team", "infra"), ("env", "prod")])
    assert 5 <= pct <= 40


def test_packed_size_can_exceed_100():
    arns = [f"arn:aws:iam::{ACCT}:policy/team-{i}/SomeManagedPolicyName{i}" for i in range(10)]
    long_tags = [(hashlib.sha256(b"k%d" % i).hexdigest()[:40], hashlib.sha512(b"v%d" % i).hexdigest()[:200])
                 for i in range(50)]
    assert packed_policy_size_percent(REALISTIC_POLICY, arns, long_tags) > 100


def test_packed_size_stable_and_canonical():
    tags = [("team", "infra"), ("Env", "prod")]
    a = packed_policy_size_percent(REALISTIC_POLICY, ["arn:b", "arn:a"], tags)
    b = packed_policy_size_percent(json.dumps(json.loads(REALISTIC_POLICY)), ["arn:a", "arn:b"], tags[::-1])
    assert a == b
    assert packed_policy_size_percent(None, (), ()) == 0
    assert 1 <= packed_policy_size_percent("{}", (), ()) <= 3
    assert packed_policy_size_percent("not json {", (), ()) >= 1

@pytest.mark.skipif("ng" in zlib.ZLIB_RUNTIME_VERSION, reason="zlib-ng finds other matches than classic zlib")
def test_packed_size_pinned_values():
    # the packing is a public, stable definition (docs/SESSION-TOKENS.md); classic zlib's level-9
    # output has not changed in many releases
    assert packed_policy_size_percent(REALISTIC_POLICY, (), [("team", "infra"), ("env", "prod")]) == PINNED_REALISTIC
    assert st.packed_policy_size('{"Version":"2012-10-17"}', ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                                 [("team", "infra")]) == PINNED_SMALL


PINNED_REALISTIC = 15
PINNED_SMALL = 99
