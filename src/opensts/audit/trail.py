"""The audit trail of one process: events gather on the event loop and are committed in groups.

The edge hands over what it saw (:class:`~opensts.audit.record.ApiCall`,
:class:`~opensts.audit.record.AuthorizationCall`) in one of two ways:

- :meth:`AuditTrail.record_durably` (credential-issuing calls, IAM writes): the request waits until
  its event is committed;
- :meth:`AuditTrail.record` (read-only calls, ``/v1/authorize`` decisions): not awaited.

Either way the call joins the current group, committed on the event loop in one transaction with
every call the loop handled meanwhile (group commit): at the end of the loop's current turn when
a caller waits for it, else :data:`GROUP_SECONDS` (2 ms) after the group opened. Durability thus
costs a waiting request one short shared transaction, not a transaction of its own. A crash loses
at most the read-only events of the open group: their responses may have left before its commit
(measured: ``bench/audit_crash.py``).

**Why on the event loop, not in a writer thread** (a deviation from the codebase's rule that store
I/O runs in worker threads): a thread in the same process gets the GIL only when the busy loop
lets go of it, and loses it again at every database call; under load such a writer fell ever
further behind (measured: 394 of 10,979 answered calls recorded after 2 s of load). On the loop,
the trail costs what it costs, no more, and can never fall behind. One commit is about a
millisecond on SQLite (WAL, no fsync per commit) and a few round trips on PostgreSQL.

The records are built here (``record.py``), appended to each account's hash chain
(``store/audit.py``), and the stored events are passed to the streams (``streams.py``) in a
thread of their own (file writes stay off the loop; order is kept). A transaction that fails is
retried once, then each call's events alone (so that one event the store refuses cannot take its
neighbours' with it); if it keeps failing, durable requests hear :class:`AuditUnavailable` (the edge
answers ``ServiceUnavailable``: credentials are not released unrecorded) and the other events are
logged as lost and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from opensts.audit.record import ApiCall, AuthorizationCall, api_call_events, authorization_events
from opensts.store import Store
from opensts.store.audit import NewEvent, StoredEvent

log = logging.getLogger("opensts.audit")

# How long a group stays open after its first call: longer groups mean fewer transactions per call
# (measured: 2 ms gathers several times more calls per commit than one loop turn under load) at the
# price of that much latency for the calls that wait for their commit.
GROUP_SECONDS = 0.002
MAX_BATCH = 2_000  # calls per transaction; more wait for the next turn of the loop
ATTEMPTS = 2  # each bounded by the store's lock and statement timeouts (store/audit.py)


class Sink(Protocol):
    """A stream fed with every committed batch, in commit order (``streams.py``)."""

    def write(self, events: Sequence[StoredEvent]) -> None: ...

    def tick(self) -> None: ...  # called about once a second (time-based deliveries)

    def close(self) -> None: ...


class AuditUnavailable(Exception):
    """The event could not be committed (the store kept failing)."""


_Item = tuple[Any, "asyncio.Future[None] | None"]


class AuditTrail:
    def __init__(self, store: Store, default_account: str, sinks: Sequence[Sink] = ()) -> None:
        self._store = store
        self._default_account = default_account
        self._sinks = list(sinks)
        # One thread for the streams: file writes in commit order, off the event loop.
        self._streams = ThreadPoolExecutor(1, "opensts-audit-streams") if self._sinks else None
        self._group: list[_Item] = []
        self._scheduled = False  # a commit of the group is due (timer or next turn)
        self._urgent = False  # a commit at the end of this turn is due (a caller waits)
        self._known: set[str] = set()
        self._unknown: dict[str, float] = {}  # account id -> when it was found missing (monotonic)
        self.submitted = 0
        self.written = 0
        self.failed = 0

    # --- The request path (on the event loop) -------------------------------------------------------
    def record(self, call: ApiCall | AuthorizationCall) -> None:
        """Add ``call``'s events to the current group; not awaited (read-only calls, decisions)."""
        self._join((call, None))

    async def record_durably(self, call: ApiCall | AuthorizationCall) -> None:
        """Return once ``call``'s events are committed; :class:`AuditUnavailable` if they cannot be."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._join((call, future))
        await future

    def _join(self, item: _Item) -> None:
        self.submitted += 1
        self._group.append(item)
        if item[1] is not None:
            # A caller waits for this commit: close the group at the end of this turn of the loop.
            if not self._urgent:
                self._urgent = True
                asyncio.get_running_loop().call_soon(self._commit_group)
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(GROUP_SECONDS, self._commit_group)

    def _commit_group(self) -> None:
        self._urgent = self._scheduled = False
        if not self._group:
            return
        group, self._group = self._group[:MAX_BATCH], self._group[MAX_BATCH:]
        if self._group:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._commit_group)
        self._commit(group)

    # --- Outside the server ---------------------------------------------------------------------------
    def record_now(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Commit ``events`` in the calling thread (CLI commands), then feed the streams."""
        stored = self._store.audit.append(events)
        self._feed(stored)
        return stored

    def tick(self) -> None:
        """Let time-based streams deliver (the server calls this about once a second)."""
        if self._streams is not None:
            self._streams.submit(self._tick)

    def close(self) -> None:
        """Commit what is left of the current group, then close the streams (at shutdown)."""
        while self._group:
            group, self._group = self._group[:MAX_BATCH], self._group[MAX_BATCH:]
            self._commit(group)
        if self._streams is not None:
            self._streams.shutdown(wait=True)
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - closing must not fail the shutdown
                log.warning("could not close an audit stream", exc_info=True)

    @property
    def pending(self) -> int:
        return len(self._group)

    def counters(self) -> dict[str, float]:
        """For ``/metrics`` (server/metrics.py's COUNTERS)."""
        return {
            "opensts_audit_events_submitted_total": self.submitted,
            "opensts_audit_events_written_total": self.written,
            "opensts_audit_events_failed_total": self.failed,
            "opensts_audit_events_pending": self.pending,
        }

    # --- Committing -----------------------------------------------------------------------------------
    def _commit(self, items: list[_Item]) -> None:
        built: list[tuple[_Item, list[NewEvent]]] = []
        unbuilt: list[_Item] = []
        for item in items:
            try:
                built.append((item, self._events(item[0])))
            except Exception:  # a bug, or the store failing an account look-up: this call only
                log.exception("could not build an audit record for %s", type(item[0]).__name__)
                unbuilt.append(item)
        if unbuilt:
            self._settle(unbuilt, AuditUnavailable("the audit record could not be built"))
        stored, error = self._append([event for _, events in built for event in events])
        if error is not None and len(built) > 1:
            # One call's event may be what the store refuses: commit the others one by one, so
            # that a hostile request cannot take its neighbours' events down with it.
            failures_in_a_row = 0
            for item, events in built:
                if failures_in_a_row >= 3:  # the store itself is failing: do not try every call
                    self._settle([item], error)
                    continue
                one, one_error = self._append(events, attempts=1)
                self._settle([item], one_error)
                failures_in_a_row = failures_in_a_row + 1 if one_error is not None else 0
                stored.extend(one)
            return self._stream(stored)
        self._settle([item for item, _ in built], error)
        self._stream(stored)

    def _append(self, events: list[NewEvent], attempts: int = ATTEMPTS) -> tuple[list[StoredEvent], BaseException | None]:
        error: BaseException | None = None
        for _ in range(attempts):
            try:
                return self._store.audit.append(events), None
            except Exception as exc:  # noqa: BLE001 - the store may be briefly unreachable
                error = exc
        return [], error

    def _settle(self, items: list[_Item], error: BaseException | None) -> None:
        if error is None:
            self.written += len(items)
        else:
            self.failed += len(items)
            log.error("could not commit the audit events of %d calls: %s", len(items), error)
        for _, future in items:
            if future is not None and not future.done():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error if isinstance(error, AuditUnavailable) else AuditUnavailable(str(error)))

    def _stream(self, stored: list[StoredEvent]) -> None:
        if stored and self._streams is not None:
            self._streams.submit(self._feed, stored)

    def _events(self, call: ApiCall | AuthorizationCall) -> list[NewEvent]:
        if isinstance(call, ApiCall):
            return api_call_events(call, self._default_account, self._known_account)
        return authorization_events(call, self._default_account, self._known_account)

    def _known_account(self, account_id: str) -> bool:
        """Whether the account exists (events naming other accounts go to the default account).
        Accounts are created, never removed: a known one is remembered for good; an unknown one is
        looked up again after a second at most (unsigned calls may name any account id)."""
        if account_id in self._known:
            return True
        now = time.monotonic()
        checked = self._unknown.get(account_id)
        if checked is not None and now - checked < KNOWN_ACCOUNTS_REFRESH_SECONDS:
            return False
        if self._store.accounts.get(account_id) is not None:
            self._known.add(account_id)
            self._unknown.pop(account_id, None)
            return True
        if len(self._unknown) >= MAX_UNKNOWN_ACCOUNTS:
            self._unknown.clear()
        self._unknown[account_id] = now
        return False

    def _tick(self) -> None:
        for sink in self._sinks:
            try:
                sink.tick()
            except Exception:  # noqa: BLE001
                log.warning("could not write to an audit stream", exc_info=True)

    def _feed(self, stored: Sequence[StoredEvent]) -> None:
        for sink in self._sinks:
            try:
                sink.write(stored)
            except Exception:  # noqa: BLE001 - a full disk must not stop the trail in the store
                log.warning("could not write to an audit stream", exc_info=True)


KNOWN_ACCOUNTS_REFRESH_SECONDS = 1.0
MAX_UNKNOWN_ACCOUNTS = 10_000

