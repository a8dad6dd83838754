"""Rate limits: token buckets per access key id and per source address, per worker process.

Three limits (``--rate-limit-*``, each ``RATE`` or ``RATE/BURST`` requests per second, or ``off``):

- **access key** (default 20,000/s, burst 40,000): every signed request whose signature verified,
  by its access key id: a Query API call (header-signed or presigned), and both keys of a
  ``/v1/authorize`` call (the calling service's and the checked request's). Charged after the
  signature is checked, so that nobody can spend a key's tokens by sending its id with garbage;
- **source** (default 40,000/s): every signed request, by source address, before its signature
  is checked;
- **unauthenticated** (default 1,000/s): requests that do costly work before any identity is
  proven, by source address: unsigned STS actions (``AssumeRoleWithWebIdentity``,
  ``AssumeRoleWithSAML``: a JWT or XML signature to verify) and presigned URLs (bearer proofs that
  anyone holding one may send).

A request over a limit is answered AWS's ``Throttling`` (400, "Rate exceeded") at once, and is not
recorded in the audit trail (a flood must stay cheap; it is
counted in ``/metrics`` as ``opensts_throttled_total{limit=...}``). The address is the one
``aws:SourceIp`` sees (after trusted proxies); an IPv6 address counts as its /64 (an IPv4 address
that a dual-stack socket shows as ``::ffff:a.b.c.d`` as itself).

**Per process, on purpose.** The limits protect a worker's capacity, and a worker's capacity is
its own: checking costs a dict lookup and some arithmetic, no I/O. A node with N workers admits up
to N times a limit (the kernel spreads connections across workers). Limits that must hold across
nodes are the brute-force counts (``brute_force.py``, kept in the store). The defaults are above
what one worker serves, so that only a flood meets them; docs/DEPLOYMENT.md suggests values.

Deviation from AWS: AWS throttles per account and API with quotas it does not publish in full.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Callable

from starlette.types import Scope

from opensts.cache import BoundedCache
from opensts.config import Settings
from opensts.errors import Throttling
from opensts.server.forwarded import client_address
from opensts.server.sigv4 import SignatureInfo

MAX_BUCKETS = 100_000  # per limit
LIMITS = ("access_key", "source", "unauthenticated")


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` per second; a request takes one."""

    __slots__ = ("rate", "burst", "refused", "_buckets", "_clock")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.refused = 0
        # key → [tokens, when last filled]; the oldest key is dropped first (its bucket would refill
        # to full anyway, so dropping it changes nothing for a client that comes back later).
        self._buckets: BoundedCache[str, list[float]] = BoundedCache("rate-limit", MAX_BUCKETS)
        self._clock = clock

    def take(self, key: str) -> bool:
        """Take a token for ``key``: False (and counted) if its bucket is empty."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets.put(key, [self.burst - 1.0, now])
            return True
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            self.refused += 1
            return False
        bucket[0] = tokens - 1.0
        return True

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class RateLimits:
    """The configured limits of one worker process (None: that limit is off)."""

    access_key: TokenBuckets | None
    source: TokenBuckets | None
    unauthenticated: TokenBuckets | None

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], float] = time.monotonic) -> "RateLimits | None":
        """The limits ``settings`` ask for; None when all are off."""
        def buckets(limit: tuple[float, float] | None) -> TokenBuckets | None:
            return TokenBuckets(limit[0], limit[1], clock) if limit is not None else None

        limits = cls(
            buckets(settings.rate_limit_access_key),
            buckets(settings.rate_limit_source),
            buckets(settings.rate_limit_unauthenticated),
        )
        return limits if any(b is not None for b in (limits.access_key, limits.source, limits.unauthenticated)) else None

    def admit(self, signature: SignatureInfo | None, scope: Scope) -> None:
        """Throttling unless a request's source address may send one more: signed requests count
        against the source limit, unsigned ones and presigned URLs against the unauthenticated one.
        The key id is charged only once its signature verifies (:meth:`admit_key`): a request with a
        bad signature must not spend the real key's tokens."""
        address = client_address(scope)
        if signature is None or signature.presigned:
            self.admit_unauthenticated(address)
        if signature is not None:
            self.admit_source(address)

    def admit_source(self, address: str | None) -> None:
        """Throttling unless the address may send one more signed request."""
        if address and self.source is not None and not self.source.take(address_key(address)):
            raise Throttling()

    def admit_key(self, access_key_id: str) -> None:
        """Throttling unless the (verified) access key id may make one more request."""
        if self.access_key is not None and not self.access_key.take(access_key_id):
            raise Throttling()

    def admit_unauthenticated(self, address: str | None) -> None:
        """Throttling unless the address may send one more unsigned request or presigned URL."""
        if address and self.unauthenticated is not None and not self.unauthenticated.take(address_key(address)):
            raise Throttling()

    def counters(self) -> dict[str, float]:
        """Refused requests per limit, for /metrics."""
        return {
            f"opensts_throttled_{name}_total": float(buckets.refused)
            for name, buckets in (("access_key", self.access_key), ("source", self.source),
                                  ("unauthenticated", self.unauthenticated))
            if buckets is not None
        }


_ADDRESS_KEYS: dict[str, str] = {}


def address_key(address: str) -> str:
    """The bucket key of an address: itself, or its /64 for IPv6 (remembered: parsing is the cost)."""
    key = _ADDRESS_KEYS.get(address)
    if key is not None:
        return key
    if ":" not in address:
        key = address
    else:
        try:
            parsed = ipaddress.IPv6Address(address)
            # A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d: each is its own address,
            # not one /64 shared by every IPv4 client.
            if parsed.ipv4_mapped is not None:
                key = str(parsed.ipv4_mapped)
            else:
                key = str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
        except ValueError:
            key = address[:64]
    if len(_ADDRESS_KEYS) >= MAX_BUCKETS:
        _ADDRESS_KEYS.clear()
    _ADDRESS_KEYS[address] = key
    return key
