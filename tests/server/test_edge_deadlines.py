"""The edge protocol's deadlines (server/serving.py), driven in process on a real event loop with
short timeouts: a kept-alive connection's requests move one deadline rather than making a timer
each, and the deadline still holds — a head that stalls on a kept-alive connection gets ``408``, a
body that stalls gets ``408`` at the body timeout, not at the header timeout's earlier timer — and
a closed connection leaves no timer behind (it would keep the connection's objects alive).
"""

from __future__ import annotations

import asyncio
from typing import Any

from opensts.server.serving import Limits
from tests.server.protocol_harness import Connection

HEADER_TIMEOUT = 0.2
BODY_TIMEOUT = 0.6
REQUEST = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"


def connect(loop: asyncio.AbstractEventLoop) -> Connection:
    return Connection(loop, Limits(header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT))


def count_timers(loop: asyncio.AbstractEventLoop) -> list[float]:
    """Patch ``loop.call_at`` to record the deadline timers asked for (uvicorn's own keep-alive timer,
    one per response, is not ours to count)."""
    asked: list[float] = []
    call_at = loop.call_at

    def recording(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if getattr(callback, "__name__", "") == "_deadline_reached":
            asked.append(when)
        return call_at(when, callback, *args, **kwargs)

    loop.call_at = recording  # type: ignore[method-assign]
    return asked


def test_kept_alive_requests_share_one_timer() -> None:
    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        asked = count_timers(loop)
        connection = connect(loop)
        for _ in range(50):
            await connection.send(REQUEST)
        responses = connection.transport.data.count(b"HTTP/1.1 200 OK")
        connection.close()
        return responses, len(asked)

    responses, timers = asyncio.run(scenario())
    assert responses == 50
    assert timers == 1  # the first head's; each later one moves the deadline


def test_a_stalled_head_on_a_kept_alive_connection_gets_408() -> None:
    async def scenario() -> bytes:
        connection = connect(asyncio.get_running_loop())
        await connection.send(REQUEST)
        await connection.send(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        await asyncio.sleep(HEADER_TIMEOUT * 3)
        assert connection.transport.closed
        return connection.transport.data

    data = asyncio.run(scenario())
    assert data.count(b"HTTP/1.1 200 OK") == 1
    assert b"HTTP/1.1 408 " in data


def test_a_stalled_body_gets_408_at_the_body_timeout() -> None:
    async def scenario() -> tuple[bool, bool, bytes]:
        loop = asyncio.get_running_loop()
        connection = connect(loop)
        await connection.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        await asyncio.sleep(HEADER_TIMEOUT * 2)  # past the header timeout's timer, within the body's
        open_then = not connection.transport.closed
        await asyncio.sleep(BODY_TIMEOUT)
        return open_then, connection.transport.closed, connection.transport.data

    open_then, closed_later, data = asyncio.run(scenario())
    assert open_then
    assert closed_later
    assert data.startswith(b"HTTP/1.1 408 ")


def test_a_closed_connection_leaves_no_timer() -> None:
    async def scenario() -> tuple[Any, Any]:
        connection = connect(asyncio.get_running_loop())
        await connection.send(b"POST / HTTP/1.1\r\nHost: x\r\n")
        timer = connection.protocol.deadline_timer
        connection.protocol.connection_lost(None)
        return timer, connection.protocol.deadline_timer

    armed, after = asyncio.run(scenario())
    assert armed is not None and armed.cancelled()
    assert after is None
