"""Streams of committed events, for a SIEM or a log shipper (``--audit-log``, ``--audit-dir``).

- :class:`JsonLinesStream`: one CloudTrail record per line, as events commit, to a file (opened
  for appending, mode 0600, flushed after every batch) or to standard output (``-``);
- :class:`CloudTrailFiles`: CloudTrail's delivery format, so that tools that read CloudTrail's S3
  files read these: gzipped ``{"Records": [...]}`` files named as CloudTrail names them, under
  ``DIR/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/``, written every
  :data:`DELIVERY_SECONDS` (CloudTrail delivers about every 5 minutes) or every
  :data:`DELIVERY_RECORDS` records, and when the server stops.

Streams are fed after the store has committed, in commit order; the store stays the authority (a
stream that fails is logged and skipped, never blocks the trail). Each worker process writes its
own files: CloudTrail's file names carry a unique suffix, and JSON lines are appended whole.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from opensts.store.audit import StoredEvent

class Sink(Protocol):
    """A stream fed with every committed batch, in commit order."""

    def write(self, events: Sequence[StoredEvent]) -> None: ...

    def tick(self) -> None: ...  # called about once a second (time-based deliveries)

    def close(self) -> None: ...


DELIVERY_SECONDS = 60.0
DELIVERY_RECORDS = 1000


class JsonLinesStream:
    """JSON lines, one ``write`` call per committed batch: with ``O_APPEND``, the batches of several
    worker processes appending to one file never interleave within a line."""

    def __init__(self, target: str) -> None:
        if target == "-":
            self._fd = sys.stdout.fileno()
            self._owned = False
        else:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._owned = True
        self._lock = threading.Lock()

    def write(self, events: Sequence[StoredEvent]) -> None:
        data = memoryview("".join(event.record + "\n" for event in events).encode())
        with self._lock:
            while data:
                data = data[os.write(self._fd, data):]

    def tick(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            if self._owned:
                os.close(self._fd)


class CloudTrailFiles:
    def __init__(self, directory: str, *, seconds: float = DELIVERY_SECONDS, records: int = DELIVERY_RECORDS) -> None:
        self._root = Path(directory)
        self._seconds = seconds
        self._records = records
        self._pending: list[StoredEvent] = []
        self._since = time.monotonic()
        self._lock = threading.Lock()

    def write(self, events: Sequence[StoredEvent]) -> None:
        with self._lock:
            if not self._pending:
                self._since = time.monotonic()
            self._pending.extend(events)
            if len(self._pending) >= self._records:
                self._deliver()

    def tick(self) -> None:
        with self._lock:
            if self._pending and time.monotonic() - self._since >= self._seconds:
                self._deliver()

    def close(self) -> None:
        with self._lock:
            self._deliver()

    def _deliver(self) -> None:
        pending, self._pending = self._pending, []
        groups: dict[tuple[str, str, str], list[Any]] = {}
        for event in pending:
            record = json.loads(event.record)
            region = record.get("awsRegion") or "us-east-1"
            day = event.event_time.strftime("%Y/%m/%d")
            groups.setdefault((event.account_id, region, day), []).append(record)
        stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime())
        for (account, region, day), records in groups.items():
            folder = self._root / "AWSLogs" / account / "CloudTrail" / region / day
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{account}_CloudTrail_{region}_{stamp}_{secrets.token_hex(8)}.json.gz"
            data = json.dumps({"Records": records}, separators=(",", ":"), ensure_ascii=False).encode()
            temporary = folder / f".{name}.tmp"
            with open(temporary, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                gz.write(data)
            os.replace(temporary, folder / name)  # readers never see a partial file


def streams_for(audit_log: str | None, audit_dir: str | None) -> list[Sink]:
    sinks: list[Sink] = []
    if audit_log:
        sinks.append(JsonLinesStream(audit_log))
    if audit_dir:
        sinks.append(CloudTrailFiles(audit_dir))
    return sinks
