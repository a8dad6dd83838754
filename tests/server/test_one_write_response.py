"""One write per response (server/serving.py, ``_OneWriteResponse``): the protocol, driven in process
with a transport that records what it is given, so that each write is seen as the socket saw it.

The head waits for the body and leaves with it; a response with no body write (``HEAD``) still gets
its head; ``100 Continue`` is not held (the client waits for it before sending its body); an
application that fails after starting its response has its head sent before the connection closes;
and a kept-alive connection answers its next request the same way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from uvicorn.server import ServerState

from opensts.server.serving import Limits, LimitedHttpToolsProtocol, ServeConfig


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.closed_by_server = False  # closed before the client went away
        self.protocol: Any = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

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

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_write_buffer_size(self) -> int:
        return 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/fail-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise RuntimeError("the application failed mid-response")
    answer = b"echo:" + body
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


async def serve(*chunks: bytes, settle: int = 20) -> RecordingTransport:
    config = ServeConfig(app, limits=Limits(), log_level="critical", access_log=False)
    config.load()
    protocol = LimitedHttpToolsProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    for chunk in chunks:
        protocol.data_received(chunk)
        for _ in range(settle):  # let the application's task run to its end
            await asyncio.sleep(0)
    transport.closed_by_server = transport.closed
    protocol.connection_lost(None)
    return transport


def request(method: str = "POST", path: str = "/", body: bytes = b"hi", extra: bytes = b"") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n".encode()
            + extra + b"\r\n" + body)


def test_a_response_leaves_in_one_write() -> None:
    transport = asyncio.run(serve(request()))
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == b"echo:hi"
    assert not transport.closed_by_server  # kept alive


def test_kept_alive_requests_each_leave_in_one_write() -> None:
    transport = asyncio.run(serve(request(body=b"one"), request(body=b"two")))
    assert len(transport.writes) == 2
    assert transport.writes[0].endswith(b"\r\n\r\necho:one")
    assert transport.writes[1].endswith(b"\r\n\r\necho:two")


def test_pipelined_requests_are_answered_in_order() -> None:
    transport = asyncio.run(serve(request(body=b"one") + request(body=b"two")))
    assert b"".join(transport.writes).count(b"HTTP/1.1 200 OK") == 2
    assert [w.rpartition(b"\r\n\r\n")[2] for w in transport.writes] == [b"echo:one", b"echo:two"]


def test_a_head_request_gets_its_head() -> None:
    transport = asyncio.run(serve(request(method="HEAD", body=b"")))
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"content-length: 5\r\n\r\n")  # the head only


def test_connection_close_sends_the_response_then_closes() -> None:
    transport = asyncio.run(serve(request(extra=b"Connection: close\r\n")))
    assert len(transport.writes) == 1
    assert transport.writes[0].endswith(b"echo:hi")
    assert transport.closed_by_server


def test_100_continue_is_not_held() -> None:
    head_only = request(body=b"", extra=b"Expect: 100-continue\r\n").replace(b"Content-Length: 0", b"Content-Length: 4")
    transport = asyncio.run(serve(head_only, b"body"))
    assert transport.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(transport.writes) == 2
    assert transport.writes[1].endswith(b"echo:body")


@pytest.mark.filterwarnings("ignore")
def test_a_failure_after_the_head_sends_the_head_and_closes() -> None:
    transport = asyncio.run(serve(request(path="/fail-after-start")))
    assert transport.writes and transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.closed_by_server
