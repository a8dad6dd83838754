"""The master key: 32 random bytes that protect every secret OpenSTS keeps at rest.

Long-term secret access keys, TOTP seeds and the session-token signing keys are stored *sealed* under
the master key (DESIGN.md, "Secrets at rest"). The master key itself comes from ``OPENSTS_MASTER_KEY``
or from ``DATA_DIR/master-key`` (created with mode 0600 on first start); see
:func:`load_or_create_master_key`. Once a store holds sealed data the key is only ever loaded
(:func:`load_master_key`): a missing key is an error, never a reason to make a new one.

Sealed format, version 1 (bytes, as stored in the database)::

    0x01 | nonce (12) | AES-256-GCM ciphertext || tag (16)

    key = HKDF-SHA256(master, salt=None, info=b"opensts/v1/seal/" + purpose)
    aad = 0x01 || b"opensts/v1/seal/" + purpose

A seal made for one purpose never opens for another (different subkey and associated data). Any
failure -- wrong master key, wrong purpose, tampered, truncated, unknown version -- raises
:class:`SealError`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import secrets
import stat
import time
from typing import NoReturn
from pathlib import Path

from . import hazmat
from .errors import SealError, TokenError
from .private_file import create_private_file

__all__ = [
    "MasterKey",
    "SealError",
    "load_or_create_master_key",
    "load_master_key",
    "MasterKeyMissing",
    "MASTER_KEY_FILE",
    "PURPOSE_ACCESS_KEY_SECRET",
    "PURPOSE_TOTP_SEED",
    "PURPOSE_SIGNING_KEY",
]

log = logging.getLogger(__name__)

MASTER_KEY_FILE = "master-key"

PURPOSE_ACCESS_KEY_SECRET = "access-key-secret"
PURPOSE_TOTP_SEED = "totp-seed"
PURPOSE_SIGNING_KEY = "signing-key"

_SEAL_V1 = b"\x01"
_SEAL_LABEL = b"opensts/v1/seal/"
_FINGERPRINT_LABEL = b"opensts/v1/master-key-fingerprint"
_DERIVE_LABEL = b"opensts/v1/derive/"


class MasterKey:
    """A 32-byte master key. Immutable; ``repr`` never shows the key."""

    __slots__ = ("_key", "_aeads")

    SIZE = hazmat.KEY_SIZE

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) != self.SIZE:
            raise ValueError("a master key is exactly 32 bytes")
        self._key = bytes(key)
        self._aeads: dict[str, hazmat.AESGCM] = {}  # purpose -> AEAD of its subkey (cache)

    # -- construction and text form ----------------------------------------------------------
    @classmethod
    def generate(cls) -> "MasterKey":
        return cls(secrets.token_bytes(cls.SIZE))

    @classmethod
    def from_text(cls, text: str) -> "MasterKey":
        """Parse 64 hex characters, or standard/URL-safe base64 (padding optional) of 32 bytes.

        Surrounding whitespace is ignored. The error message never echoes the input.
        """
        if not isinstance(text, str):
            raise ValueError("master key must be text")
        s = text.strip()
        if not s:
            raise ValueError("master key is empty")
        if len(s) == 64 and all(c in "0123456789abcdefABCDEF" for c in s):
            return cls(bytes.fromhex(s))
        if len(s) in (43, 44) and s.isascii():
            try:
                t = s.rstrip("=")
                if len(s) - len(t) > 1:
                    raise ValueError
                raw = base64.b64decode(t.replace("-", "+").replace("_", "/") + "=", validate=True)
            except (ValueError, binascii.Error):
                raw = b""
            if len(raw) == cls.SIZE:
                return cls(raw)
        raise ValueError(
            "master key must be 32 bytes given as 64 hex characters or as base64 "
            "(for example the output of `openssl rand -base64 32`)"
        )

    def to_text(self) -> str:
        """Standard base64 with padding (44 characters); :meth:`from_text` reads it back."""
        return base64.b64encode(self._key).decode("ascii")

    def fingerprint(self) -> str:
        """A short, non-secret identifier of this key (16 hex chars), e.g. to detect a master-key mismatch."""
        return hazmat.derive_key(self._key, _FINGERPRINT_LABEL, 8).hex()

    def derive(self, purpose: str) -> bytes:
        """A 32-byte subkey for ``purpose`` (e.g. ``"audit-checkpoint"``): HKDF-SHA256 with
        ``info=b"opensts/v1/derive/" + purpose``, never equal to a sealing subkey."""
        if not isinstance(purpose, str) or not purpose:
            raise ValueError("purpose must be a non-empty string")
        return hazmat.derive_key(self._key, _DERIVE_LABEL + purpose.encode("utf-8"))

    def __repr__(self) -> str:
        return f"MasterKey(fingerprint={self.fingerprint()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MasterKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __reduce__(self) -> NoReturn:  # no pickling of key material by accident
        raise TypeError("MasterKey cannot be pickled")

    # -- sealing ------------------------------------------------------------------------------
    def _aead(self, purpose: str) -> hazmat.AESGCM:
        aead = self._aeads.get(purpose)
        if aead is None:
            if not isinstance(purpose, str) or not purpose:
                raise ValueError("purpose must be a non-empty string")
            aead = hazmat.new_aead(hazmat.derive_key(self._key, _SEAL_LABEL + purpose.encode("utf-8")))
            self._aeads[purpose] = aead
        return aead

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        """Encrypt and authenticate ``plaintext`` for ``purpose`` (e.g. ``"access-key-secret"``)."""
        if not isinstance(plaintext, (bytes, bytearray, memoryview)):
            raise TypeError("plaintext must be bytes")
        aead = self._aead(purpose)
        return _SEAL_V1 + hazmat.seal(aead, bytes(plaintext), _SEAL_V1 + _SEAL_LABEL + purpose.encode("utf-8"))

    def open(self, sealed: bytes, purpose: str) -> bytes:
        """Inverse of :meth:`seal`; :class:`SealError` if it does not open for this key and purpose."""
        aead = self._aead(purpose)
        if not isinstance(sealed, (bytes, bytearray, memoryview)) or len(sealed) < 1:
            raise SealError("not a sealed value")
        sealed = bytes(sealed)
        if sealed[:1] != _SEAL_V1:
            raise SealError("unknown sealed-value format version")
        try:
            return hazmat.open_(aead, memoryview(sealed)[1:], _SEAL_V1 + _SEAL_LABEL + purpose.encode("utf-8"))
        except hazmat.InvalidTag:
            raise SealError(
                f"sealed value does not open for purpose {purpose!r} (wrong master key, wrong purpose or tampered)"
            ) from None


# -- loading ---------------------------------------------------------------------------------------
class MasterKeyMissing(TokenError):
    """Neither ``OPENSTS_MASTER_KEY`` nor ``DATA_DIR/master-key`` is there, but a key is needed."""


def load_master_key(data_dir: Path, env_value: str | None) -> MasterKey:
    """The master key: ``env_value`` (``OPENSTS_MASTER_KEY``) if set, else ``DATA_DIR/master-key``.

    Never creates anything: for a store that already holds sealed data a new key would be useless
    (nothing would open) and would hide the real problem. Raises :class:`MasterKeyMissing` when
    there is no key, ``ValueError`` for an invalid one.
    """
    if env_value is not None and env_value.strip():
        try:
            return MasterKey.from_text(env_value)
        except ValueError as exc:
            raise ValueError(f"OPENSTS_MASTER_KEY is invalid: {exc}") from None
    path = Path(data_dir) / MASTER_KEY_FILE
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        raise MasterKeyMissing(
            f"the master key is missing: restore {path} or set OPENSTS_MASTER_KEY "
            "(the store holds data sealed with it; a new key would not open it)"
        ) from None


def load_or_create_master_key(data_dir: Path, env_value: str | None) -> MasterKey:
    """The master key: ``env_value`` (``OPENSTS_MASTER_KEY``) if set, else ``DATA_DIR/master-key``.

    If neither exists, a new key is created in ``DATA_DIR/master-key`` with mode 0600: written to a
    private temporary file (``O_CREAT|O_EXCL``, mode 0600, never readable by others even briefly), then
    published with ``link()``, which fails if the file already exists -- so two processes starting at
    once agree: the loser discards its key and reads the winner's. Readers never see a partial file.
    A blank ``env_value`` counts as unset. Raises ``ValueError`` for an invalid key. Only for a store
    without sealed data (first start); otherwise use :func:`load_master_key`.
    """
    try:
        return load_master_key(data_dir, env_value)
    except MasterKeyMissing:
        pass
    data_dir = Path(data_dir)
    path = data_dir / MASTER_KEY_FILE
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = MasterKey.generate()
    if create_private_file(path, (key.to_text() + "\n").encode("ascii")):
        log.info("created a new master key in %s (mode 0600); back it up: sealed data is lost without it", path)
        return key
    return _read_key_file(path)  # another process won the race


def _read_key_file(path: Path) -> MasterKey:
    deadline = time.monotonic() + 2.0
    while True:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        try:
            mode = os.fstat(fd).st_mode
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        text = data.decode("ascii", "replace").strip()
        if text or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # only with the O_EXCL fallback: the creator may not have written yet
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("master key file %s is accessible by group/others (mode %o); run chmod 600", path, mode & 0o777)
    try:
        return MasterKey.from_text(text)
    except ValueError as exc:
        raise ValueError(f"master key file {path} is invalid: {exc}") from None
