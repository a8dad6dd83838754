"""Slowing down guessing: failed authentication and failed MFA codes, counted across every worker
and node, answered with a growing delay.

**Subjects.** A failure is counted against several subjects at once:

============================  ===================================================  ==============
subject                       counts                                               free failures
============================  ===================================================  ==============
``ip:<address>``              every failed signature or MFA code from an address   30
``key:<key id>@<address>``    failed signatures (unknown key id, bad signature,    10
                              invalid session token) for one key id from one
                              address
``mfa:<serial>@<address>``    wrong MFA codes for one device from one address      3
``mfa:<serial>``              wrong MFA codes for one device from anywhere         20
============================  ===================================================  ==============

An IPv6 address counts as its /64 (one host usually holds a whole /64). The address is the one
``aws:SourceIp`` sees: the TCP peer, or what trusted proxies say (docs/DEPLOYMENT.md).

Loopback addresses are exempt from the per-address subjects by default (``--brute-force-exempt``):
a reverse proxy on the same host that is not configured as trusted makes every client look like
127.0.0.1, and blocking that address would block everyone. A device's own count still applies.

**The delay.** A subject's failures beyond its free ones block it for 1 s, then 2 s, 4 s, … doubling
up to ``max_delay`` (15 minutes by default). While a subject is blocked, an attempt that concerns it
is answered ``Throttling`` ("Rate exceeded", 400: SDKs retry it with backoff) **before** its
signature or code is checked, so a blocked attempt reveals nothing and is not counted. Counts are
forgotten ``2 × max_delay`` after a subject's last failure: waiting out a block does not reset them.

**Why a stolen key plus guessing cannot pass MFA.** A TOTP code is one of 10⁶ values and OpenSTS
accepts 3 of them at any moment (the current 30-second step and one either side), each for about
90 s. From one address a guesser gets 3 free tries, then 1 + 2 + 4 + … seconds apart: about 14
tries in the first half hour, then one every 15 minutes, ~110 a day, a chance of about 3 × 10⁻⁴ a
day. From many addresses the device's own count (20 free) caps the total at about the same. The
user with the right code, from another address, is unaffected by a guesser's failures until the
device's count runs out; then the device is blocked for everyone, the price of that bound. (A
guesser of MFA codes holds the user's secret key: rotate it.)

**No lockout by key id alone.** A signature cannot be guessed (HMAC-SHA256 under a 40-character
secret), and key ids are not secret (they appear in logs and trails). Counting failures per key id
from every address would let anyone who saw a key id block it; so key ids are counted per address.

**Where the counts live, and why.** In the store (table ``auth_failures``), written on the failure
path only, so every worker and node counts the same failures: a guesser cannot multiply tries by
reaching several workers or nodes. A failure's response waits for its count (one upsert).
Successful requests never touch the store for this:

- a signed request checks this process's memory of blocked subjects (nothing to check while no
  subject is blocked: one truth test). A process learns of a block when it counts a failure, so
  each other process lets one more attempt through per block, then refuses too.
- an MFA code is checked against the store before it is verified (the MFA path reads the store
  anyway), so MFA blocks hold exactly across processes and nodes.

Deviation from AWS: AWS documents no per-address slowdown of failed authentication.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opensts.errors import Throttling

if TYPE_CHECKING:
    from opensts.store.auth_failures import AuthFailureRepository

log = logging.getLogger("opensts.brute_force")

DEFAULT_MAX_DELAY = 900.0
DEFAULT_EXEMPT = ("127.0.0.0/8", "::1/128")
FREE_FAILURES = {"ip": 30, "key": 10, "mfa@": 3, "mfa": 20}
MAX_REMEMBERED_BLOCKS = 100_000  # this process's memory of blocked subjects
MAX_KEY_ID = 128  # longer claimed key ids are cut (they are client text)


def _kind(subject: str) -> str:
    kind = subject.split(":", 1)[0]
    if kind == "mfa" and "@" in subject:
        return "mfa@"
    return kind


@dataclass
class BruteForceGuard:
    """Counts failures in the store and remembers, per process, which subjects are blocked.

    ``repository`` None: the guard is off (``--brute-force off``)."""

    repository: "AuthFailureRepository | None"
    max_delay: float = DEFAULT_MAX_DELAY
    # Addresses never counted per address (their MFA devices still are): loopback by default.
    exempt: tuple[str, ...] = DEFAULT_EXEMPT

    def __post_init__(self) -> None:
        self._exempt = tuple(ipaddress.ip_network(network, strict=False) for network in self.exempt)
        self._blocked: dict[str, float] = {}  # subject → blocked until (epoch seconds)
        self.refused = 0  # attempts refused while blocked (metrics)
        self.failures = 0  # failures counted by this process (metrics)

    @property
    def enabled(self) -> bool:
        return self.repository is not None

    def address_subject(self, address: str | None) -> str | None:
        """``ip:<address>`` (IPv6: its /64); None without an address or for an exempt one."""
        if not address:
            return None
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        if any(parsed in network for network in self._exempt):
            return None
        if parsed.version == 6:
            return "ip:" + str(ipaddress.ip_network(f"{parsed}/64", strict=False))
        return f"ip:{parsed}"

    def signature_subjects(self, access_key_id: str, address: str | None) -> tuple[str, ...]:
        """The subjects a failed signature for ``access_key_id`` from ``address`` counts against."""
        ip = self.address_subject(address)
        if ip is None:
            return ()
        return ip, f"key:{access_key_id[:MAX_KEY_ID]}@{ip[3:]}"

    def mfa_subjects(self, serial_number: str, address: str | None) -> tuple[str, ...]:
        """The subjects a wrong MFA code for the device ``serial_number`` from ``address`` counts against."""
        device = f"mfa:{serial_number[:256]}"
        ip = self.address_subject(address)
        if ip is None:
            return (device,)
        return device, ip, f"{device}@{ip[3:]}"

    def check_signature(self, access_key_id: str, address: str | None, now: float) -> None:
        """Throttling if this process knows the address, or the key id from it, is blocked (no I/O;
        nothing at all to do while no subject is blocked)."""
        if self._blocked:
            self.check_remembered(self.signature_subjects(access_key_id, address), now)

    def delay(self, subject: str, failures: int) -> float:
        """Seconds the ``failures``-th failure blocks ``subject`` for."""
        beyond = failures - FREE_FAILURES[_kind(subject)]
        if beyond <= 0:
            return 0.0
        return min(self.max_delay, 2.0 ** min(beyond - 1, 30))

    def check_remembered(self, subjects: tuple[str, ...], now: float) -> None:
        """Throttling if this process knows one of ``subjects`` is blocked (no I/O)."""
        blocked = self._blocked
        if not blocked:
            return
        for subject in subjects:
            until = blocked.get(subject)
            if until is not None:
                if until > now:
                    self.refused += 1
                    raise Throttling()
                blocked.pop(subject, None)  # over: forget it (pop: a worker thread may too)

    def check_store(self, subjects: tuple[str, ...], now: float) -> None:
        """Throttling if the store says one of ``subjects`` is blocked (blocking: one read)."""
        if self.repository is None or not subjects:
            return
        until = self.repository.blocked_until(subjects)
        if until > now:
            self.refused += 1
            raise Throttling()

    def count_failure(self, subjects: tuple[str, ...], now: float) -> None:
        """Count one failure for each subject (blocking: one transaction) and remember the blocks.
        A store error is logged, not raised: the failure is answered as such either way."""
        if self.repository is None or not subjects:
            return
        try:
            blocked = self.repository.record(subjects, now, 2 * self.max_delay, self.delay)
        except Exception:  # the store is down or busy: the caller still answers the failure
            log.warning("could not count a failed attempt in the store", exc_info=True)
            return
        self.failures += 1
        remembered = self._blocked
        for subject, until in blocked.items():
            if until > now:
                if len(remembered) >= MAX_REMEMBERED_BLOCKS:
                    self._forget_expired(now)
                remembered[subject] = until

    def _forget_expired(self, now: float) -> None:
        remembered = self._blocked
        entries = list(remembered.items())  # one C call under the GIL: a consistent copy
        for subject, until in entries:
            if until <= now:
                remembered.pop(subject, None)
        if len(remembered) >= MAX_REMEMBERED_BLOCKS:  # all current: forget the soonest to end
            for subject, _ in sorted(entries, key=lambda item: item[1])[: MAX_REMEMBERED_BLOCKS // 10]:
                remembered.pop(subject, None)

    def prune(self, now: float) -> int:
        """Forget counts nobody added to for ``2 × max_delay`` (blocking)."""
        if self.repository is None:
            return 0
        return self.repository.prune(now - 2 * self.max_delay)
