"""The server's background tasks, one set per worker process, started and cancelled by the lifespan.

- **key ring**: reloaded every ``KEYRING_REFRESH_SECONDS`` (30 s) to see other processes' and
  nodes' rotations; the active key is rotated when due (checked hourly, one locked transaction,
  so concurrent checks rotate once);
- **IAM change counter**: polled every ``IAM_VERSION_POLL_SECONDS`` (0.25 s); when another process
  wrote IAM data, this one drops its caches of IAM data (``Runtime.refresh_iam_version``);
- **metrics**: with a shared metrics directory (several workers), this worker's figures are
  written there every second for the others' ``/metrics`` (``metrics.py``);
- **audit checkpoints** (audit trail on): every ``audit_checkpoint_seconds`` each grown chain head
  is signed (``audit/verify.py``); every worker and node does it, the first insert of a checkpoint
  wins and the others leave it;
- **audit streams** (audit trail on): every second, time-based streams may deliver (``audit/streams.py``);
- **failure counts** (brute-force protection on): every 5 minutes, counts of failed attempts
  nobody added to for twice the longest delay are removed (``brute_force.py``);
- **console sessions**: every 5 minutes, expired console sessions and federation sign-in tokens
  are removed (``store/console_sessions.py``);
- **audit retention** (audit trail on): hourly, events older than ``audit_retention_days`` are
  removed in short batches (``audit/retention.py``), the first pass a minute after start;
- **TLS certificate** (TLS on): the certificate files are checked every 2 s and reloaded when they
  changed, and on SIGHUP (``server/tls.py``).

Store reads and file writes run in worker threads, never on the event loop. A failing iteration
is logged and retried at the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timezone
from typing import Callable

from starlette.concurrency import run_in_threadpool

from opensts.audit.record import service_event
from opensts.audit.retention import prune_expired
from opensts.audit.trail import AuditTrail
from opensts.audit.verify import sign_checkpoints
from opensts.runtime import KEYRING_REFRESH_SECONDS, Runtime, rotate_keyring_if_due
from opensts.server import metrics, tls

log = logging.getLogger("opensts.server")

KEY_ROTATION_CHECK_SECONDS = 3600.0
IAM_VERSION_POLL_SECONDS = 0.25
AUDIT_RETENTION_SECONDS = 3600.0
AUDIT_RETENTION_FIRST_DELAY = 60.0
FAILURE_PRUNE_SECONDS = 300.0
CONSOLE_PRUNE_SECONDS = 300.0


def start(
    runtime: Runtime, audit: AuditTrail | None = None, counters: Callable[[], metrics.Counters] | None = None
) -> list[asyncio.Task[None]]:
    """Start the background tasks (on the running event loop); cancel them to stop. ``counters``:
    this process's counters for /metrics (server/metrics.py COUNTERS)."""
    tasks = [asyncio.create_task(refresh_keyring(runtime, audit)), asyncio.create_task(watch_iam_version(runtime))]
    if runtime.settings.metrics_dir:
        tasks.append(asyncio.create_task(publish_metrics(runtime.settings.metrics_dir, counters)))
    tasks.append(asyncio.create_task(end_expired_console_sessions(runtime)))
    if runtime.guard.enabled:
        tasks.append(asyncio.create_task(forget_old_failures(runtime)))
    if audit is not None:
        tasks.append(asyncio.create_task(sign_audit_checkpoints(runtime)))
        tasks.append(asyncio.create_task(audit_retention(runtime)))
        tasks.append(asyncio.create_task(tick_audit_streams(audit)))
    server_tls = tls.active()  # made by this worker's server config (server/serving.py)
    if server_tls is not None:
        tasks.append(asyncio.create_task(server_tls.watch()))
    return tasks


async def forget_old_failures(runtime: Runtime) -> None:
    """Every few minutes: failure counts nobody added to for a while are removed (brute_force.py)."""
    while True:
        await asyncio.sleep(FAILURE_PRUNE_SECONDS)
        try:
            await run_in_threadpool(runtime.guard.prune, runtime.clock.now().timestamp())
        except Exception:
            log.warning("could not remove old failure counts", exc_info=True)


async def end_expired_console_sessions(runtime: Runtime) -> None:
    """Every few minutes: expired console sessions and sign-in tokens are removed (they are refused
    as soon as they expire; this only keeps the tables small)."""
    while True:
        await asyncio.sleep(CONSOLE_PRUNE_SECONDS)
        try:
            await run_in_threadpool(runtime.store.console.prune, runtime.clock.now())
        except Exception:
            log.warning("could not remove expired console sessions", exc_info=True)


async def tick_audit_streams(audit: AuditTrail) -> None:
    """Once a second: time-based audit streams deliver (CloudTrail files), in their own thread, and
    a stuck audit writer is stopped (audit/trail.py)."""
    while True:
        await asyncio.sleep(1.0)
        audit.tick()


async def sign_audit_checkpoints(runtime: Runtime) -> None:
    """Sign each audit chain head that grew since its last checkpoint."""
    while True:
        await asyncio.sleep(runtime.settings.audit_checkpoint_seconds)
        try:
            await run_in_threadpool(sign_checkpoints, runtime)
        except Exception:
            log.warning("could not sign audit checkpoints; retrying", exc_info=True)


async def audit_retention(runtime: Runtime) -> None:
    """Remove audit events older than the retention, hourly."""
    await asyncio.sleep(AUDIT_RETENTION_FIRST_DELAY)
    while True:
        try:
            await run_in_threadpool(prune_expired, runtime)
        except Exception:
            log.warning("could not remove expired audit events; retrying", exc_info=True)
        await asyncio.sleep(AUDIT_RETENTION_SECONDS)


async def refresh_keyring(runtime: Runtime, audit: AuditTrail | None = None) -> None:
    """Pick up key rotations made by other processes or nodes, and rotate when the key is due
    (recorded in the default account's audit trail as ``RotateSigningKey``, invoked by ``opensts``)."""
    next_rotation_check = 0.0
    while True:
        try:
            if time.monotonic() >= next_rotation_check:
                next_rotation_check = time.monotonic() + KEY_ROTATION_CHECK_SECONDS
                key_id = await run_in_threadpool(rotate_keyring_if_due, runtime)
                if key_id is not None and audit is not None:
                    event = service_event(
                        account_id=runtime.default_account_id, event_name="RotateSigningKey",
                        event_time=datetime.now(timezone.utc), parameters=None,
                        response={"activeKeyId": key_id}, invoked_by="opensts",
                    )
                    await run_in_threadpool(audit.record_now, [event])
            await run_in_threadpool(runtime.reload_keyring)
        except Exception:  # the store may be briefly unreachable; keep the ring we have
            log.warning("could not reload or rotate the key ring; keeping the current one", exc_info=True)
        await asyncio.sleep(KEYRING_REFRESH_SECONDS)


async def watch_iam_version(runtime: Runtime) -> None:
    """See IAM writes made by other processes: they bump a counter in the store."""
    while True:
        await asyncio.sleep(IAM_VERSION_POLL_SECONDS)
        try:
            await run_in_threadpool(runtime.refresh_iam_version)
        except Exception:
            log.warning("could not read the IAM change counter", exc_info=True)


async def publish_metrics(directory: str, counters: Callable[[], metrics.Counters] | None = None) -> None:
    """Several workers: share this one's figures (and ``counters()``) with the others' /metrics."""
    try:
        while True:
            await asyncio.sleep(metrics.PUBLISH_SECONDS)
            try:
                # The snapshot on the loop (the only thread that changes the figures), the write off it.
                snapshot = metrics.snapshot(counters() if counters is not None else None)
                await run_in_threadpool(metrics.publish, directory, snapshot)
            except OSError:
                log.warning("could not write this worker's metrics", exc_info=True)
    finally:
        with contextlib.suppress(OSError):
            metrics.publish(directory)
