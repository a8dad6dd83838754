"""Recording "last used" facts without a database write on the request path.

The request path calls :meth:`UsageRecorder.note` (a dict assignment); a daemon thread writes the
pending facts in batches. One entry is written at most once per ``interval`` seconds per process
(the thread wakes every ``tick`` seconds), so a recorded date lags real use by at most about
``interval`` (AWS's own last-used dates are coarser). Pending facts are written at exit too.
Used for access keys (GetAccessKeyLastUsed) and roles (GetRole's RoleLastUsed).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("opensts.store")

Fact = tuple[Any, ...]


class UsageRecorder:
    def __init__(
        self, write: Callable[[list[tuple[str, *tuple[Any, ...]]]], None], name: str, interval: float = 60.0, tick: float = 5.0
    ) -> None:
        self._write = write
        self._name = name
        self._interval = interval
        self._tick = tick
        self._pending: dict[str, Fact] = {}
        self._written: dict[str, float] = {}  # key -> monotonic time of its last write
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def note(self, key: str, *facts: Any) -> None:
        self._pending[key] = facts
        if self._thread is None:
            self._start()

    def pending(self, key: str) -> Fact | None:
        """A use seen by this process and not written yet."""
        return self._pending.get(key)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name=f"opensts-{self._name}", daemon=True)
            self._thread.start()
            atexit.register(self._flush_at_exit)

    def _run(self) -> None:
        while True:
            time.sleep(self._tick)
            try:
                self.flush()
            except Exception:  # the store may be briefly unreachable: keep the facts for the next try
                log.warning("could not record %s", self._name, exc_info=True)

    def _flush_at_exit(self) -> None:
        try:
            self.flush(force=True)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            pass

    def flush(self, *, force: bool = False) -> int:
        """Write what is pending (entries written less than ``interval`` ago wait, unless ``force``)."""
        with self._lock:
            now = time.monotonic()
            batch: list[tuple[Any, ...]] = []
            for key, facts in list(self._pending.items()):
                if not force and now - self._written.get(key, -1e18) < self._interval:
                    continue
                batch.append((key, *facts))
            if not batch:
                return 0
            self._write(batch)
            for key, *written in batch:
                if self._pending.get(key) == tuple(written):
                    del self._pending[key]
                self._written[key] = now
            if len(self._written) > 100_000:
                self._written.clear()
        return len(batch)
