from __future__ import annotations

import base64
import copy
import hashlib
import re

import pytest

from opensts.tokens import (
    AuthorizationMessageInvalid,
    KeyRing,
    decode_authorization_message,
    encode_authorization_message,
)
from opensts.tokens.authorization_message import MAX_ENCODED_CHARS
from opensts.tokens.keyring import SigningKey


def _noise(n: int, seed: int) -> str:
    """``n`` incompressible-ish characters (hex of a hash chain), deterministic."""
    out, h = [], hashlib.sha256(str(seed).encode()).digest()
    while len(out) * 64 < n:
        out.append(h.hex())
        h = hashlib.sha256(h).digest()
    return "".join(out)[:n]


def document(n_conditions: int = 3, value_len: int = 10, n_statements: int = 1) -> dict:
    """The shape of reference §11."""
    return {
        "allowed": False,
        "explicitDeny": True,
        "matchedStatements": {"items": [
            {"statementId": f"S{i}", "effect": "DENY", "principals": {"items": [{"value": "AROAEXAMPLE"}]},
             "actions": {"items": [{"value": "ec2:StopInstances"}]}, "resources": {"items": [{"value": "*"}]},
             "conditions": {"items": []}} for i in range(n_statements)]},
        "failures": {"items": []},
        "context": {
            "principal": {"id": "AROAY34FZKBOKMUTVV7AB:alice",
                          "arn": "arn:aws:sts::609629065308:assumed-role/ops/alice"},
            "action": "ec2:StopInstances",
            "resource": "arn:aws:ec2:us-east-1:609629065308:instance/i-0abc",
            "conditions": {"items": [
                {"key": f"aws:Key{i}", "values": {"items": [{"value": f"{i:06d}" + _noise(value_len, i)}]}}
                for i in range(n_conditions)]},
        },
    }


def test_round_trip(ring):
    doc = document()
    msg = encode_authorization_message(doc, ring)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", msg)
    assert decode_authorization_message(msg, ring) == doc
    assert decode_authorization_message("  " + msg + "\n", ring) == doc  # pasted from a terminal
    assert encode_authorization_message(doc, ring) != msg  # fresh nonce


def test_unicode_round_trip(ring):
    item = {"key": "aws:PrincipalTag/é", "values": {"items": [{"value": "🙂"}]}}
    doc = {"context": {"conditions": {"items": [item]}}}
    assert decode_authorization_message(encode_authorization_message(doc, ring), ring) == doc


def test_small_documents_are_not_truncated(ring):
    doc = document(n_conditions=60, value_len=40, n_statements=5)
    out = decode_authorization_message(encode_authorization_message(doc, ring), ring)
    assert out == doc and "truncated" not in out


@pytest.mark.parametrize(
    "doc",
    [
        document(n_conditions=2000, value_len=300),  # many keys, long values
        document(n_conditions=5, value_len=200_000),  # a few enormous values
        document(n_conditions=100, n_statements=3000),  # many statements
        {"allowed": False, "explicitDeny": False, "blob": [_noise(100, i) for i in range(2000)]},  # not under items
        {"allowed": False, "context": {"principal": {"arn": _noise(10**5, 1)}, "action": _noise(10**5, 2),
                                       "resource": _noise(10**5, 3)}},
    ],
)
def test_bounded_size_with_documented_truncation(doc, ring):
    original = copy.deepcopy(doc)
    msg = encode_authorization_message(doc, ring)
    assert len(msg) <= MAX_ENCODED_CHARS
    assert doc == original  # input untouched
    out = decode_authorization_message(msg, ring)
    assert out["truncated"] is True
    assert out["allowed"] is False
    if "context" in doc and "action" in doc["context"]:
        action = doc["context"]["action"]
        assert out["context"]["action"] == (action if len(action) <= 256 else action[:256] + "...")


def test_truncation_keeps_a_prefix_of_the_conditions(ring):
    doc = document(n_conditions=3000, value_len=2000)
    out = decode_authorization_message(encode_authorization_message(doc, ring), ring)
    items = out["context"]["conditions"]["items"]
    assert 0 < len(items) < 3000
    assert [i["key"] for i in items] == [f"aws:Key{i}" for i in range(len(items))]
    assert all(len(i["values"]["items"][0]["value"]) == 256 + 3 for i in items)  # cut at 256 + "..."
    assert out["context"]["principal"] == doc["context"]["principal"]


def test_every_bit_flip_rejected(ring):
    msg = encode_authorization_message(document(), ring)
    raw = base64.urlsafe_b64decode(msg + "=" * (-len(msg) % 4))
    for i in range(len(raw)):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            with pytest.raises(AuthorizationMessageInvalid):
                decode_authorization_message(base64.urlsafe_b64encode(bytes(bad)).rstrip(b"=").decode(), ring)


def test_truncation_rejected(ring):
    msg = encode_authorization_message(document(), ring)
    for n in range(len(msg)):
        with pytest.raises(AuthorizationMessageInvalid):
            decode_authorization_message(msg[:n], ring)


def test_foreign_key_rejected(ring):
    msg = encode_authorization_message(document(), ring)
    with pytest.raises(AuthorizationMessageInvalid) as exc:
        decode_authorization_message(msg, KeyRing.generate())
    assert exc.value.reason == "unknown-key"
    same_id = KeyRing([SigningKey(ring.active_key_id, b"\x01" * 32, 0)], ring.active_key_id)
    with pytest.raises(AuthorizationMessageInvalid) as exc:
        decode_authorization_message(msg, same_id)
    assert exc.value.reason == "authentication"


@pytest.mark.parametrize(
    "junk", ["", " ", "A", "====", "abc+def", "abc/def", "é", "A" * 20000, "AAAA" * 30, None, b"AAAA"]
)
def test_garbage_rejected(junk, ring):
    with pytest.raises(AuthorizationMessageInvalid):
        decode_authorization_message(junk, ring)  # type: ignore[arg-type]


def test_non_dict_document_refused(ring):
    with pytest.raises(TypeError):
        encode_authorization_message([1, 2], ring)  # type: ignore[arg-type]


# --- the DEFLATE stream: stored block for small documents, compressed above -------------------------
def _stream(text: str, ring: KeyRing) -> bytes:
    """The decrypted DEFLATE stream of an encoded message (to see which form the encoder chose)."""
    from opensts.tokens import hazmat
    from opensts.tokens.authorization_message import _HEADER_SIZE, _LABEL

    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    key = ring.get_raw(raw[1:5])
    return hazmat.open_(key._message_aead, raw[_HEADER_SIZE:], _LABEL + raw[:_HEADER_SIZE])


def test_small_documents_go_as_one_stored_block_and_large_ones_compressed(ring):
    from opensts.tokens.deflate import stored_block_payload

    small, large = document(), document(n_conditions=40, value_len=60)
    for doc, stored in ((small, True), (large, False)):
        text = encode_authorization_message(doc, ring)
        assert decode_authorization_message(text, ring) == doc
        assert (stored_block_payload(_stream(text, ring), 0xFFFF) is not None) is stored


def test_lone_surrogates_still_encode(ring):
    # pydantic-core refuses lone surrogates; json's surrogatepass keeps them (the decoder reads them back).
    doc = document()
    doc["context"]["resource"] = "arn:aws:s3:::b/\udcff"
    assert decode_authorization_message(encode_authorization_message(doc, ring), ring) == doc
