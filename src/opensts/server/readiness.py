"""``GET /ready``: may a load balancer send this process requests?

``GET /health`` is liveness (the process answers and its store does). ``/ready`` is readiness, three
checks, each named in the answer:

- ``store``: the database answers a ``SELECT 1`` (every call);
- ``keyring``: the session-token key ring is loaded with an active key (no I/O: the ring is in
  memory, reloaded from the store in the background);
- ``migrations``: the store's schema revision (Alembic's ``alembic_version``) is the newest
  migration this code carries. Read at most every :data:`MIGRATION_CHECK_SECONDS`; between reads the
  last answer stands. A store another node has migrated further (a rolling upgrade) makes this
  older node not ready, so a balancer moves traffic to the upgraded ones.

All ready: ``200 {"status": "ready", "checks": {...: "ok"}}``. Else ``503`` with ``"status": "not
ready"``, the names of the failed checks in ``"failed"`` and a short reason per check; never a
secret, a URL or an exception text (they can name hosts and users). The checks block: the caller
runs :meth:`Readiness.check` in a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from opensts.runtime import Runtime
from opensts.store.migrate import head_revision

log = logging.getLogger("opensts.server")

# The migration check reads a table; load balancers probe every few seconds per node, so its answer
# is kept briefly. Short enough that a node notices another node's migration within seconds.
MIGRATION_CHECK_SECONDS = 2.0


class Readiness:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._migrations: tuple[float, str] | None = None  # (monotonic time read, result)

    def check(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body). Blocking: call it off the event loop."""
        store_ok = self.runtime.store.ping()
        checks = {
            "store": "ok" if store_ok else "unreachable",
            "keyring": self._keyring(),
            "migrations": self._migration_state() if store_ok else "unknown (store unreachable)",
        }
        failed = [name for name, state in checks.items() if state != "ok"]
        if not failed:
            return 200, {"status": "ready", "checks": checks}
        return 503, {"status": "not ready", "failed": failed, "checks": checks}

    def _keyring(self) -> str:
        try:
            return "ok" if self.runtime.keyring.active_key_id else "no active key"
        except Exception:  # noqa: BLE001 - a readiness check reports, it does not raise
            return "not loaded"

    def _migration_state(self) -> str:
        now = time.monotonic()
        with self._lock:
            cached = self._migrations
            if cached is not None and now - cached[0] < MIGRATION_CHECK_SECONDS:
                return cached[1]
            state = self._read_migration_state()
            self._migrations = (time.monotonic(), state)
            return state

    def _read_migration_state(self) -> str:
        try:
            current = self.runtime.store.schema_revision()
        except Exception:  # noqa: BLE001 - the reason may name the database: logged, not answered
            log.warning("readiness: cannot read the store's schema revision", exc_info=True)
            return "unknown (cannot read the schema revision)"
        expected = head_revision()
        if current == expected:
            return "ok"
        # Revision ids are migration numbers: nothing secret.
        return f"store schema at {current or 'none'}, this version expects {expected}"
