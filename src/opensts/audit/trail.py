"""The audit trail of one process: events queue here and one writer thread commits them in groups.

The edge hands over what it saw (:class:`~opensts.audit.record.ApiCall`,
:class:`~opensts.audit.record.AuthorizationCall`) in one of two ways:

- :meth:`AuditTrail.record_durably` (credential-issuing calls, IAM writes): the request waits until
  its event is committed. Events of concurrent requests share one transaction (group commit): the
  writer takes everything queued while the previous transaction ran, so durability costs each
  request about one transaction's latency and costs no throughput;
- :meth:`AuditTrail.record` (read-only calls, ``/v1/authorize`` decisions): queued, not awaited.
  A crash loses at most what is queued: the events of the requests answered while the current
  transaction ran (bounded by :data:`MAX_PENDING`; beyond it such events are dropped and counted,
  so that a flood cannot exhaust memory).

The writer builds the CloudTrail records (``record.py``) off the request path, appends them to each
account's hash chain (``store/audit.py``), and then passes the stored events to the streams
(``streams.py``). A failed transaction is retried; if it keeps failing, durable requests hear
``ServiceUnavailable`` (credentials are not released unrecorded) and queued events are logged as lost.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from opensts.audit.record import ApiCall, AuthorizationCall, api_call_events, authorization_events
from opensts.store import Store
from opensts.store.audit import NewEvent, StoredEvent

log = logging.getLogger("opensts.audit")

MAX_PENDING = 100_000  # queued, not yet committed events (read-only calls); more are dropped
MAX_BATCH = 2_000  # events per transaction
RETRIES = 3
KNOWN_ACCOUNTS_REFRESH_SECONDS = 1.0
MAX_UNKNOWN_ACCOUNTS = 10_000


class Sink(Protocol):
    """A stream fed with every committed batch, in commit order (``streams.py``)."""

    def write(self, events: Sequence[StoredEvent]) -> None: ...

    def tick(self) -> None: ...  # called about once a second (time-based deliveries)

    def close(self) -> None: ...


class AuditUnavailable(Exception):
    """The event could not be committed (the store kept failing)."""


_Item = tuple[Any, "asyncio.Future[None] | None", "asyncio.AbstractEventLoop | None"]
_STOP = object()


class AuditTrail:
    def __init__(self, store: Store, default_account: str, sinks: Sequence[Sink] = ()) -> None:
        self._store = store
        self._default_account = default_account
        self._sinks = list(sinks)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._known: set[str] = set()
        self._unknown: dict[str, float] = {}  # account id -> when it was found missing (monotonic)
        # Counters: each written by one thread only (submitted: the event loop; the rest: the writer).
        self.submitted = 0
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.batches = 0

    # --- The request path ---------------------------------------------------------------------------
    def record(self, call: ApiCall | AuthorizationCall) -> None:
        """Queue ``call``'s events; not awaited (read-only calls, decisions)."""
        if self.submitted - self.written - self.dropped - self.failed >= MAX_PENDING:
            self.dropped += 1
            return
        self.submitted += 1
        self._queue.put((call, None, None))

    async def record_durably(self, call: ApiCall | AuthorizationCall) -> None:
        """Return once ``call``'s events are committed; :class:`AuditUnavailable` if they cannot be."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self.submitted += 1
        self._queue.put((call, future, loop))
        await future

    def record_now(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Commit ``events`` in the calling thread (CLI commands), then feed the streams."""
        stored = self._store.audit.append(events)
        self._feed(stored)
        return stored

    # --- Lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "AuditTrail":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="opensts-audit", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, stop the writer, close the streams."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - closing must not fail the shutdown
                log.warning("could not close an audit stream", exc_info=True)

    @property
    def pending(self) -> int:
        return max(0, self.submitted - self.written - self.failed)

    def counters(self) -> dict[str, float]:
        """For ``/metrics`` (server/metrics.py's COUNTERS)."""
        return {
            "opensts_audit_events_submitted_total": self.submitted,
            "opensts_audit_events_written_total": self.written,
            "opensts_audit_events_dropped_total": self.dropped,
            "opensts_audit_events_failed_total": self.failed,
            "opensts_audit_events_pending": self.pending,
        }

    # --- The writer thread --------------------------------------------------------------------------
    def _run(self) -> None:
        get = self._queue.get
        while True:
            try:
                first = get(timeout=1.0)
            except queue.Empty:
                self._tick()
                continue
            items = []
            stop = first is _STOP
            if not stop:
                items.append(first)
            while len(items) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    continue
                items.append(item)
            if items:
                self._commit(items)
            if stop and self._queue.empty():
                return

    def _commit(self, items: list[_Item]) -> None:
        events: list[NewEvent] = []
        for call, _, _ in items:
            try:
                events.extend(self._events(call))
            except Exception:  # a bug in building one record must not lose the others
                log.exception("could not build an audit record for %s", type(call).__name__)
        error: BaseException | None = None
        stored: list[StoredEvent] = []
        for attempt in range(RETRIES):
            try:
                stored = self._store.audit.append(events)
                error = None
                break
            except Exception as exc:  # noqa: BLE001 - the store may be briefly unreachable
                error = exc
                time.sleep(0.05 * (2 ** attempt))
        self.batches += 1
        if error is not None:
            self.failed += len(items)
            log.error("could not commit %d audit events: %s", len(events), error)
        else:
            self.written += len(items)
        self._resolve(items, error)
        if error is None:
            self._feed(stored)

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

    @staticmethod
    def _resolve(items: list[_Item], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, future, loop in items:
            if future is not None and loop is not None:
                by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, futures, error)
            except RuntimeError:  # the loop is closed (shutdown): nobody waits any more
                pass

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


def _settle(futures: list["asyncio.Future[None]"], error: BaseException | None) -> None:
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(AuditUnavailable(str(error)))

