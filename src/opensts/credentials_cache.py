"""Access key id → long-term credential, cached briefly so most requests touch no database.

Writes through the IAM API invalidate entries at once in this process; other processes see the
change within ``ttl`` seconds (the IAM layer tightens this with a store-wide change counter).
Misses are cached too (``None``) for a shorter time, so a flood of unknown key ids cannot hammer
the store.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opensts.store import Store
    from opensts.store.records import Credential

_MISSING = object()


class CredentialCache:
    def __init__(self, store: "Store", ttl: float = 5.0, miss_ttl: float = 1.0, max_entries: int = 50_000) -> None:
        self._store = store
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, Credential | None]] = {}
        # Bumped by invalidate(): a load that started before an invalidation must not cache what it
        # read (the key may have been deactivated or deleted meanwhile).
        self._generation = 0

    def peek(self, access_key_id: str) -> "Credential | None | object":
        """The cached answer without I/O: a Credential, None (known missing) or ``MISSING``."""
        entry = self._entries.get(access_key_id)
        if entry is None or entry[0] < time.monotonic():
            return _MISSING
        return entry[1]

    def load(self, access_key_id: str) -> "Credential | None":
        """Read from the store (blocking) and remember the answer."""
        generation = self._generation
        credential = self._store.access_keys.get(access_key_id)
        if generation != self._generation:
            return credential  # answer this request, but do not cache a read that raced a change
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        ttl = self._ttl if credential is not None else self._miss_ttl
        self._entries[access_key_id] = (time.monotonic() + ttl, credential)
        return credential

    def invalidate(self, access_key_id: str | None = None) -> None:
        self._generation += 1
        if access_key_id is None:
            self._entries.clear()
        else:
            self._entries.pop(access_key_id, None)


MISSING = _MISSING
