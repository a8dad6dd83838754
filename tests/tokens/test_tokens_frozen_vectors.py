"""Frozen vectors: tokens, messages and sealed secrets made by an earlier release must keep decoding.

``vectors/v1.json`` was produced once (2026-12-03) with fixed keys; it is data, never regenerated.
A change that breaks one of these tests breaks every session token, encoded authorization message
or sealed secret already handed out or stored — bump the format version instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opensts.tokens import (
    PURPOSE_SIGNING_KEY,
    InvalidSessionToken,
    KeyRing,
    MasterKey,
    SessionClaims,
    decode_authorization_message,
    decode_session_token,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "v1.json").read_text())
# Format v2 tokens (scope-down layers, padding), made with v1.json's keys.
VECTORS_V2 = json.loads((Path(__file__).parent / "vectors" / "v2.json").read_text())


def ring() -> KeyRing:
    keys = {kid: bytes.fromhex(k) for kid, k in VECTORS["keys"].items()}
    return KeyRing.from_keys(keys, VECTORS["active_key_id"])


def claims_of(data: dict) -> SessionClaims:
    data = dict(data)
    for name in ("tags", "attributes"):
        data[name] = tuple(tuple(pair) for pair in data[name])
    for name in ("transitive_tag_keys", "policy_arns", "scope_policies"):
        data[name] = tuple(data.get(name, ()))
    return SessionClaims(**data)


@pytest.mark.parametrize("vector", VECTORS["session_tokens"], ids=lambda v: v["name"])
def test_session_tokens_decode(vector: dict) -> None:
    assert decode_session_token(vector["token"], ring()) == claims_of(vector["claims"])


@pytest.mark.parametrize("vector", VECTORS_V2["session_tokens"], ids=lambda v: v["name"])
def test_v2_session_tokens_decode(vector: dict) -> None:
    assert decode_session_token(vector["token"], ring()) == claims_of(vector["claims"])


def test_a_session_token_from_a_dropped_key_is_refused() -> None:
    only_new = KeyRing.from_keys({VECTORS["active_key_id"]: bytes.fromhex(VECTORS["keys"][VECTORS["active_key_id"]])},
                                 VECTORS["active_key_id"])
    with pytest.raises(InvalidSessionToken):
        decode_session_token(VECTORS["session_tokens"][2]["token"], only_new)


@pytest.mark.parametrize("vector", VECTORS["authorization_messages"], ids=lambda v: v["name"])
def test_authorization_messages_decode(vector: dict) -> None:
    assert decode_authorization_message(vector["message"], ring()) == vector["document"]


def test_sealed_secrets_open() -> None:
    master = MasterKey.from_text(VECTORS["master_key"]["text"])
    for item in VECTORS["master_key"]["sealed"]:
        assert item["purpose"] == PURPOSE_SIGNING_KEY
        assert master.open(bytes.fromhex(item["sealed"]), PURPOSE_SIGNING_KEY) == bytes.fromhex(item["plain_hex"])
