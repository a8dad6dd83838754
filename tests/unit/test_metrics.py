"""The /metrics figures: Prometheus text format, and the sum over worker processes."""

from __future__ import annotations

import json
import re

import pytest

from opensts.server import metrics


@pytest.fixture(autouse=True)
def fresh_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_figures", {})


def test_counts_and_cumulative_buckets() -> None:
    metrics.observe("sts", "GetCallerIdentity", "success", 0.0004)
    metrics.observe("sts", "GetCallerIdentity", "success", 0.003)
    metrics.observe("sts", "GetCallerIdentity", "AccessDenied", 9.0)
    text = metrics.render()[0].decode()
    assert 'opensts_requests_total{action="GetCallerIdentity",outcome="success",service="sts"} 2' in text
    assert 'opensts_requests_total{action="GetCallerIdentity",outcome="AccessDenied",service="sts"} 1' in text
    bucket = 'opensts_request_duration_seconds_bucket{action="GetCallerIdentity",le="%s",service="sts"} %s'
    assert bucket % ("0.0005", "1") in text
    assert bucket % ("0.005", "2") in text
    assert bucket % ("2.5", "2") in text
    assert bucket % ("+Inf", "3") in text
    assert 'opensts_request_duration_seconds_count{action="GetCallerIdentity",service="sts"} 3' in text
    total = float(re.search(r'_sum\{action="GetCallerIdentity",service="sts"\} (\S+)', text).group(1))
    assert total == pytest.approx(9.0034)


def test_workers_add_up(tmp_path) -> None:
    metrics.observe("iam", "GetUser", "success", 0.002)
    metrics.publish(str(tmp_path))  # our own file is skipped in favour of the live figures
    other = {"requests": [["iam", "GetUser", "success", [4, 0.01] + [0] * 13]],
             "counters": {"opensts_audit_events_written_total": 5}}
    (tmp_path / "worker-999999999.json").write_text(json.dumps(other))
    (tmp_path / "worker-1.json").write_text("{torn")  # a file being replaced is skipped
    metrics.observe("iam", "GetUser", "success", 0.002)
    text = metrics.render(directory=str(tmp_path), counters={"opensts_audit_events_written_total": 2})[0].decode()
    assert 'opensts_requests_total{action="GetUser",outcome="success",service="iam"} 6' in text
    assert "opensts_audit_events_written_total 7" in text  # the trail's counters add up over workers too
    assert 'outcome="success",service="iam"} 2' in metrics.render()[0].decode()  # without the directory: ours only


def test_label_values_are_escaped() -> None:
    metrics.observe("sts", 'odd"\\name', "success", 0.001)
    assert 'action="odd\\"\\\\name"' in metrics.render()[0].decode()
