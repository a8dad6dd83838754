"""The server's idea of "now".

Production uses the system clock. Tests that need to move time (session expiry, presigned URL
expiry, TOTP windows) start the server with ``OPENSTS_TEST_CLOCK_FILE`` (``Settings.test_clock_file``)
naming a file that holds an offset in seconds; the offset is re-read when the file changes. Never set
it in production.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone


class Clock:
    def __init__(self, offset_file: str | None = None) -> None:
        self._offset_file = offset_file
        self._offset = 0.0
        self._mtime = 0

    def timestamp(self) -> float:
        now = time.time()
        if self._offset_file:
            self._refresh_offset(now)
        return now + self._offset

    def now(self) -> datetime:
        if not self._offset_file:
            return datetime.now(timezone.utc)
        return datetime.fromtimestamp(self.timestamp(), timezone.utc)

    def _refresh_offset(self, now: float) -> None:
        # Test mode only: one stat() per call, so a test's new offset holds from the next request.
        try:
            mtime = os.stat(self._offset_file).st_mtime_ns  # type: ignore[arg-type]
            if mtime != self._mtime:
                with open(self._offset_file) as f:  # type: ignore[arg-type]
                    self._offset = float(f.read().strip() or 0)
                self._mtime = mtime
        except (OSError, ValueError):
            self._offset = 0.0
