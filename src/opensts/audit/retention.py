"""Retention: events older than ``audit_retention_days`` (default 90, CloudTrail's event-history
window) are removed from the store by the server's hourly background job.

Each account's chain is cut from its start, in batches of :data:`BATCH` events, each batch one short
transaction (``AuditRepository.prune``): appends wait for at most one batch. The transaction that
removes a batch also signs a ``pruned`` checkpoint at the new start of the chain
(``verify.py``), so ``opensts audit verify`` can tell retention from someone deleting old events.
Only a prefix of the chain goes: an old event behind a younger one (clocks of several nodes) waits
until the younger one expires too. Several workers and nodes may run this at once: each batch locks
the account's chain head, so they take turns and never remove an event twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from opensts.audit.verify import PRUNED, CheckpointSigner, signer_for
from opensts.store.audit import Checkpoint

if TYPE_CHECKING:
    from opensts.runtime import Runtime

log = logging.getLogger("opensts.audit")

BATCH = 1000
MAX_BATCHES = 10_000  # per account and pass (10 million events); the next pass goes on


def prune_expired(runtime: "Runtime", now: datetime | None = None, *, batch: int = BATCH,
                  signer: CheckpointSigner | None = None) -> int:
    """Remove every account's events recorded before ``now - audit_retention_days``; returns how many."""
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=runtime.settings.audit_retention_days)
    signer = signer or signer_for(runtime)
    audit = runtime.store.audit

    def checkpoint(account_id: str, seq: int, hash_: str) -> Checkpoint:
        return signer.sign(account_id, seq, hash_, kind=PRUNED, now=now)

    removed = 0
    for head in audit.heads():
        for _ in range(MAX_BATCHES):
            count = audit.prune(head.account_id, cutoff, batch=batch, checkpoint=checkpoint)
            removed += count
            if count < batch:
                break
    if removed:
        log.info("audit retention removed %d events recorded before %s", removed, cutoff.isoformat())
    return removed
