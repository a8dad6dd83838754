"""Prometheus metrics: requests by service, action and outcome, and a latency histogram.

With several worker processes, ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` so that /metrics sums
every worker's figures.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

REQUESTS = Counter(
    "opensts_requests_total", "API requests by service, action and outcome", ["service", "action", "outcome"]
)
LATENCY = Histogram(
    "opensts_request_duration_seconds",
    "API request latency",
    ["service", "action"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

_children: dict[tuple[str, str, str], tuple[object, object]] = {}


def observe(service: str, action: str, outcome: str, seconds: float) -> None:
    key = (service, action, outcome)
    children = _children.get(key)
    if children is None:
        if len(_children) > 5000:  # bounded: outcomes are error codes, actions come from the registry
            _children.clear()
        children = _children[key] = (REQUESTS.labels(service, action, outcome), LATENCY.labels(service, action))
    children[0].inc()  # type: ignore[attr-defined]
    children[1].observe(seconds)  # type: ignore[attr-defined]


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
