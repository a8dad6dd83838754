"""Slowing down guessing: failed signatures, wrong MFA codes and wrong old passwords, counted across every worker and
node, answered with a growing delay.

**Subjects.** A failure is counted against several subjects at once:

============================  ===================================================  ==============
subject                       counts                                               free failures
============================  ===================================================  ==============
``ip:<address>``              every failed signature or MFA code from an address   30
``key:<key id>@<address>``    bad signatures for one existing key id from one      10
                              address (an unknown key id counts for the address
                              only: no row per invented id)
``mfa:<serial>@<address>``    wrong codes for one device of the caller's, from     3
                              one address
``mfa:<serial>``              wrong codes for one device of the caller's, from     20
                              anywhere
``password:<user id>``        wrong old passwords in the user's own ChangePassword  10
                              (counted and forgiven as MFA codes are)
``signin:<account>/<name>``   failed console sign-ins naming this account and user  50
                              (existing or not: the answer must not tell)
``signin:...@<address>``      the same from one address                            5
============================  ===================================================  ==============

A code sent for a device that is not the caller's is refused without being looked at, and counts
for the address only: nobody can block someone else's device by naming its serial number.

An IPv6 address counts as its /64 (one host usually holds a whole /64). The address is the one
``aws:SourceIp`` sees: the TCP peer, or what trusted proxies say (docs/DEPLOYMENT.md). Loopback
addresses are exempt from the per-address subjects by default (``--brute-force-exempt``): a
reverse proxy on the same host that is not configured as trusted makes every client look like
127.0.0.1, and blocking that address would block everyone.

**The delay.** A subject's failures beyond its free ones block it for 1 s, then 2 s, 4 s, … doubling
up to ``max_delay`` (15 minutes by default). Counts are forgotten ``2 × max_delay`` after a
subject's last failure: waiting out a block does not reset them. What a block does:

- **MFA codes**: an attempt whose device or address is blocked is answered ``Throttling`` ("Rate
  exceeded", 400) *before* the code is looked at. The check and the count are one store
  transaction (:meth:`BruteForceGuard.begin_attempt`, row-locked): every attempt is counted as a
  failure before its code is checked and forgiven if the code was right, so concurrent attempts
  cannot all pass the check before any is counted.
- **Signatures**: a signature cannot be guessed (HMAC-SHA256 under a 40-character secret), so a
  blocked subject's requests are still verified, and a valid one is served: one bad client behind
  a NAT does not lock out everyone there, and a key cannot be blocked by someone who saw its id.
  A *failing* request of a blocked subject is answered ``Throttling`` instead of its error,
  uncounted: the guesser learns nothing more (not even whether a key id exists) and costs no store
  write. Its check is this process's memory of the blocks it learnt when counting, so only failed
  requests pay for it.

**Why a stolen key plus guessing cannot pass MFA.** A TOTP code is one of 10⁶ values and OpenSTS
accepts 3 of them at any moment (the current 30-second step and one either side), each for about
90 s. From one address a guesser gets 3 free tries, then 1 + 2 + 4 + … seconds apart: about 14
tries in the first half hour, then one every 15 minutes, ~110 a day, a chance of about 3 × 10⁻⁴ a
day. From many addresses the device's own count (20 free) caps the total at about the same. The
user with the right code, from another address, is unaffected by a guesser's failures until the
device's count runs out; then the device is blocked for everyone, the price of that bound. (A
guesser of MFA codes holds the user's secret key: rotate it.)

**Where the counts live, and why.** In the store (table ``auth_failures``), so that every worker
and node counts the same failures: a guesser cannot multiply tries by reaching several workers or
nodes. Successful signed requests never touch it. Each process writes at most
``FAILURE_WRITES_PER_SECOND`` signature failures a second (a flood of bad signatures must not
become a flood of store writes); beyond that, and whenever the store cannot count, failures are
answered ``Throttling``: closed, not open.

Deviation from AWS: AWS documents no per-address slowdown of failed authentication.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opensts.errors import Throttling

if TYPE_CHECKING:
    from opensts.store.auth_failures import AuthFailureRepository

log = logging.getLogger("opensts.brute_force")

DEFAULT_MAX_DELAY = 900.0
DEFAULT_EXEMPT = ("127.0.0.0/8", "::1/128")
FREE_FAILURES = {"ip": 30, "key": 10, "mfa@": 3, "mfa": 20, "password": 10, "signin@": 5, "signin": 50}
MAX_REMEMBERED_BLOCKS = 100_000  # this process's memory of blocked subjects
MAX_KEY_ID = 128  # longer key ids are cut (they are client text)
FAILURE_WRITES_PER_SECOND = 200.0  # per process; a burst of twice as many


def _kind(subject: str) -> str:
    kind = subject.split(":", 1)[0]
    if kind in ("mfa", "signin") and "@" in subject:
        return kind + "@"
    return kind


def free_failures(subject: str) -> int:
    return FREE_FAILURES[_kind(subject)]


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
        self._budget = FAILURE_WRITES_PER_SECOND * 2
        self._budget_at = time.monotonic()
        self._budget_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.repository is not None

    # --- subjects ---------------------------------------------------------------------------

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
            return "ip:" + str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
        return f"ip:{parsed}"

    def signature_subjects(self, access_key_id: str, address: str | None, key_exists: bool) -> tuple[str, ...]:
        """The subjects a failed signature for ``access_key_id`` from ``address`` counts against."""
        ip = self.address_subject(address)
        if ip is None:
            return ()
        if not key_exists:
            return (ip,)
        return ip, f"key:{access_key_id[:MAX_KEY_ID]}@{ip[3:]}"

    def mfa_subjects(self, serial_number: str, address: str | None, callers_device: bool) -> tuple[str, ...]:
        """The subjects a wrong MFA code from ``address`` counts against: the device's own only when
        it is the caller's (else anyone could block anyone's device by naming it)."""
        ip = self.address_subject(address)
        if not callers_device:
            return (ip,) if ip is not None else ()
        device = f"mfa:{serial_number[:256]}"
        if ip is None:
            return (device,)
        return device, ip, f"{device}@{ip[3:]}"

    def password_subjects(self, user_id: str) -> tuple[str, ...]:
        """The subject a wrong old password (ChangePassword) counts against: the user's own
        password. Only the user itself can try it (ChangePassword acts on the caller), so no one
        else can block it; an address's tries are not counted (they are signed requests)."""
        return (f"password:{user_id[:MAX_KEY_ID]}",) if self.enabled else ()

    def signin_subjects(self, account: str, user_name: str, address: str | None) -> tuple[str, ...]:
        """The subjects a failed console sign-in counts against: the account and user name as typed
        (whether or not the user exists: the answer must not tell), from this address and from
        anywhere (more free failures: one address cannot lock a user out of the console alone).
        Not the user's own ``password:`` subject: ChangePassword stays the user's."""
        if not self.enabled:
            return ()
        name = f"signin:{account[:64].lower()}/{user_name[:64].lower()}"
        ip = self.address_subject(address)
        return (name,) if ip is None else (name, f"{name}@{ip[3:]}", ip)

    def delay(self, subject: str, failures: int) -> float:
        """Seconds the ``failures``-th failure blocks ``subject`` for."""
        beyond = failures - free_failures(subject)
        if beyond <= 0:
            return 0.0
        return min(self.max_delay, 2.0 ** min(beyond - 1, 30))

    # --- signatures: counted after the fact -------------------------------------------------

    def refuses_failure(self, subjects: tuple[str, ...], now: float) -> bool:
        """True (and counted as refused) if this process knows one of ``subjects`` is blocked: the
        failure is then answered Throttling, uncounted (no I/O)."""
        blocked = self._blocked
        for subject in subjects:
            until = blocked.get(subject)
            if until is not None:
                if until > now:
                    self.refused += 1
                    return True
                blocked.pop(subject, None)  # over: forget it (pop: a worker thread may too)
        return False

    def count_failure(self, subjects: tuple[str, ...], now: float) -> bool:
        """Count one failure for each subject (blocking: one transaction) and remember the blocks.
        False when it could not be counted (this process's write budget is spent, or the store
        failed): the caller answers Throttling then, failing closed."""
        if self.repository is None or not subjects:
            return True
        if not self._spend_budget():
            self.refused += 1
            return False
        try:
            blocked = self.repository.record(subjects, now, 2 * self.max_delay, self.delay)
        except Exception:  # the store is down or busy
            log.warning("could not count a failed attempt in the store", exc_info=True)
            return False
        self.failures += 1
        self._remember(blocked, now)
        return True

    # --- MFA codes: counted before the code is checked --------------------------------------

    def begin_attempt(self, subjects: tuple[str, ...], now: float) -> None:
        """Throttling if a subject is blocked (nothing counted); else the attempt is counted as a
        failure, in the same transaction, until :meth:`forgive` takes it back (blocking)."""
        if self.repository is None or not subjects:
            return
        try:
            admitted = self.repository.attempt(subjects, now, 2 * self.max_delay, self.delay)
        except Exception:
            log.warning("could not count an MFA attempt in the store", exc_info=True)
            admitted = False
        if not admitted:
            self.refused += 1
            raise Throttling()
        self.failures += 1

    def forgive(self, subjects: tuple[str, ...]) -> None:
        """The attempt :meth:`begin_attempt` counted succeeded: take its count back (blocking)."""
        if self.repository is None or not subjects:
            return
        try:
            self.repository.forgive(subjects, free_failures)
        except Exception:  # the user is through; a count left over only shortens their next tries
            log.warning("could not take back a counted MFA attempt", exc_info=True)
        self.failures -= 1

    # --- upkeep -----------------------------------------------------------------------------

    def _spend_budget(self) -> bool:
        with self._budget_lock:  # worker threads count failures concurrently
            return self._take_from_budget()

    def _take_from_budget(self) -> bool:
        now = time.monotonic()
        budget = min(FAILURE_WRITES_PER_SECOND * 2, self._budget + (now - self._budget_at) * FAILURE_WRITES_PER_SECOND)
        self._budget_at = now
        if budget < 1.0:
            self._budget = budget
            return False
        self._budget = budget - 1.0
        return True

    def _remember(self, blocked: dict[str, float], now: float) -> None:
        remembered = self._blocked
        for subject, until in blocked.items():
            if until > now:
                if len(remembered) >= MAX_REMEMBERED_BLOCKS:
                    self.forget_expired(now)
                remembered[subject] = until

    def forget_expired(self, now: float) -> None:
        """Drop remembered blocks that are over (and, if all are current, the soonest to end)."""
        remembered = self._blocked
        entries = list(remembered.items())  # one C call under the GIL: a consistent copy
        for subject, until in entries:
            if until <= now:
                remembered.pop(subject, None)
        if len(remembered) >= MAX_REMEMBERED_BLOCKS:
            for subject, _ in sorted(entries, key=lambda item: item[1])[: MAX_REMEMBERED_BLOCKS // 10]:
                remembered.pop(subject, None)

    def prune(self, now: float) -> int:
        """Forget counts nobody added to for ``2 × max_delay`` (blocking), and blocks that are over."""
        self.forget_expired(now)
        if self.repository is None:
            return 0
        return self.repository.prune(now - 2 * self.max_delay)
