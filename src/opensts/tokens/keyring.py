"""Signing keys for session tokens and authorization messages, and their rotation policy.

A :class:`KeyRing` is an immutable set of 32-byte keys ``{key_id: key}`` with exactly one *active* key
(the one new tokens are encrypted with); every key in the ring still *verifies* (decrypts) tokens.

Key ids are **8 lowercase hex characters** (4 random bytes, e.g. ``"9f3a01c2"``); on the wire a key id
takes those 4 bytes. 2**32 ids leave collisions to chance only among the handful of keys alive at once,
and :func:`new_key_record` rejects an id already in use.

Rotation is data, not behaviour. The store persists one row per key -- ``(key_id, sealed key,
created_at, active, not_after)`` -- and calls the pure functions below, which take the current rows
and ``now`` and return the complete new set of rows to persist (in one transaction):

* :func:`initial_key_records` -- first start: one active key.
* :func:`rotate_key_records` -- a new active key; each previously active key becomes verify-only with
  ``not_after = now + MAX_SESSION_LIFETIME + RETIREMENT_GRACE``: no token it encrypted can outlive that
  (sessions last at most 129600 s), so afterwards it is pruned. Rows whose ``not_after`` has passed
  are dropped.
* :func:`prune_key_records` -- drop rows whose ``not_after`` has passed.
* :func:`rotation_due` -- whether the active key is older than a maximum age (AES-GCM with random
  nonces wants well under 2**32 encryptions per key; rotating every 30 days is ample).

Times are integer epoch seconds (UTC); the store converts to and from its datetime columns. Keys are
sealed under the master key with purpose ``"signing-key"``.

After a rotation on one node, other nodes learn the new key only when they reload the ring from the
store. A node that meets an unknown key id (``InvalidSessionToken.reason == "unknown-key"``) should
reload once (rate-limited) and retry.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping, Sequence

from . import hazmat
from .errors import KeyRingError
from .master_key import PURPOSE_SIGNING_KEY, MasterKey

__all__ = [
    "KeyRing",
    "SigningKey",
    "KeyRecord",
    "KeyRingError",
    "MAX_SESSION_LIFETIME",
    "RETIREMENT_GRACE",
    "DEFAULT_MAX_KEY_AGE",
    "new_key_id",
    "new_key_record",
    "initial_key_records",
    "rotate_key_records",
    "prune_key_records",
    "rotation_due",
]

MAX_SESSION_LIFETIME = 129600  # seconds: the longest session STS issues (GetSessionToken, 36 h)
RETIREMENT_GRACE = 300  # seconds of slack for clock skew between nodes
DEFAULT_MAX_KEY_AGE = 30 * 24 * 3600

KEY_ID_BYTES = 4
_KEY_ID_RE = re.compile(r"^[0-9a-f]{8}$")

# Subkey labels: one AEAD key per use, derived from each ring key.
_SESSION_TOKEN_LABEL = b"opensts/v1/session-token"
_AUTHORIZATION_MESSAGE_LABEL = b"opensts/v1/authorization-message"


def new_key_id(taken: Iterable[str] = ()) -> str:
    """A fresh key id (8 hex chars) not in ``taken``."""
    taken = set(taken)
    while True:
        key_id = secrets.token_hex(KEY_ID_BYTES)
        if key_id not in taken:
            return key_id


def check_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _KEY_ID_RE.match(key_id):
        raise KeyRingError(f"invalid key id {key_id!r}: expected 8 lowercase hex characters")
    return key_id


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One ring key. ``retire_after``: None while it may be active; else the time it may be pruned."""

    key_id: str
    key: bytes = field(repr=False)
    created_at: int
    retire_after: int | None = None
    # Derived AEADs, built once (AESGCM construction costs more than a decryption).
    _session_aead: hazmat.AESGCM = field(init=False, repr=False, compare=False)
    _message_aead: hazmat.AESGCM = field(init=False, repr=False, compare=False)
    raw_id: bytes = field(init=False, repr=False, compare=False)  # the key id's 4 bytes in token headers

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        if not isinstance(self.key, bytes) or len(self.key) != hazmat.KEY_SIZE:
            raise KeyRingError("a signing key is exactly 32 bytes")
        object.__setattr__(self, "_session_aead", hazmat.new_aead(hazmat.derive_key(self.key, _SESSION_TOKEN_LABEL)))
        object.__setattr__(
            self, "_message_aead", hazmat.new_aead(hazmat.derive_key(self.key, _AUTHORIZATION_MESSAGE_LABEL))
        )
        object.__setattr__(self, "raw_id", bytes.fromhex(self.key_id))


class KeyRing:
    """Immutable set of signing keys with one active key id. Cheap lookups by key id (str or 4 raw bytes)."""

    __slots__ = ("_keys", "_by_raw", "_active")

    def __init__(self, keys: Iterable[SigningKey], active_key_id: str) -> None:
        by_id: dict[str, SigningKey] = {}
        for k in keys:
            if not isinstance(k, SigningKey):
                raise TypeError("KeyRing holds SigningKey objects")
            if k.key_id in by_id:
                raise KeyRingError(f"duplicate key id {k.key_id}")
            by_id[k.key_id] = k
        if active_key_id not in by_id:
            raise KeyRingError("the active key id is not in the ring")
        self._keys: Mapping[str, SigningKey] = MappingProxyType(by_id)
        self._by_raw: Mapping[bytes, SigningKey] = MappingProxyType({k.raw_id: k for k in by_id.values()})
        self._active = by_id[active_key_id]

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def generate_key(taken: Iterable[str] = ()) -> tuple[str, bytes]:
        """A fresh ``(key_id, 32-byte key)``."""
        return new_key_id(taken), secrets.token_bytes(hazmat.KEY_SIZE)

    @classmethod
    def generate(cls, now: int = 0) -> "KeyRing":
        """A ring with one fresh active key (tests, development, single-process use)."""
        key_id, key = cls.generate_key()
        return cls([SigningKey(key_id, key, now)], key_id)

    @classmethod
    def from_keys(cls, keys: Mapping[str, bytes], active_key_id: str, created_at: int = 0) -> "KeyRing":
        return cls([SigningKey(kid, k, created_at) for kid, k in keys.items()], active_key_id)

    @classmethod
    def from_records(cls, records: Iterable["KeyRecord"], master_key: MasterKey) -> "KeyRing":
        """Unseal the store's rows into a ring. The active key is the newest active row.

        Raises ``KeyRingError`` if no row is active, ``SealError`` if a key does not open under
        ``master_key`` (wrong master key for this store).
        """
        records = list(records)
        active = _newest_active(records)
        if active is None:
            raise KeyRingError("no active signing key in the key ring")
        keys = [
            SigningKey(r.key_id, master_key.open(r.sealed_key, PURPOSE_SIGNING_KEY), r.created_at,
                       None if r is active else r.not_after)
            for r in records
        ]
        return cls(keys, active.key_id)

    # -- lookups ------------------------------------------------------------------------------
    @property
    def active(self) -> SigningKey:
        return self._active

    @property
    def active_key_id(self) -> str:
        return self._active.key_id

    def get(self, key_id: str) -> SigningKey | None:
        return self._keys.get(key_id)

    def get_raw(self, raw_id: bytes) -> SigningKey | None:
        return self._by_raw.get(raw_id)

    def __getitem__(self, key_id: str) -> SigningKey:
        return self._keys[key_id]

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(active={self._active.key_id!r}, keys={list(self._keys)!r})"


# -- rotation policy over store rows --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One persisted key-ring row. ``not_after``: None for a key that may sign; else its prune time."""

    key_id: str
    sealed_key: bytes = field(repr=False)
    created_at: int
    active: bool
    not_after: int | None = None

    def __post_init__(self) -> None:
        check_key_id(self.key_id)


def _newest_active(records: Sequence[KeyRecord]) -> KeyRecord | None:
    actives = [r for r in records if r.active]
    return max(actives, key=lambda r: (r.created_at, r.key_id)) if actives else None


def new_key_record(master_key: MasterKey, now: int, taken: Iterable[str] = (), *, active: bool = True) -> KeyRecord:
    """A fresh key, sealed under ``master_key``, as a row."""
    key_id, key = KeyRing.generate_key(taken)
    return KeyRecord(key_id, master_key.seal(key, PURPOSE_SIGNING_KEY), int(now), active, None)


def initial_key_records(master_key: MasterKey, now: int) -> tuple[KeyRecord, ...]:
    """The rows for an empty store: one active key."""
    return (new_key_record(master_key, now),)


def prune_key_records(records: Iterable[KeyRecord], now: int) -> tuple[KeyRecord, ...]:
    """Drop verify-only rows whose ``not_after`` has passed. Active rows are never pruned."""
    return tuple(r for r in records if r.active or r.not_after is None or r.not_after > now)


def rotate_key_records(
    records: Iterable[KeyRecord],
    master_key: MasterKey,
    now: int,
    *,
    retain_for: int = MAX_SESSION_LIFETIME + RETIREMENT_GRACE,
) -> tuple[KeyRecord, ...]:
    """The full set of rows after a rotation: a new active key first, then the kept old rows.

    Every previously active row becomes verify-only until ``now + retain_for`` (an earlier
    ``not_after`` already set is kept). Expired rows are pruned. The new key id differs from every
    existing one.
    """
    now = int(now)
    records = list(records)
    kept: list[KeyRecord] = []
    for r in records:
        if r.active or r.not_after is None:
            limit = now + retain_for
            r = replace(r, active=False, not_after=limit if r.not_after is None else min(r.not_after, limit))
        kept.append(r)
    new = new_key_record(master_key, now, (r.key_id for r in records))
    return (new, *prune_key_records(kept, now))


def rotation_due(records: Iterable[KeyRecord], now: int, max_age: int = DEFAULT_MAX_KEY_AGE) -> bool:
    """True if there is no active key or the active key is older than ``max_age`` seconds."""
    active = _newest_active(list(records))
    return active is None or now - active.created_at >= max_age
