"""Helpers for the edge protocol's in-process tests: ``LimitedHttpToolsProtocol`` (server/serving.py)
on a real event loop, given a transport that records what it is sent, fed bytes as reads."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import ServerState

from opensts.server.serving import Limits, LimitedHttpToolsProtocol, ServeConfig


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


class EchoApp:
    """Reads the whole body, answers 200 "ok"; remembers each request's body it acted on."""

    def __init__(self) -> None:
        self.acted_on: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away (or the edge refused the request): nothing acted on
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.acted_on.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


class Connection:
    """One connection to a protocol with ``limits``; ``send`` is one read."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.app = EchoApp()
        config = ServeConfig(self.app, limits=limits, log_level="critical", access_log=False)
        config.load()
        self.protocol = LimitedHttpToolsProtocol(config, ServerState(), {}, loop)
        self.transport = RecordingTransport()
        self.protocol.connection_made(self.transport)

    async def send(self, data: bytes) -> None:
        if not self.transport.closed:
            self.protocol.data_received(data)
        for _ in range(10):  # the request's task runs to its end
            await asyncio.sleep(0)

    def close(self) -> None:
        self.protocol.connection_lost(None)
