"""Prometheus metrics: requests by service, action and outcome, and a latency histogram.

Counting happens on every request, so it is a few list operations on plain per-process figures (no
locks: only the event loop thread observes). ``/metrics`` renders the Prometheus text format.

With several worker processes, the workers share a directory (``Settings.metrics_dir``, from
``OPENSTS_METRICS_DIR`` or made by ``serve``): each worker writes its figures there once a second
(:func:`publish`, from a background task) and ``/metrics`` adds up every worker's file, its own
figures taken live. Another worker's figures are therefore at most about a second old. A directory
``serve`` created (:func:`create_shared_dir`) is removed when it stops (:func:`remove_shared_dir`);
one given by the operator is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from bisect import bisect_left
from pathlib import Path

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PUBLISH_SECONDS = 1.0
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_MAX_SERIES = 5000  # outcomes are error codes and actions come from the registry: bounded in practice

# (service, action, outcome) -> [count, sum of seconds, count per bucket..., count above the last bucket]
Figures = dict[tuple[str, str, str], list[float]]
_figures: Figures = {}
# Process-wide counters other parts keep themselves (the audit trail), summed over workers.
Counters = dict[str, float]
COUNTERS = {
    "opensts_audit_events_submitted_total": "Audit events handed to the trail",
    "opensts_audit_events_written_total": "Audit events committed to the store",
    "opensts_audit_events_failed_total": "Audit events the store refused after retries",
    "opensts_audit_events_pending": "Audit events not yet committed (the open group, and groups the writer has not answered)",
    "opensts_audit_writer_up": "1 while this worker's audit writer process commits its events, else 0 (on the event loop)",
    "opensts_throttled_access_key_total": "Requests refused by the per-access-key rate limit",
    "opensts_throttled_source_total": "Signed requests refused by the per-source-address rate limit",
    "opensts_throttled_unauthenticated_total": "Unsigned and presigned requests refused by the per-source-address rate limit",
    "opensts_failed_attempts_counted_total": "Failed signatures and MFA codes counted against their address, key id or device",
    "opensts_blocked_attempts_refused_total": "Attempts refused while their address, key id or device was blocked after failures",
}


def create_shared_dir() -> str:
    """A fresh private directory for the workers' files (removed by :func:`remove_shared_dir`)."""
    return tempfile.mkdtemp(prefix="opensts-metrics-")


def remove_shared_dir(directory: str) -> None:
    """Remove a directory made by :func:`create_shared_dir`, once every worker has stopped."""
    shutil.rmtree(directory, ignore_errors=True)


def observe(service: str, action: str, outcome: str, seconds: float) -> None:
    key = (service, action, outcome)
    row = _figures.get(key)
    if row is None:
        if len(_figures) >= _MAX_SERIES:
            return
        row = _figures[key] = [0] * (3 + len(BUCKETS))
    row[0] += 1
    row[1] += seconds
    row[2 + bisect_left(BUCKETS, seconds)] += 1


def snapshot(counters: Counters | None = None) -> str:
    """This process's figures as JSON (taken on the event loop, the only thread that changes them),
    with its ``counters`` (e.g. the audit trail's: :data:`COUNTERS`)."""
    return json.dumps({"requests": [[*key, row] for key, row in _figures.items()], "counters": counters or {}})


def publish(directory: str, figures: str | None = None) -> None:
    """Write this process's figures for the other workers' /metrics (atomic replace; blocking I/O)."""
    path = Path(directory) / f"worker-{os.getpid()}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(snapshot() if figures is None else figures)
    os.replace(temporary, path)


def own_figures() -> Figures:
    """A copy of this process's figures (take it on the event loop, the only thread that changes them)."""
    return {key: list(row) for key, row in _figures.items()}


def _all_figures(total: Figures, directory: str | None, counters: Counters) -> Figures:
    if not directory:
        return total
    own = f"worker-{os.getpid()}.json"
    for path in sorted(Path(directory).glob("worker-*.json")):
        if path.name == own:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):  # a worker is replacing its file, or it vanished
            continue
        for name, value in data.get("counters", {}).items():
            if name in COUNTERS:
                counters[name] = counters.get(name, 0) + value
        for service, action, outcome, row in data.get("requests", []):
            mine = total.setdefault((service, action, outcome), [0] * len(row))
            for i, value in enumerate(row):
                mine[i] += value
    return total


def _labels(**labels: str) -> str:
    escaped = (f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
               for name, value in sorted(labels.items()))
    return "{" + ",".join(escaped) + "}"


def render(
    own: Figures | None = None, directory: str | None = None, counters: Counters | None = None
) -> tuple[bytes, str]:
    """The Prometheus text of ``own`` (default: this process's figures) and ``counters``, plus the
    other workers' files in ``directory`` (blocking reads)."""
    counters = dict(counters or {})
    figures = _all_figures(own_figures() if own is None else own, directory, counters)
    lines = []
    for name, value in sorted(counters.items()):
        kind = "gauge" if name.endswith("_pending") else "counter"
        lines += [f"# HELP {name} {COUNTERS.get(name, name)}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
    lines += [
        "# HELP opensts_requests_total API requests by service, action and outcome",
        "# TYPE opensts_requests_total counter",
    ]
    latency: dict[tuple[str, str], list[float]] = {}
    for (service, action, outcome), row in sorted(figures.items()):
        lines.append(f"opensts_requests_total{_labels(service=service, action=action, outcome=outcome)} {row[0]:g}")
        merged = latency.setdefault((service, action), [0] * len(row))
        for i, value in enumerate(row):
            merged[i] += value
    lines += [
        "# HELP opensts_request_duration_seconds API request latency",
        "# TYPE opensts_request_duration_seconds histogram",
    ]
    for (service, action), row in sorted(latency.items()):
        cumulative = 0.0
        for bound, count in zip((*BUCKETS, float("inf")), row[2:]):
            cumulative += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(
                f"opensts_request_duration_seconds_bucket{_labels(service=service, action=action, le=le)} {cumulative:g}"
            )
        lines.append(f"opensts_request_duration_seconds_sum{_labels(service=service, action=action)} {row[1]!r}")
        lines.append(f"opensts_request_duration_seconds_count{_labels(service=service, action=action)} {row[0]:g}")
    return ("\n".join(lines) + "\n").encode(), CONTENT_TYPE
