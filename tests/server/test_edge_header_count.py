"""The edge's header-field count (``--max-headers``, server/serving.py), in process, read by read.

Fields are counted after each read and when a head or a message ends. What a user relies on: a
request over the count is answered ``431`` and never acted on — whether its fields come in one read
or trickle in over many, in its head or as a chunked body's trailer fields, or behind a pipelined
request — and a request at the count, or one after blank lines (RFC 9112 §2.2), is served.
"""

from __future__ import annotations

import asyncio

import pytest

from opensts.server.serving import Limits
from tests.server.protocol_harness import Connection

MAX_HEADERS = 20


def fields(count: int) -> bytes:
    return b"".join(b"X-F%d: v\r\n" % n for n in range(count))


def run(*reads: bytes) -> Connection:
    async def scenario() -> Connection:
        connection = Connection(asyncio.get_running_loop(), Limits(max_headers=MAX_HEADERS))
        for data in reads:
            await connection.send(data)
        return connection

    return asyncio.run(scenario())


def refused(connection: Connection) -> bool:
    return connection.transport.data.startswith(b"HTTP/1.1 431 ") and connection.transport.closed


def test_the_most_fields_allowed_are_served() -> None:
    connection = run(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" + fields(MAX_HEADERS - 2) + b"\r\nhi")
    assert connection.app.acted_on == [b"hi"]
    assert connection.transport.data.startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize("reads", [1, 3, 40], ids=["one read", "three reads", "one field per read"])
def test_a_head_over_the_count_is_refused(reads: int) -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" + fields(MAX_HEADERS) + b"\r\nhi"
    size = -(-len(head) // reads)
    connection = run(*(head[n:n + size] for n in range(0, len(head), size)))
    assert refused(connection)
    assert connection.app.acted_on == []


def test_a_head_over_the_count_that_never_ends_is_refused_at_once() -> None:
    connection = run(b"POST / HTTP/1.1\r\nHost: x\r\n" + fields(MAX_HEADERS * 5))  # no blank line
    assert refused(connection)  # not left to the header timeout


CHUNKED = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n"


def test_trailer_fields_count_too() -> None:
    connection = run(CHUNKED + fields(MAX_HEADERS * 5) + b"\r\n")
    assert refused(connection)
    assert connection.app.acted_on == []


def test_trailer_fields_over_the_count_are_refused_as_they_arrive() -> None:
    # A field per read and the message never ends: refused once over the count, not left to grow
    # (each field is held in memory) until the body timeout.
    connection = run(CHUNKED, *fields(MAX_HEADERS * 5).splitlines(keepends=True))
    assert refused(connection)
    assert len(connection.protocol.headers) <= MAX_HEADERS + 1


def test_trailer_fields_within_the_count_are_served() -> None:
    connection = run(CHUNKED + fields(MAX_HEADERS - 3) + b"\r\n")
    assert connection.app.acted_on == [b"hi"]


def test_a_pipelined_request_over_the_count_is_refused() -> None:
    first = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
    second = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" + fields(MAX_HEADERS * 5) + b"\r\ntwo"
    connection = run(first + second)
    assert b"two" not in connection.app.acted_on
    assert b"HTTP/1.1 431 " in connection.transport.data and connection.transport.closed


def test_blank_lines_before_a_request_are_ignored() -> None:
    connection = run(b"\r\n", b"\r\n", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    assert connection.app.acted_on == [b"hi"]
    assert connection.transport.data.startswith(b"HTTP/1.1 200 OK")
