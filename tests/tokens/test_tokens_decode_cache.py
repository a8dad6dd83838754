"""The server remembers decoded session tokens per token string and key ring."""

from __future__ import annotations

import pytest

from opensts.server import auth
from opensts.tokens.errors import InvalidSessionToken
from opensts.tokens.keyring import KeyRing
from opensts.tokens.session_token import SessionClaims, encode_session_token


def test_a_token_is_decoded_once_per_key_ring(claims: SessionClaims, ring: KeyRing) -> None:
    token = encode_session_token(claims, ring)
    first = auth.decoded_session_token(token, ring)
    assert first == claims
    assert auth.decoded_session_token(token, ring) is first  # remembered
    reloaded = KeyRing([ring[key_id] for key_id in ring], ring.active_key_id)  # what a reload builds
    again = auth.decoded_session_token(token, reloaded)  # a reloaded ring decodes afresh
    assert again == claims and again is not first


def test_a_ring_without_the_key_rejects_a_remembered_token(claims: SessionClaims, ring: KeyRing) -> None:
    token = encode_session_token(claims, ring)
    auth.decoded_session_token(token, ring)
    foreign = KeyRing.generate(now=1_795_000_000)
    with pytest.raises(InvalidSessionToken):
        auth.decoded_session_token(token, foreign)


def test_bad_tokens_are_not_remembered(ring: KeyRing) -> None:
    for _ in range(2):
        with pytest.raises(InvalidSessionToken):
            auth.decoded_session_token("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ring)
    assert "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" not in auth._decoded
