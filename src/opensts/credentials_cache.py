"""Access key id → long-term credential, cached briefly so most requests touch no database; and
session tokens → their decoded claims (:func:`decoded_session_token`), for every edge that reads them.

Entries live in the runtime's ``credentials`` cache (``opensts.cache.Caches``), an IAM-data cache:
every IAM change empties it, this process's own writes as they commit and other processes' at the
next poll of the store's change counter; ``ttl`` bounds an entry's life besides. Misses are cached
too (``None``) for a shorter time, so a flood of unknown key ids cannot hammer the store.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opensts.cache import BoundedCache
from opensts.tokens.keyring import KeyRing
from opensts.tokens.session_token import SessionClaims, decode_session_token

if TYPE_CHECKING:
    from opensts.store import Store
    from opensts.store.records import Credential

_MISSING = object()


class CredentialCache:
    def __init__(
        self,
        store: "Store",
        entries: "BoundedCache[str, Any]",
        ttl: float = 5.0,
        miss_ttl: float = 1.0,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        # access key id → (monotonic expiry, Credential | None)
        self._entries = entries  # runtime.caches.credentials: cleared at every IAM change

    def peek(self, access_key_id: str) -> "Credential | None | object":
        """The cached answer without I/O: a Credential, None (known missing) or ``MISSING``."""
        entry = self._entries.get(access_key_id)
        if entry is None or entry[0] < time.monotonic():
            return _MISSING
        return entry[1]

    def load(self, access_key_id: str) -> "Credential | None":
        """Read from the store (blocking) and remember the answer."""
        # A read that started before an invalidation must not be cached (the key may have been
        # deactivated or deleted meanwhile): the cache's generation moves at every clear().
        generation = self._entries.generation
        credential = self._store.access_keys.get(access_key_id)
        ttl = self._ttl if credential is not None else self._miss_ttl
        self._entries.put(access_key_id, (time.monotonic() + ttl, credential), generation)
        return credential

MISSING = _MISSING


def decoded_session_token(
    token: str, keyring: KeyRing, memo: BoundedCache[str, tuple[KeyRing, SessionClaims]]
) -> SessionClaims:
    """``decode_session_token``, remembered in ``memo`` per token string and key ring.

    Clients send the same session token with every request for hours: its decoded claims are kept,
    with the key ring they were decoded under. The server replaces its ring object on every reload
    (KEYRING_REFRESH_SECONDS), which makes these entries useless, so a key taken out of the ring
    stops verifying within that period, as without the memo. Expiry is checked on every request.
    """
    entry = memo.get(token)
    if entry is not None and entry[0] is keyring:
        return entry[1]
    claims = decode_session_token(token, keyring)  # raises InvalidSessionToken: nothing is kept
    memo.put(token, (keyring, claims))
    return claims
