"""The audit trail of one process: events gather on the event loop and are committed in groups.

The edge hands over what it saw (:class:`~opensts.audit.record.ApiCall`,
:class:`~opensts.audit.record.AuthorizationCall`) in one of two ways:

- :meth:`AuditTrail.record_durably` (credential-issuing calls, IAM writes): the request waits until
  its event is committed;
- :meth:`AuditTrail.record` (read-only calls, ``/v1/authorize`` decisions): not awaited.

Either way the call joins the current group, closed at the end of the loop's current turn when a
caller waits for it, else :data:`GROUP_SECONDS` (2 ms) after it opened, and committed in one
transaction with every call the loop handled meanwhile (group commit). With the writer process
running, a group that holds :data:`DURABLE_GROUP_CALLS` waiting calls goes at once, mid-turn: the
writer commits it while the loop goes on with the rest of the turn (below). Durability thus costs a
waiting request one short shared transaction, not a transaction of its own. A crash loses at most
the read-only events of the open group: their responses may have left before its commit
(measured: ``bench/audit_crash.py``).

**Not in a writer thread** (store I/O elsewhere runs in worker threads): a thread in the same
process gets the GIL only when the busy loop lets go of it, and loses it again at every database
call; under load such a writer fell ever further behind (measured: 394 of 10,979 answered calls
recorded after 2 s of load). Committing on the loop costs what it costs and never falls behind;
a writer *process* (below) costs the loop only the handing over.

A closed group is committed by ``committer.py`` (records built, appended to each account's hash
chain, streams fed), in one of two places:

- **the writer process** (``writer.py``), once it runs: the loop only pickles the group (a few µs per
  call) and resolves the waiting requests when the writer answers. ``--audit-writer auto`` (the
  default) starts it when the trail gets busy (:data:`AUTO_START_CALLS` calls within a second): an
  idle server, a CLI command, or a test with a few calls never pays for a second process;
  ``process`` starts it at the first call; ``inline`` never does.
- **on the loop** (a deviation from the codebase's rule that store I/O runs in worker threads; a
  commit is about a millisecond on SQLite, a few round trips on PostgreSQL): before the writer is
  ready, when it cannot take a group (a value that does not pickle, a writer more than 32 MB
  behind: back-pressure), and for good once it has stopped.

Either way, when a commit fails, durable requests hear :class:`AuditUnavailable` (the edge answers
``ServiceUnavailable``: credentials are not released unrecorded) and the other events are logged as
lost and counted. On the loop, stored events go to the streams (``streams.py``) in a thread of their
own (file writes stay off the loop; order is kept); the writer feeds its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeAlias

from opensts.audit.committer import AuditUnavailable, Call, Committer, Outcome, unavailable
from opensts.audit.record import ApiCall, AuthorizationCall
from opensts.audit.streams import Sink, streams_for
from opensts.audit.writer import WriterProcess, WriterSettings
from opensts.store import Store
from opensts.store.audit import NewEvent, StoredEvent

if TYPE_CHECKING:
    from opensts.runtime import Runtime

__all__ = ["AuditTrail", "AuditUnavailable", "Sink", "open_audit_trail"]

log = logging.getLogger("opensts.audit")

# How long a group stays open after its first call: longer groups mean fewer transactions per call
# (measured: 2 ms gathers several times more calls per commit than one loop turn under load) at the
# price of that much latency for the calls that wait for their commit.
GROUP_SECONDS = 0.002
MAX_BATCH = 2_000  # calls per transaction; more wait for the next turn of the loop
AUTO_START_CALLS = 200  # calls within one second that start the writer process (mode "auto")
# With the writer running, a group with this many waiting calls is sent at once rather than at the
# end of the turn. Under load a turn runs dozens of requests; sent only at its end, their group kept
# every waiting request (and, with 32 clients, the loop itself: 77% busy) idle while the writer
# committed it. Measured (AssumeRole, 32 connections): 1 and 2 cost the writer a transaction per
# call or two (230 µs per event instead of 145) and were slower; 8 kept the loop 85–91% busy.
DURABLE_GROUP_CALLS = 8
# A group the writer has not answered after this long means a stuck writer (a commit is bounded by
# the store's lock and statement timeouts, store/audit.py, a few seconds even with its retries).
WRITER_STALL_SECONDS = 30.0


_Future: TypeAlias = "asyncio.Future[None] | None"
_Item = tuple[Call, _Future]


class AuditTrail:
    def __init__(
        self, store: Store, default_account: str, sinks: Sequence[Sink] = (),
        writer: WriterSettings | None = None, writer_mode: str = "inline",
    ) -> None:
        self._store = store
        self._sinks = list(sinks)
        self._committer = Committer(store.audit, store.accounts, default_account, self._stream)
        # One thread for the streams: file writes in commit order, off the event loop.
        self._streams = ThreadPoolExecutor(1, "opensts-audit-streams") if self._sinks else None
        self._group: list[_Item] = []
        self._scheduled = False  # a commit of the group is due (timer or next turn)
        self._urgent = False  # a commit at the end of this turn is due (a caller waits)
        self._waiting = 0  # calls in the group whose callers wait for its commit
        self._writer_settings = writer if writer_mode in ("auto", "process") else None
        self._writer_mode = writer_mode
        self._writer: WriterProcess | None = None
        # group id -> (when it was sent, the futures of its calls: None where no caller waits),
        # oldest first, until the writer answers. Not the calls: once pickled they are the
        # writer's, and holding them here kept a backlog's worth of results alive (measured:
        # 23,609 ApiCalls in a worker under load, with everything they reference).
        self._sent: dict[int, tuple[float, list[_Future]]] = {}
        self._sent_calls = 0
        self._next_group = 0
        self._window = (0.0, 0)  # (start of the current second, calls in it): mode "auto"
        self.submitted = 0
        self.written = 0
        self.failed = 0

    # --- The request path (on the event loop) -------------------------------------------------------
    def record(self, call: Call) -> None:
        """Add ``call``'s events to the current group; not awaited (read-only calls, decisions)."""
        self._join((call, None))

    async def record_durably(self, call: Call) -> None:
        """Return once ``call``'s events are committed; :class:`AuditUnavailable` if they cannot be."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._join((call, future))
        await future

    def _join(self, item: _Item) -> None:
        self.submitted += 1
        if self._writer_settings is not None and self._writer is None:
            self._maybe_start_writer()
        self._group.append(item)
        if item[1] is not None:
            self._waiting += 1
            if self._waiting >= DURABLE_GROUP_CALLS and self._writer is not None and self._writer.accepting:
                # Enough callers wait: the writer commits them while this turn goes on. (A pending
                # close still runs; it commits what joined since, or finds the group empty.)
                self._commit_group()
                return
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
        self._waiting = sum(1 for _, future in self._group if future is not None)
        if self._group:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._commit_group)
        self._commit(group)

    # --- The writer process ---------------------------------------------------------------------------
    def _maybe_start_writer(self) -> None:
        if self._writer_mode == "auto":
            now = time.monotonic()
            start, calls = self._window
            if now - start >= 1.0:
                self._window = (now, 1)
                return
            self._window = (start, calls + 1)
            if calls + 1 < AUTO_START_CALLS:
                return
        assert self._writer_settings is not None
        self._writer = WriterProcess(self._writer_settings, self._answered, self._writer_stopped)
        self._writer.start()

    def _answered(self, group_id: int, outcomes: Any) -> None:
        sent = self._sent.pop(group_id, None)
        if sent is None:
            return
        futures = sent[1]
        self._sent_calls -= len(futures)
        if outcomes is None:
            self._settle(futures, [None] * len(futures))
        elif isinstance(outcomes, str):  # the whole group failed
            self._settle(futures, [AuditUnavailable(outcomes)] * len(futures))
        else:
            self._settle(futures, [None if o is None else AuditUnavailable(o) for o in outcomes])

    def _writer_stopped(self, reason: str) -> None:
        """The writer is gone: the groups it did not answer fail (their events may or may not have
        committed), and the trail commits on the loop from now on."""
        if self._sent:
            log.error("%s; %d recorded calls had no answer", reason, self._sent_calls)
        elif reason != "the audit writer was closed":
            log.error("%s; the audit trail commits in the server from now on", reason)
        sent, self._sent, self._sent_calls = self._sent, {}, 0
        for _, futures in sent.values():
            self._settle(futures, [AuditUnavailable(reason)] * len(futures))
        # Keep the stopped writer: it is not started again (mode "auto" checks for None).

    # --- Outside the server ---------------------------------------------------------------------------
    def record_now(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Commit ``events`` in the calling thread (CLI commands), then feed the streams."""
        stored = self._store.audit.append(events)
        self._feed(stored)
        return stored

    def tick(self) -> None:
        """Let time-based streams deliver, and stop a writer that has not answered a group for
        :data:`WRITER_STALL_SECONDS` (the server calls this about once a second, on the loop): its
        waiting requests hear AuditUnavailable and the trail commits on the loop from then on."""
        if self._streams is not None:
            self._streams.submit(self._tick)
        writer = self._writer
        if writer is not None and self._sent and not writer.stopped:
            sent_at, _ = next(iter(self._sent.values()))
            if time.monotonic() - sent_at > WRITER_STALL_SECONDS:
                writer.kill()

    def close(self) -> None:
        """Commit what is left of the current group, let the writer finish, then close the streams
        (at shutdown)."""
        while self._group:
            group, self._group = self._group[:MAX_BATCH], self._group[MAX_BATCH:]
            self._commit(group)
        self._waiting = 0
        if self._writer is not None:
            self._writer.close()
        if self._streams is not None:
            self._streams.shutdown(wait=True)
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - closing must not fail the shutdown
                log.warning("could not close an audit stream", exc_info=True)

    @property
    def pending(self) -> int:
        return len(self._group) + self._sent_calls

    @property
    def writer_pid(self) -> int | None:
        """The writer process's id while it runs (tests, diagnostics)."""
        writer = self._writer
        return writer.pid if writer is not None and writer.ready and not writer.stopped else None

    def counters(self) -> dict[str, float]:
        """For ``/metrics`` (server/metrics.py's COUNTERS)."""
        return {
            "opensts_audit_events_submitted_total": self.submitted,
            "opensts_audit_events_written_total": self.written,
            "opensts_audit_events_failed_total": self.failed,
            "opensts_audit_events_pending": self.pending,
            "opensts_audit_writer_up": 1.0 if self.writer_pid is not None else 0.0,
        }

    # --- Committing -----------------------------------------------------------------------------------
    def _commit(self, items: list[_Item]) -> None:
        writer = self._writer
        if writer is not None:
            group_id = self._next_group = self._next_group + 1
            if writer.send(group_id, [call for call, _ in items]):
                self._sent[group_id] = (time.monotonic(), [future for _, future in items])
                self._sent_calls += len(items)
                return
        self._settle([future for _, future in items], self._committer.commit([call for call, _ in items]))

    def _settle(self, futures: Sequence[_Future], outcomes: Sequence[Outcome]) -> None:
        failed = [outcome for outcome in outcomes if outcome is not None]
        self.written += len(futures) - len(failed)
        if failed:
            self.failed += len(failed)
            log.error("could not commit the audit events of %d calls: %s", len(failed), failed[0])
        for future, outcome in zip(futures, outcomes):
            if future is not None and not future.done():
                error = unavailable(outcome)
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)

    def _stream(self, stored: list[StoredEvent]) -> None:
        if stored and self._streams is not None:
            self._streams.submit(self._feed, stored)

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


def open_audit_trail(runtime: "Runtime", log_config: dict[str, Any] | None = None) -> AuditTrail:
    """The server's trail: the store, the default account, the configured streams, and the
    writer process (``--audit-writer``) logging as the server does (``log_config``)."""
    settings = runtime.settings
    sinks = streams_for(settings.audit_log, settings.audit_dir)
    writer = WriterSettings(
        runtime.store.url, runtime.default_account_id, settings.audit_log, settings.audit_dir, log_config
    )
    return AuditTrail(runtime.store, runtime.default_account_id, sinks, writer, settings.audit_writer)
