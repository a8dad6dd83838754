"""Property tests (hypothesis): random claims round-trip; random input never raises anything but the typed error."""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

RING = KeyRing.generate()
OTHER = KeyRing.generate()

text = st.text(max_size=80)
opt_text = st.none() | text
epoch = st.integers(min_value=0, max_value=2**40)
pairs = st.lists(st.tuples(text, text), max_size=6).map(tuple)


@st.composite
def claims_strategy(draw) -> SessionClaims:
    issued = draw(epoch)
    return SessionClaims(
        access_key_id=draw(st.text(min_size=1, max_size=40)),
        secret_access_key=draw(st.text(min_size=1, max_size=60)),
        account_id=draw(st.from_regex(r"[0-9]{12}", fullmatch=True)),
        kind=draw(st.sampled_from(KINDS)),
        principal_arn=draw(text),
        principal_id=draw(text),
        source_arn=draw(text),
        source_id=draw(text),
        issued_at=issued,
        expires_at=issued + draw(st.integers(min_value=0, max_value=10**6)),
        mfa_authenticated_at=draw(st.none() | st.integers(min_value=-(2**40), max_value=2**40)),
        source_identity=draw(opt_text),
        tags=draw(pairs),
        transitive_tag_keys=tuple(draw(st.lists(text, max_size=5))),
        session_policy=draw(st.none() | st.text(max_size=2048)),
        policy_arns=tuple(draw(st.lists(text, max_size=10))),
        role_chained=draw(st.booleans()),
        federated_provider=draw(opt_text),
        attributes=draw(pairs),
        scope_policies=tuple(draw(st.lists(st.text(max_size=300), max_size=3))),
    )


@settings(max_examples=200, deadline=None)
@given(claims_strategy())
def test_random_claims_round_trip(claims):
    token = encode_session_token(claims, RING)
    assert decode_session_token(token, RING) == claims


@settings(max_examples=100, deadline=None)
@given(claims_strategy(), st.integers(min_value=0, max_value=4096))
def test_padded_claims_round_trip(claims, min_size):
    token = encode_session_token(claims, RING, min_size=min_size)
    assert len(token) >= min_size
    assert decode_session_token(token, RING) == claims


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_random_text_never_raises_other_errors(junk):
    for decode, error in ((decode_session_token, InvalidSessionToken),
                          (decode_authorization_message, AuthorizationMessageInvalid)):
        try:
            decode(junk, RING)
        except error:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_as_base64_never_raise_other_errors(blob):
    for candidate in (blob, b"\x01" + RING.active.raw_id + blob, b"\xa1" + RING.active.raw_id + blob):
        try:
            decode_session_token(base64.b64encode(candidate).decode(), RING)
        except InvalidSessionToken:
            pass
        try:
            decode_authorization_message(base64.urlsafe_b64encode(candidate).rstrip(b"=").decode(), RING)
        except AuthorizationMessageInvalid:
            pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims_strategy(), st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_any_bit_flip_rejected(claims, position, bit):
    raw = bytearray(base64.b64decode(encode_session_token(claims, RING)))
    raw[position % len(raw)] ^= 1 << bit
    try:
        decode_session_token(base64.b64encode(bytes(raw)).decode(), RING)
    except InvalidSessionToken:
        return
    raise AssertionError("tampered token accepted")


@settings(max_examples=100, deadline=None)
@given(claims_strategy())
def test_foreign_ring_rejects(claims):
    token = encode_session_token(claims, RING)
    try:
        decode_session_token(token, OTHER)
    except InvalidSessionToken:
        return
    raise AssertionError("foreign token accepted")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_random_authorization_documents_round_trip(doc):
    msg = encode_authorization_message(doc, RING)
    assert len(msg) <= 10240
    assert decode_authorization_message(msg, RING) == doc


@settings(max_examples=100, deadline=None)
@given(st.none() | st.text(max_size=300), st.lists(st.text(max_size=60), max_size=10),
       st.lists(st.tuples(st.text(max_size=40), st.text(max_size=80)), max_size=20))
def test_packed_size_is_order_independent_and_non_negative(policy, arns, tags):
    pct = packed_policy_size_percent(policy, arns, tags)
    assert pct >= 0
    assert pct == packed_policy_size_percent(policy, list(reversed(arns)), list(reversed(tags)))
