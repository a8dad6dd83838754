"""``opensts serve``: validated settings, listening only once bound, several workers' logging and
metrics directory, and keep-alive beyond the SDKs' pooled-connection idle time."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerInfo, free_port


def serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opensts", "serve", "--data-dir", str(tmp_path / "data"), *args],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.parametrize("args, env, message", [
    (["--port", "70000"], {}, "--port must be a port number 1-65535, got '70000'"),
    ([], {"OPENSTS_PORT": "abc"}, "OPENSTS_PORT must be a port number 1-65535, got 'abc'"),
    (["--port", "0"], {}, "--port must be a port number"),
    (["--workers", "0"], {}, "--workers must be"),
    ([], {"OPENSTS_WORKERS": "two"}, "OPENSTS_WORKERS must be"),
    ([], {"OPENSTS_LOG_LEVEL": "loud"}, "OPENSTS_LOG_LEVEL must be one of debug, info, warning, error"),
    ([], {"OPENSTS_ALLOWED_REGIONS": "us-east-1,Mars"}, "OPENSTS_ALLOWED_REGIONS must be"),
    (["--trusted-proxies", "10.0.0.0/33"], {}, "--trusted-proxies must be"),
    ([], {"OPENSTS_TRUSTED_PROXIES": "proxy.example.com"}, "OPENSTS_TRUSTED_PROXIES must be"),
    ([], {"OPENSTS_FORWARDED_HEADER": "x-real-ip"}, "OPENSTS_FORWARDED_HEADER must be one of"),
    (["--header-timeout", "-1"], {}, "--header-timeout must be a number of seconds"),
    ([], {"OPENSTS_KEEP_ALIVE_TIMEOUT": "nan"}, "OPENSTS_KEEP_ALIVE_TIMEOUT must be"),
    ([], {"OPENSTS_BODY_TIMEOUT": "1e999"}, "OPENSTS_BODY_TIMEOUT must be"),
    (["--max-header-bytes", "12kb"], {}, "--max-header-bytes must be"),
    ([], {"OPENSTS_MAX_HEADERS": "0"}, "OPENSTS_MAX_HEADERS must be"),
    (["--max-connections", "-5"], {}, "--max-connections must be"),
])
def test_bad_settings_are_one_line_errors(tmp_path: Path, args: list[str], env: dict[str, str], message: str) -> None:
    result = serve(tmp_path, *args, env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("opensts: error: ") and message in lines[0], result.stderr


def test_bad_environment_fails_other_commands_cleanly(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "opensts", "keys", "list", "--data-dir", str(tmp_path)],
                            env={**os.environ, "OPENSTS_PORT": "abc"}, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "opensts: error: OPENSTS_PORT must be a port number 1-65535, got 'abc'"


def test_port_in_use_is_a_clean_error_without_listening(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(tmp_path, "--port", str(port))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"opensts: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_several_workers_log_alike_and_clean_up(tmp_path: Path) -> None:
    """--workers 2 --log-level debug: access lines with time and level from the workers; the metrics
    directory serve made is gone after SIGTERM."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "opensts", "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port),
             "--workers", "2", "--log-level", "debug"],
            env={**os.environ, "TMPDIR": str(temp)}, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert list(temp.glob("opensts-metrics-*")), "serve should share metrics through a directory"
        for _ in range(4):  # some reach each worker
            httpx.post(f"http://127.0.0.1:{port}/", data={"Action": "GetCallerIdentity", "Version": "2011-06-15"}, timeout=5)
        deadline = time.monotonic() + 10
        pattern = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO opensts\.access: request_id=\S+ client=127\.0\.0\.1 "
                         r"service=sts action=GetCallerIdentity principal=- access_key_id=- status=403 ", re.M)
        while not pattern.search(log_path.read_text()):
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert not list(temp.glob("opensts-metrics-*")), "the metrics directory was left behind"
    assert "Traceback" not in log_path.read_text()


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body), however the bytes arrive."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_pooled_connections_outlive_the_sdk_idle_time(server: ServerInfo) -> None:
    """A request sent on a connection idle for 6 s (past uvicorn's default 5 s keep-alive) is served."""
    url = urllib.parse.urlsplit(server.url)
    sts = server.client("sts")
    sts.get_caller_identity()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request)
        assert _read_response(sock).startswith(b"HTTP/1.1 200 ")
        time.sleep(6)
        sock.sendall(request)
        assert _read_response(sock).startswith(b"HTTP/1.1 200 "), "the server closed the kept-alive connection"
    sts.get_caller_identity()  # the SDK's pooled connection, 6 s idle: no ConnectionClosedError
