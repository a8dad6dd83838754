"""The edge protocol's deadlines (server/serving.py), driven in process on a real event loop with
short timeouts: a kept-alive connection's requests move one deadline rather than making a timer
each, and the deadline still holds — a head that stalls on a kept-alive connection gets ``408``, a
body that stalls gets ``408`` at the body timeout, not at the header timeout's earlier timer — and
a closed connection leaves no timer behind (it would keep the connection's objects alive).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState

from opensts.server.serving import Limits, LimitedHttpToolsProtocol, ServeConfig

HEADER_TIMEOUT = 0.2
BODY_TIMEOUT = 0.6


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.data = b""
        self.closed = False

    def write(self, data: Any) -> None:
        self.data += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 7070)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


REQUEST = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"


class Connection:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        limits = Limits(header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT)
        config = ServeConfig(app, limits=limits, log_level="critical", access_log=False)
        config.load()
        self.protocol = LimitedHttpToolsProtocol(config, ServerState(), {}, loop)
        self.transport = RecordingTransport()
        self.protocol.connection_made(self.transport)

    async def send(self, data: bytes) -> None:
        self.protocol.data_received(data)
        for _ in range(10):  # the request's task runs to its end
            await asyncio.sleep(0)


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
        connection = Connection(loop)
        for _ in range(50):
            await connection.send(REQUEST)
        responses = connection.transport.data.count(b"HTTP/1.1 200 OK")
        connection.protocol.connection_lost(None)
        return responses, len(asked)

    responses, timers = asyncio.run(scenario())
    assert responses == 50
    assert timers == 1  # the first head's; each later one moves the deadline


def test_a_stalled_head_on_a_kept_alive_connection_gets_408() -> None:
    async def scenario() -> bytes:
        connection = Connection(asyncio.get_running_loop())
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
        connection = Connection(loop)
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
        connection = Connection(asyncio.get_running_loop())
        await connection.send(b"POST / HTTP/1.1\r\nHost: x\r\n")
        timer = connection.protocol.deadline_timer
        connection.protocol.connection_lost(None)
        return timer, connection.protocol.deadline_timer

    armed, after = asyncio.run(scenario())
    assert armed is not None and armed.cancelled()
    assert after is None
