"""Slow, oversized and too many connections (server/serving.py), over real loopback sockets.

The server runs with a 1 s header and body timeout and a cap of 20 connections so that every test
is bounded to a few seconds. Part of the edge fuzz coverage: slowloris connections, random heads
cut at random points.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from typing import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.conftest import ServerInfo, start_server, stop_server

CAP = 20
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info = start_server(tmp_path_factory.mktemp("limited"), "sqlite", {
        "OPENSTS_HEADER_TIMEOUT": str(TIMEOUT), "OPENSTS_BODY_TIMEOUT": str(TIMEOUT),
        "OPENSTS_MAX_CONNECTIONS": str(CAP), "OPENSTS_MAX_HEADER_BYTES": "16384", "OPENSTS_MAX_HEADERS": "50",
    })
    yield info
    stop_server(info)


def address(server: ServerInfo) -> tuple[str, int]:
    netloc = urllib.parse.urlsplit(server.url)
    return netloc.hostname or "127.0.0.1", netloc.port or 80


def connect(server: ServerInfo) -> socket.socket:
    return socket.create_connection(address(server), timeout=10)


def read_until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it is still open after ``within``."""
    sock.settimeout(within)
    data = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"the connection was still open after {within} s (got {data[:80]!r})")


def healthy(server: ServerInfo, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "/health did not answer"
        time.sleep(0.1)


def test_idle_connection_is_closed(limited: ServerInfo) -> None:
    with connect(limited) as sock:
        assert read_until_closed(sock, TIMEOUT + 4) == b""  # nothing sent: closed quietly


def test_partial_headers_are_timed_out(limited: ServerInfo) -> None:
    with connect(limited) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/pl")
        assert read_until_closed(sock, TIMEOUT + 4).startswith(b"HTTP/1.1 408 ")


def test_partial_body_is_timed_out(limited: ServerInfo) -> None:
    with connect(limited) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100\r\n\r\nAction=GetCallerIdentity")
        assert read_until_closed(sock, TIMEOUT + 4).startswith(b"HTTP/1.1 408 ")


def test_trickled_headers_do_not_extend_the_deadline(limited: ServerInfo) -> None:
    """The header timeout is a total, not per read: one byte every 0.2 s does not keep it open."""
    with connect(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        started = time.monotonic()
        with pytest.raises(OSError):
            while time.monotonic() - started < TIMEOUT + 4:
                sock.sendall(b"X")
                time.sleep(0.2)
        assert time.monotonic() - started < TIMEOUT + 4


@pytest.mark.parametrize("head", [
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    b"GET /health?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n",
    # The head never ends: the fields are counted as each read arrives, so it is refused before the
    # header timeout (a 408) could end it.
    b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)),
], ids=["header", "request-line", "count", "count-unfinished"])
def test_oversized_heads_get_431_and_the_server_keeps_serving(limited: ServerInfo, head: bytes) -> None:
    started = time.monotonic()
    with connect(limited) as sock:
        try:
            sock.sendall(head)
        except OSError:  # the server may close before reading it all
            pass
        answer = read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b""  # an RST can swallow the answer
    assert time.monotonic() - started < 5
    healthy(limited, within=2)


def test_the_most_header_fields_allowed_are_served(limited: ServerInfo) -> None:
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(48))  # with Host and Connection: 50, the limit
    with connect(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields + b"Connection: close\r\n\r\n")
        assert read_until_closed(sock, 5).startswith(b"HTTP/1.1 200 ")
    with connect(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-One-More: v\r\n" + fields + b"Connection: close\r\n\r\n")
        answer = read_until_closed(sock, 5)
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b""


def test_a_large_but_allowed_head_is_served(limited: ServerInfo) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Token: " + b"a" * 12_000 + b"\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock, 5).startswith(b"HTTP/1.1 200 ")


def test_connections_over_the_cap_are_refused_at_once(limited: ServerInfo) -> None:
    held = [connect(limited) for _ in range(CAP)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        with connect(limited) as extra:
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_until_closed(extra, 3)
        assert answer.startswith(b"HTTP/1.1 503 ") or answer == b""
        assert time.monotonic() - started < 3
    finally:
        for sock in held:
            sock.close()
    healthy(limited)


def test_slowloris_does_not_starve_normal_clients(limited: ServerInfo) -> None:
    """50 connections trickling headers against a cap of 20: after the header timeout normal clients
    are served again, while the attack goes on."""
    stop = threading.Event()

    def slow() -> None:
        while not stop.is_set():
            try:
                with connect(limited) as sock:
                    sock.sendall(b"POST / HTTP/1.1\r\n")
                    while not stop.is_set():
                        sock.sendall(b"X")
                        time.sleep(0.3)
            except OSError:
                time.sleep(0.05)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(50)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        served = 0
        deadline = time.monotonic() + 15
        while served < 3 and time.monotonic() < deadline:
            try:
                if httpx.get(limited.url + "/health", timeout=TIMEOUT + 2).status_code == 200:
                    served += 1
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        assert served == 3, "normal clients were not served during the attack"
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    healthy(limited)


REQUEST = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: 43\r\n\r\nAction=GetCallerIdentity&Version=2011-06-15")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(REQUEST) - 1), junk=st.binary(max_size=40))
def test_any_incomplete_request_is_answered_or_closed_in_time(limited: ServerInfo, cut: int, junk: bytes) -> None:
    """Fuzz: a request cut anywhere (or followed by junk) never holds its connection past the timeouts."""
    with connect(limited) as sock:
        sock.sendall(REQUEST[:cut] + (junk if cut % 2 else b""))
        sock.settimeout(TIMEOUT + 4)
        try:
            answer = sock.recv(65536)  # an answer (junk may complete the request) or the close
        except ConnectionResetError:
            answer = b""
        except socket.timeout:
            pytest.fail("the connection was neither answered nor closed in time")
        assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
