"""SIGTERM drains: under load, every request sent before the signal is answered (zero dropped), new
connections are refused afterwards, and the process exits within its bound; with one worker and two.

Threads issue boto3 calls back to back on kept-alive connections, each noting when it started the
call: GetCallerIdentity, and IAM writes (CreateUser) that wait for their audit record's commit. A
call started before the signal must succeed; one started after may fail, with a connection error
only (never an HTTP error such as ServiceUnavailable). Every acknowledged CreateUser is in the store.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from opensts.config import DEFAULT_SHUTDOWN_TIMEOUT, Settings, SettingsError
from opensts.runtime import open_runtime
from tests.conftest import BACKENDS, ServerInfo, start_server

THREADS = 8
CALLS_BEFORE_SIGNAL = 200
# The bound is --shutdown-timeout; the slack covers the interpreter's own exit on a busy machine.
EXIT_SLACK = 20.0
CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


@dataclass
class Call:
    started: float
    action: str
    user: str | None
    error: BaseException | None


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_drains_requests_sent_before_it(backend: str, workers: int, tmp_path: Path) -> None:
    server = start_server(tmp_path, backend, {"OPENSTS_WORKERS": str(workers)})
    calls: list[Call] = []
    stop = threading.Event()
    counts = [0] * THREADS

    def load(index: int) -> None:
        sts, iam = server.client("sts"), server.client("iam")
        n = 0
        while not stop.is_set():
            n += 1
            write = n % 3 == 0
            user = f"drain-{index}-{n}" if write else None
            started = time.monotonic()
            error: BaseException | None = None
            try:
                if write:
                    iam.create_user(UserName=user)
                else:
                    sts.get_caller_identity()
            except Exception as exc:  # noqa: BLE001 - judged below
                error = exc
            calls.append(Call(started, "CreateUser" if write else "GetCallerIdentity", user, error))
            counts[index] += 1
            if error is not None and isinstance(error, CONNECTION_ERRORS):
                time.sleep(0.05)  # the server is going: do not spin

    threads = [threading.Thread(target=load, args=(i,)) for i in range(THREADS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while sum(counts) < CALLS_BEFORE_SIGNAL or min(counts) == 0:
            assert time.monotonic() < deadline, "the load did not get going"
            assert not any(c.error for c in calls), [c.error for c in calls if c.error][:3]
            time.sleep(0.05)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=DEFAULT_SHUTDOWN_TIMEOUT + EXIT_SLACK)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit within its bound: {(server.data_dir / 'server.log').read_text()}")
        exited = time.monotonic()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        if server.process.poll() is None:
            server.process.kill()
    log = (server.data_dir / "server.log").read_text()
    # uvicorn re-raises the signal once drained: "killed by SIGTERM", which systemd counts as a clean stop.
    assert server.process.returncode in (0, -signal.SIGTERM), log

    before = [c for c in calls if c.started < signalled]
    dropped = [(c.action, repr(c.error)) for c in before if c.error is not None]
    assert dropped == [], f"{len(dropped)} of {len(before)} calls sent before SIGTERM failed: {dropped[:5]}"
    after = [c for c in calls if c.started >= signalled]
    not_connection = [repr(c.error) for c in after if c.error is not None and not isinstance(c.error, CONNECTION_ERRORS)]
    assert not_connection == [], not_connection[:5]
    # Once the process is gone, connecting fails: the calls started after it exited all did.
    assert all(c.error is not None for c in after if c.started > exited)
    assert not any(isinstance(c.error, ClientError) for c in calls)

    # Every CreateUser that was answered is in the store (its audit record was committed first).
    created = [c.user for c in calls if c.action == "CreateUser" and c.error is None]
    assert created
    runtime = open_runtime(Settings(data_dir=server.data_dir, database_url=server.database_url), create=False)
    try:
        missing = [u for u in created if u and runtime.store.users.get(server.account_id, u) is None]
    finally:
        runtime.close()
    assert missing == []


def read_response(conn: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one HTTP/1.1 response with a Content-Length, read from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "connection closed in a response's body"
        body += chunk
    return head, body


@pytest.mark.parametrize("workers", [1, 2])
def test_a_request_arriving_on_an_idle_connection_as_the_drain_begins_is_answered(workers: int, tmp_path: Path) -> None:
    """A client that picked its kept-alive connection just before the signal has its request on the
    way while the server starts draining: it is answered (then the connection closes), not dropped
    by closing the idle connection under it."""
    server = start_server(tmp_path, "sqlite", {"OPENSTS_WORKERS": str(workers)})
    host, port = server.url.removeprefix("http://").split(":")
    request = f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    try:
        conn = socket.create_connection((host, int(port)), timeout=10)
        conn.sendall(request)
        head, _ = read_response(conn)
        assert head.startswith(b"HTTP/1.1 200")  # kept alive, now idle
        server.process.send_signal(signal.SIGTERM)
        # The drain has begun once new connections are refused (every listening copy is closed).
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the probe sat in the listen queue as the listener closed, which the kernel
                # answers with a reset. Either way the listener is gone: the drain has begun.
                break
            assert time.monotonic() < deadline, "new connections were never refused"
            time.sleep(0.01)
        conn.sendall(request)
        head, body = read_response(conn)
        assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head.lower(), head
        assert conn.recv(1) == b""  # then closed
        conn.close()
        server.process.wait(timeout=DEFAULT_SHUTDOWN_TIMEOUT + EXIT_SLACK)
    finally:
        if server.process.poll() is None:
            server.process.kill()


@pytest.mark.parametrize("env, flag, message", [
    ({"OPENSTS_SHUTDOWN_TIMEOUT": "0"}, None, "OPENSTS_SHUTDOWN_TIMEOUT must be a number of seconds 1-3600, got '0'"),
    ({}, "forever", "--shutdown-timeout must be a number of seconds 1-3600, got 'forever'"),
])
def test_shutdown_timeout_is_validated(env: dict[str, str], flag: str | None, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env, shutdown_timeout=flag)
    assert str(raised.value) == message
    assert Settings.from_env({"OPENSTS_SHUTDOWN_TIMEOUT": "2.5"}).shutdown_timeout == 2.5
