"""The kept-alive connection pool of opensts.client, against small real servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from opensts.client_pool import MAX_ANSWER_BYTES, ConnectionPool, PoolError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return await reader.readexactly(length)


def run(handler: Handler, client: Callable[[ConnectionPool], Awaitable[None]], timeout: float = 2.0) -> list[int]:
    """Serve ``handler`` on a free port, run ``client`` against it; the number of connections seen."""
    connections: list[int] = []

    async def main() -> None:
        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(1)
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(counted, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = ConnectionPool(f"http://127.0.0.1:{port}/v1/authorize", timeout=timeout)
        try:
            await client(pool)
        finally:
            await pool.aclose()
            server.close()

    asyncio.run(main())
    return connections


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        body = await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()


def test_calls_share_one_kept_alive_connection() -> None:
    async def client(pool: ConnectionPool) -> None:
        for i in range(5):
            assert await pool.post(b"q%d" % i, {"Content-Type": "application/json"}) == (200, b"q%d" % i)

    assert len(run(echo_forever, client)) == 1


def test_concurrent_calls_open_more_connections_and_all_answer() -> None:
    async def client(pool: ConnectionPool) -> None:
        answers = await asyncio.gather(*[pool.post(b"%d" % i, {}) for i in range(20)])
        assert answers == [(200, b"%d" % i) for i in range(20)]

    assert 1 <= len(run(echo_forever, client)) <= 20


def test_a_kept_connection_closed_by_the_server_is_retried_once() -> None:
    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # then close: the client's kept connection is dead

    async def client(pool: ConnectionPool) -> None:
        assert await pool.post(b"a", {}) == (200, b"ok")
        await asyncio.sleep(0.05)
        assert await pool.post(b"b", {}) == (200, b"ok")

    assert len(run(one_answer, client)) == 2


def test_chunked_answers_and_connection_close() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     b"3\r\n{\"a\r\n4;x=y\r\n\": 1\r\n1\r\n}\r\n0\r\n\r\n")
        await writer.drain()

    async def client(pool: ConnectionPool) -> None:
        assert await pool.post(b"x", {}) == (403, b'{"a": 1}')
        assert pool._idle == []  # Connection: close is not kept

    run(chunked, client)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (MAX_ANSWER_BYTES + 1),
    b"SSH-2.0-OpenSSH\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
])
def test_bad_answers_are_pool_errors(answer: bytes) -> None:
    async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()

    async def client(pool: ConnectionPool) -> None:
        with pytest.raises(PoolError):
            await pool.post(b"x", {})

    run(bad, client)


def test_a_silent_server_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def client(pool: ConnectionPool) -> None:
        with pytest.raises(PoolError, match="no answer"):
            await pool.post(b"x", {})

    run(silent, client, timeout=0.2)


def test_nothing_listening_is_a_pool_error() -> None:
    async def main() -> None:
        pool = ConnectionPool("http://127.0.0.1:1/v1/authorize", timeout=1)
        with pytest.raises(PoolError):
            await pool.post(b"x", {})

    asyncio.run(main())


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN=="])
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:7070", "https://sts.example.com", "http://opensts:8080/base"])
def test_the_client_signs_as_botocore_does(endpoint: str, token: str | None) -> None:
    """The client's own SigV4 signer gives exactly botocore's Authorization header."""
    from datetime import datetime, timezone
    from unittest import mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from opensts.client import Authorizer

    creds = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token)
    authorizer = Authorizer(endpoint, creds, region="eu-west-3")
    when = datetime(2026, 12, 3, 9, 30, 0, tzinfo=timezone.utc)
    body = b'{"action":"ec2:StopInstances"}'
    ours = authorizer.sign(body, now=when)
    request = AWSRequest(method="POST", url=authorizer.url, data=body, headers={"Content-Type": "application/json"})
    with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
        SigV4Auth(Credentials(*creds), "opensts", "eu-west-3").add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


def test_after_a_server_restart_every_kept_connection_is_dropped_and_the_call_succeeds() -> None:
    """Several kept connections all dead (the server restarted): the call is retried on a new one."""

    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # then close

    async def client(pool: ConnectionPool) -> None:
        assert await asyncio.gather(*[pool.post(b"a", {}) for _ in range(3)]) == [(200, b"ok")] * 3
        assert len(pool._idle) == 3  # kept, but the server has closed them all
        await asyncio.sleep(0.05)
        assert await pool.post(b"b", {}) == (200, b"ok")

    run(one_answer, client)
