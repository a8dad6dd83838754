"""Access key id → long-term credential, cached briefly so most requests touch no database; and
session tokens → their decoded claims (:func:`decoded_session_token`), for every edge that reads them.

Entries live in the runtime's ``credentials`` cache (``opensts.cache.Caches``), an IAM-data cache:
every IAM change empties it, this process's own writes as they commit and other processes' at the
next poll of the store's change counter; ``ttl`` bounds an entry's life besides. Misses are cached
too (``None``) for a shorter time, so a flood of unknown key ids cannot hammer the store.

An entry past its ``ttl`` is still served for one more ``ttl`` while a single background read
refreshes it, so a key in steady use never makes a request wait for the store; a key with no entry
is read once however many requests ask for it at the same time (single flight). A request joins
only a read that began after the last IAM change (the cache's generation): what was read before a
change is neither kept nor handed out. The extra ``ttl`` widens only the window of changes the
counter does not announce (a failed poll, an edit made directly in the database): 2 × ``ttl``
instead of ``ttl``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anyio import to_thread

from opensts.cache import BoundedCache
from opensts.tokens.keyring import KeyRing
from opensts.tokens.session_token import SessionClaims, decode_session_token

if TYPE_CHECKING:
    from opensts.store import Store
    from opensts.store.records import Credential


class CredentialCache:
    def __init__(
        self,
        store: "Store",
        entries: "BoundedCache[str, Any]",
        ttl: float = 5.0,
        miss_ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        # access key id → (monotonic time fresh until, time served until, Credential | None)
        self._entries = entries  # runtime.caches.credentials: cleared at every IAM change
        # access key id → (cache generation it began in, the read of it under way)
        self._reads: dict[str, tuple[int, asyncio.Future[Credential | None]]] = {}

    async def get(self, access_key_id: str) -> "Credential | None":
        """The credential (None: no such key), from the cache when it can; called on the event loop."""
        entry = self._entries.get(access_key_id)
        if entry is not None:
            fresh_until, served_until, credential = entry
            now = self._clock()
            if now < fresh_until:
                return credential
            if now < served_until:
                self._read_under_way(access_key_id)  # a refresh in the background; this request goes on
                return credential
        # shield: a waiting request that is cancelled (client gone) must not cancel the shared read.
        return await asyncio.shield(self._read_under_way(access_key_id))

    def _read_under_way(self, access_key_id: str) -> "asyncio.Future[Credential | None]":
        """The read of this key that began since the last IAM change, started if there is none."""
        generation = self._entries.generation
        under_way = self._reads.get(access_key_id)
        if under_way is not None and under_way[0] == generation:
            if under_way[1].get_loop() is asyncio.get_running_loop():  # (tests run several loops)
                return under_way[1]
        read = asyncio.ensure_future(to_thread.run_sync(self.load, access_key_id))
        entry = self._reads[access_key_id] = (generation, read)
        read.add_done_callback(lambda done: self._read_done(access_key_id, entry))
        return read

    def _read_done(self, access_key_id: str, entry: "tuple[int, asyncio.Future[Credential | None]]") -> None:
        if self._reads.get(access_key_id) is entry:
            del self._reads[access_key_id]
        if not entry[1].cancelled():
            entry[1].exception()  # retrieved: a failed background refresh is not "never retrieved"

    def load(self, access_key_id: str) -> "Credential | None":
        """Read from the store (blocking) and remember the answer."""
        # A read that started before an invalidation must not be cached (the key may have been
        # deactivated or deleted meanwhile): the cache's generation moves at every clear().
        generation = self._entries.generation
        credential = self._store.access_keys.get(access_key_id)
        ttl = self._ttl if credential is not None else self._miss_ttl
        now = self._clock()
        self._entries.put(access_key_id, (now + ttl, now + 2 * ttl, credential), generation)
        return credential


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
