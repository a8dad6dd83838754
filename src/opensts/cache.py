"""One bounded cache type for the whole server.

A :class:`BoundedCache` is a map with a maximum size. When a new key would make it exceed the
size, the oldest entries (first put) are dropped: nothing grows without limit, whatever callers
send. It is built for hot paths:

- a hit is one ``dict.get`` (``cache.get`` *is* the dict's bound ``get``): no lock, no Python frame,
  no allocation;
- ``put`` (a miss, which costs far more anyway) takes a lock, so that concurrent puts from the
  event loop and worker threads keep the size and the order consistent;
- ``clear()`` empties it and moves its ``generation`` on: a value read from the store before a
  clear must not be cached after it (``put(..., generation=g)`` then keeps nothing).

Values must not be None (``get`` answers None for an absent key); store a tuple or a sentinel.

Which caches exist, their sizes, and which ones hold IAM data (dropped together at every IAM
change) is decided in one place: :class:`Caches` below, built by ``open_runtime``. This
module imports nothing else from OpenSTS.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Generic, Hashable, Iterator, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A map of at most ``max_entries`` entries; the oldest go first (see the module)."""

    __slots__ = ("name", "max_entries", "iam_data", "get", "generation", "_data", "_order", "_lock")

    def __init__(self, name: str, max_entries: int, *, iam_data: bool = False) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.name = name
        self.max_entries = max_entries
        # True: holds data read from IAM state (credentials, policies, providers...): dropped at
        # every IAM change (Caches.drop_iam_data).
        self.iam_data = iam_data
        self._data: dict[K, V] = {}
        # Keys in the order they were first put (the dict keeps that order too, but dropping a
        # dict's first key is O(n) once many were dropped: CPython scans the deleted slots).
        self._order: deque[K] = deque()
        self._lock = threading.Lock()
        self.generation = 0
        self.get: Callable[[K], V | None] = self._data.get

    def put(self, key: K, value: V, generation: int | None = None) -> V:
        """Remember ``value`` (and return it); with ``generation``, only if no clear() happened since
        that generation was read."""
        data = self._data
        with self._lock:
            if generation is not None and generation != self.generation:
                return value
            if key not in data:
                order = self._order
                while len(data) >= self.max_entries and order:
                    data.pop(order.popleft(), None)
                order.append(key)
            data[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._data.clear()  # the same dict: ``get`` stays bound to it
            self._order.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"<BoundedCache {self.name} {len(self._data)}/{self.max_entries}>"


class Caches:
    """Every cache of one server process: built by ``open_runtime``, held as ``runtime.caches``.

    The IAM-data caches hold what was read from IAM state; :meth:`drop_iam_data` empties them all
    at once, and ``Runtime.refresh_iam_version`` calls it at every IAM change (this process's own
    writes as they commit, other processes' at the next poll). Their entries are also stamped with
    the IAM version they were read under where a read can race a change. The others hold values
    that check themselves (a session token's claims are kept with the key ring that opened them)
    or that depend on their key alone.
    """

    __slots__ = (
        "credentials", "callers", "policy_sets", "managed_policies", "iam_lookups", "caller_policies",
        "decisions", "decision_keys", "authorize_permissions", "oidc_providers", "saml_providers",
        "outbound_federation", "session_tokens", "authorize_actions", "context_keys", "_all",
    )

    def __init__(self) -> None:
        # --- IAM data -------------------------------------------------------------------------
        # access key id → (fresh until, served until, Credential | None): credentials_cache.py
        self.credentials: BoundedCache[str, Any] = BoundedCache("credentials", 50_000, iam_data=True)
        # access key id → (Credential, Caller): the Caller of a cached long-term key (server/auth.py)
        self.callers: BoundedCache[str, Any] = BoundedCache("callers", 50_000, iam_data=True)
        # (kind, entity id) → (IAM version, EntityPolicySet | None): access/policy_sets.py
        self.policy_sets: BoundedCache[tuple[str, str], Any] = BoundedCache("policy-sets", 10_000, iam_data=True)
        # policy ARN → (IAM version, Policy | None): session PolicyArns (access/policy_sets.py)
        self.managed_policies: BoundedCache[str, Any] = BoundedCache("managed-policies", 10_000, iam_data=True)
        # roles by name, entity ids by ARN, effective trust policies → (IAM version, value)
        self.iam_lookups: BoundedCache[tuple[str, ...], Any] = BoundedCache("iam-lookups", 10_000, iam_data=True)
        # access key id → (IAM version, CallerPolicies): access/authorize.py
        self.caller_policies: BoundedCache[str, Any] = BoundedCache("caller-policies", 10_000, iam_data=True)
        # Remembered decisions of every caller, one budget for the process (access/authorize.py):
        # (CallerPolicies.memo_id, action, resource, resource account, context values...) → Decision
        self.decisions: BoundedCache[tuple[Any, ...], Any] = BoundedCache("decisions", 100_000, iam_data=True)
        # (CallerPolicies.memo_id, action or trust shape) → the context keys its decisions read
        self.decision_keys: BoundedCache[tuple[Any, ...], Any] = BoundedCache(
            "decision-keys", 100_000, iam_data=True
        )
        # /v1/authorize's opensts:Authorize decisions → (deadline, IAM version, denial message | None)
        self.authorize_permissions: BoundedCache[tuple[Any, ...], Any] = BoundedCache(
            "authorize-permissions", 4096, iam_data=True
        )
        # account id → (IAM version, OIDC provider records): sts/web_identity.py
        self.oidc_providers: BoundedCache[str, Any] = BoundedCache("oidc-providers", 10_000, iam_data=True)
        # ("account", id) or ("issuer", id) → (IAM version, OutboundFederation | None): runtime.py
        self.outbound_federation: BoundedCache[tuple[str, str], Any] = BoundedCache(
            "outbound-federation", 10_000, iam_data=True
        )
        # SAML provider ARN → (IAM version, SamlProvider | None): sts/saml.py
        self.saml_providers: BoundedCache[str, Any] = BoundedCache("saml-providers", 1_000, iam_data=True)
        # --- values that check themselves or depend on their key alone ----------------------
        # session token → (KeyRing, SessionClaims): kept while the ring it was opened with is current
        self.session_tokens: BoundedCache[str, Any] = BoundedCache("session-tokens", 4096)
        # /v1/authorize: valid actions → their service prefix; supplied context keys → lower case
        self.authorize_actions: BoundedCache[str, str] = BoundedCache("authorize-actions", 4096)
        self.context_keys: BoundedCache[str, str] = BoundedCache("context-keys", 4096)
        self._all: tuple[BoundedCache[Any, Any], ...] = tuple(
            getattr(self, name) for name in self.__slots__ if name != "_all"
        )

    def drop_iam_data(self) -> None:
        """Empty every cache of IAM data (at an IAM change)."""
        for cache in self._all:
            if cache.iam_data:
                cache.clear()

    def clear(self) -> None:
        """Empty every cache (tests)."""
        for cache in self._all:
            cache.clear()

    def __iter__(self) -> Iterator[BoundedCache[Any, Any]]:
        return iter(self._all)
