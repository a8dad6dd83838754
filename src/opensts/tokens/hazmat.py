"""Hazardous materials: raw AEAD, key derivation and the nonce discipline. Not a public API.

Like ``cryptography.hazmat``, this module is easy to misuse: nothing here knows what a purpose, a
key id or a format version is. Use the safe layer instead (``master_key``, ``keyring``,
``session_token``, ``authorization_message``), which fixes the labels, the versioned formats and the
associated data. Everything is built from ``cryptography``'s AESGCM and HKDF.

Rules kept here:

* AES-256-GCM with a fresh random 96-bit nonce per message (``os.urandom``). Random nonces are safe for
  up to 2**32 messages per key (NIST SP 800-38D); keys are therefore rotated (see ``keyring``).
* Keys are never used directly: each use gets its own subkey, ``HKDF-SHA256(ikm=key, salt=None,
  info=label)``, so one key can never produce a ciphertext that opens under another purpose.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "InvalidTag", "AESGCM", "derive_key", "new_aead", "seal", "open_"]

KEY_SIZE = 32  # AES-256
NONCE_SIZE = 12  # 96-bit GCM nonce
TAG_SIZE = 16  # 128-bit GCM tag


def derive_key(ikm: bytes, label: bytes, length: int = KEY_SIZE) -> bytes:
    """HKDF-SHA256 subkey of ``ikm`` for ``label`` (no salt: ``ikm`` is already uniformly random)."""
    if len(ikm) != KEY_SIZE:
        raise ValueError("input key must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=label).derive(ikm)


def new_aead(key: bytes) -> AESGCM:
    """An AES-256-GCM instance for ``key`` (build once per key and reuse: construction is the slow part)."""
    if len(key) != KEY_SIZE:
        raise ValueError("AES-256-GCM key must be 32 bytes")
    return AESGCM(key)


def seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """``nonce || ciphertext || tag`` with a fresh random nonce."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def open_(aead: AESGCM, data: bytes | memoryview, aad: bytes) -> bytes:
    """Inverse of :func:`seal`; raises ``InvalidTag`` for anything that does not verify (including short input)."""
    if len(data) < NONCE_SIZE + TAG_SIZE:
        raise InvalidTag()
    return aead.decrypt(bytes(data[:NONCE_SIZE]), bytes(data[NONCE_SIZE:]), aad)
