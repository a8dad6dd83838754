"""Codec for the encoded authorization messages of DecodeAuthorizationMessage
(https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html).

An AccessDenied answer may carry an opaque *encoded message* explaining the decision; only a caller
allowed ``sts:DecodeAuthorizationMessage`` can read it, via STS. The message is the JSON document
that page documents, authenticated-encrypted with the key ring.

Wire format, version 1 (then URL-safe base64 without padding, at most 10,240 characters)::

    0       1     version = 0xA1
    1       4     key id
    5       12    nonce
    17      n+16  AES-256-GCM( key = HKDF-SHA256(ring key, info=b"opensts/v1/authorization-message"),
                               aad = b"opensts/v1/authorization-message" || bytes 0..4,
                               plaintext = raw DEFLATE of compact UTF-8 JSON: one stored block up to
                           2,048 bytes, compressed above )

Another subkey, associated data, version byte and alphabet than session tokens: a session token is
never accepted as a message or the reverse.

Size bound. ``EncodedMessage`` is at most 10,240 characters (https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html). If the full document
does not fit, it is reduced step by step until it does, and ``"truncated": true`` is added at its top:

1. every string longer than 256 characters (anywhere in the document) is cut to 256 characters
   followed by ``"..."``;
2. then, repeatedly, every ``"items"`` list with two or more elements (``matchedStatements``,
   ``failures``, condition keys, condition values) keeps its first half (rounded up), until the
   message fits or every such list has at most one element;
3. if it still does not fit (huge data outside lists), only ``allowed``, ``explicitDeny``,
   ``context.principal``, ``context.action`` and ``context.resource`` (strings cut as in step 1) are kept.

Messages carry no expiry; they decode while their key is in the ring (about 36 hours after a
rotation, see ``keyring``).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from . import compact_json, hazmat
from .deflate import stored_block
from .errors import AuthorizationMessageInvalid
from .keyring import KeyRing

__all__ = ["encode_authorization_message", "decode_authorization_message", "AuthorizationMessageInvalid",
           "MAX_ENCODED_CHARS"]

VERSION_V1 = 0xA1
_LABEL = b"opensts/v1/authorization-message"
_HEADER_SIZE = 5
_MIN_RAW = _HEADER_SIZE + hazmat.NONCE_SIZE + hazmat.TAG_SIZE
MAX_ENCODED_CHARS = 10240
_MAX_PAYLOAD = 4 * 1024 * 1024
_CUT = 256
STORED_MAX = 2048  # payloads up to this size are not compressed (~2,800 characters at most)


def _encode_once(payload: bytes, keyring: KeyRing) -> str:
    key = keyring.active
    header = bytes((VERSION_V1,)) + key.raw_id
    # A typical denial (~1 KB of JSON) goes as a stored block: compressing it would save ~1 KB of
    # text but cost more than the rest of the encoding (zlib's set-up alone).
    deflated = stored_block(payload) if len(payload) <= STORED_MAX else zlib.compress(payload, 9, -15)
    raw = header + hazmat.seal(key._message_aead, deflated, _LABEL + header)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _cut_strings(x: Any) -> Any:
    if isinstance(x, str):
        return x if len(x) <= _CUT else x[:_CUT] + "..."
    if isinstance(x, dict):
        return {k: _cut_strings(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_cut_strings(v) for v in x]
    return x


def _halve_items(x: Any) -> tuple[Any, bool]:
    """Halve every list of 2+ elements under an ``items`` key (rounded up); (new document, changed?)."""
    changed = False

    def walk(v: Any) -> Any:
        nonlocal changed
        if isinstance(v, dict):
            out = {}
            for k, w in v.items():
                if k == "items" and isinstance(w, list) and len(w) > 1:
                    changed = True
                    w = w[: (len(w) + 1) // 2]
                out[k] = walk(w)
            return out
        if isinstance(v, list):
            return [walk(w) for w in v]
        return v

    return walk(x), changed


def _minimal(doc: dict[str, Any]) -> dict[str, Any]:
    found = doc.get("context")
    ctx: dict[str, Any] = found if isinstance(found, dict) else {}
    out: dict[str, Any] = {k: doc[k] for k in ("allowed", "explicitDeny") if k in doc}
    out["context"] = {k: _cut_strings(ctx[k]) for k in ("principal", "action", "resource") if k in ctx}
    out["truncated"] = True
    return out


def encode_authorization_message(document: dict[str, Any], keyring: KeyRing) -> str:
    """Encrypt ``document`` (a JSON-serialisable dict) into at most 10,240 URL-safe characters.

    Oversized documents are reduced by the documented rule (module docstring); the input is never
    modified.
    """
    if not isinstance(document, dict):
        raise TypeError("document must be a dict")
    text = _encode_once(compact_json.dumps(document), keyring)
    if len(text) <= MAX_ENCODED_CHARS:
        return text
    doc = _cut_strings(document)
    doc["truncated"] = True
    while True:
        text = _encode_once(compact_json.dumps(doc), keyring)
        if len(text) <= MAX_ENCODED_CHARS:
            return text
        doc, changed = _halve_items(doc)
        if not changed:
            break
    text = _encode_once(compact_json.dumps(_minimal(doc)), keyring)
    if len(text) > MAX_ENCODED_CHARS:  # only with absurd principal/action/resource shapes
        text = _encode_once(compact_json.dumps({k: v for k, v in _minimal(doc).items() if k != "context"}), keyring)
    return text


def _bad(reason: str, detail: str = "", key_id: str | None = None) -> AuthorizationMessageInvalid:
    return AuthorizationMessageInvalid(reason, detail, key_id=key_id)


def decode_authorization_message(text: str, keyring: KeyRing) -> dict[str, Any]:
    """Verify and decrypt an encoded message. :class:`AuthorizationMessageInvalid` for anything wrong."""
    E = AuthorizationMessageInvalid
    if type(text) is not str:
        raise _bad(E.MALFORMED, "not a string")
    text = text.strip()  # copied from terminals; whitespace is never part of a message
    if not text or len(text) > MAX_ENCODED_CHARS:
        raise _bad(E.MALFORMED, "empty or too long")
    try:
        b = text.encode("ascii")
        if b"=" in b or b"+" in b or b"/" in b:
            raise ValueError
        raw = base64.b64decode(b + b"=" * (-len(b) % 4), altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _bad(E.MALFORMED, "not URL-safe base64") from None
    if len(raw) < _MIN_RAW or base64.urlsafe_b64encode(raw).rstrip(b"=") != b:
        raise _bad(E.MALFORMED, "truncated or not canonical base64")
    if raw[0] != VERSION_V1:
        raise _bad(E.VERSION, f"version {raw[0]}")
    header = raw[:_HEADER_SIZE]
    key = keyring.get_raw(header[1:])
    if key is None:
        raise _bad(E.UNKNOWN_KEY, "key id not in the key ring", header[1:].hex())
    try:
        compressed = hazmat.open_(key._message_aead, memoryview(raw)[_HEADER_SIZE:], _LABEL + header)
    except hazmat.InvalidTag:
        raise _bad(E.AUTHENTICATION, "does not verify", key.key_id) from None
    try:
        d = zlib.decompressobj(-15)
        payload = d.decompress(compressed, _MAX_PAYLOAD)
        if d.unconsumed_tail or not d.eof or d.unused_data:
            raise ValueError("bad deflate stream")
        doc = json.loads(payload.decode("utf-8", "surrogatepass"))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return doc
    except Exception as exc:
        raise _bad(E.PAYLOAD, type(exc).__name__, key.key_id) from None
