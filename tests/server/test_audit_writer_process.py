"""The audit writer process beside a real server (audit/writer.py): it starts with the trail's
first call, stops with the server, and when the server is killed it commits every group it had
received before exiting: nothing it was sent is lost, and no process is left behind."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, ServerInfo, start_server, stop_server
from tests.server.test_audit_secrets import stored_records


def writer_pids(server: ServerInfo) -> list[int]:
    """The server's audit writer processes (children running ``opensts.audit.writer``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.process.pid and b"opensts.audit.writer" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def writer_up(server: ServerInfo) -> bool:
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    return "opensts_audit_writer_up 1" in metrics


def wait_until(condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_writer_stops_with_the_server_after_its_last_group(tmp_path: Path, backend: str) -> None:
    server = start_server(tmp_path, backend, extra_env={
        "OPENSTS_AUDIT_WRITER": "process", "OPENSTS_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    })
    try:
        sts = server.client("sts")
        sts.get_caller_identity()
        wait_until(lambda: len(writer_pids(server)) == 1)
        [pid] = writer_pids(server)
        wait_until(lambda: writer_up(server))  # from now on, groups go to the writer
        ids = {sts.get_caller_identity()["ResponseMetadata"]["RequestId"] for _ in range(50)}
        iam = server.client("iam")
        created = iam.create_user(UserName="writer-test")["ResponseMetadata"]["RequestId"]
        # An IAM write answers only after its event committed: it is in the store now.
        assert created in {r["requestID"] for r in stored_records(server)}
    finally:
        stop_server(server)
    assert server.process.returncode is not None
    wait_until(lambda: not alive(pid), 15)
    stored = {r["requestID"] for r in stored_records(server)}
    assert ids <= stored  # read-only calls too: the writer committed its last groups before exiting
    streamed = {json.loads(line)["requestID"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()}
    assert ids <= streamed


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_server_leaves_its_writer_to_commit_what_it_was_sent(tmp_path: Path, backend: str) -> None:
    server = start_server(tmp_path, backend, extra_env={"OPENSTS_AUDIT_WRITER": "process"})
    sts = server.client("sts")
    sts.get_caller_identity()
    wait_until(lambda: writer_up(server))
    [pid] = writer_pids(server)
    iam = server.client("iam")
    # Durable calls: each answered only after the writer committed its group.
    answered = [iam.create_user(UserName=f"killed-{n}")["ResponseMetadata"]["RequestId"] for n in range(20)]
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    wait_until(lambda: not alive(pid), 15)  # its input closed: it finished and exited
    stored = {r["requestID"] for r in stored_records(server)}
    assert set(answered) <= stored
