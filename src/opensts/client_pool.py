"""Kept-alive HTTP/1.1 connections to one origin, for ``opensts.client``'s calls to ``/v1/authorize``.

A protected service asks OpenSTS once per request it cannot answer from its decision cache, so the
cost of that call bounds the service. A general HTTP client spends more CPU per call than OpenSTS
spends deciding (httpx's AsyncClient: about 3 ms a call under load, which capped the example service
at ~200 req/s with its cache off). This pool does only what the call needs, on asyncio streams:

- one POST, written with a single ``write`` (head and body together);
- the answer read by ``Content-Length`` (or ``chunked``), at most :data:`MAX_ANSWER_BYTES`;
- connections kept open between calls (HTTP/1.1 keep-alive) and reused, at most ``max_idle`` idle;
- a kept connection the server has closed meanwhile is noticed on use and the call is sent once more
  on a fresh one (asking is idempotent);
- every call bounded by ``timeout`` seconds; TLS for ``https`` endpoints (the default context:
  certificates verified).

Imports nothing else of OpenSTS.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 1 << 20  # /v1/authorize answers are a few hundred bytes
MAX_HEAD_BYTES = 64 * 1024

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class PoolError(Exception):
    """The call could not be made or its answer not read (the endpoint is down, slow or not HTTP)."""


class ConnectionPool:
    """Kept-alive connections to the origin of ``url``; :meth:`post` sends to its path."""

    def __init__(self, url: str, timeout: float = 5.0, max_idle: int = 64) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = parts.scheme == "https"
        self._ssl: ssl.SSLContext | None = None  # built on the first connection (it costs tens of ms)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.host_header = parts.netloc.rpartition("@")[2]
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: list[Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """POST ``body`` with ``headers``; the answer's status and body."""
        self._same_loop()
        head = [f"POST {self.path} HTTP/1.1", f"Host: {self.host_header}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()
                 if name.lower() not in ("host", "content-length", "connection")]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        for attempt in range(2):
            connection, reused = (self._idle.pop(), True) if self._idle else (None, False)
            try:
                if connection is None:
                    connection = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port, ssl=self._tls_context()), self.timeout
                    )
                status, answer, keep = await asyncio.wait_for(_exchange(connection, request), self.timeout)
            except asyncio.TimeoutError:  # first: it is an OSError too
                if connection is not None:
                    _close(connection)
                raise PoolError(f"no answer within {self.timeout} s") from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                if connection is not None:
                    _close(connection)
                if reused and attempt == 0:
                    # The server closed a kept connection (it restarted, or its idle timeout ran
                    # out): the other idle ones are as old, so drop them and ask once more, anew.
                    while self._idle:
                        _close(self._idle.pop())
                    continue
                raise PoolError(f"{type(exc).__name__}: {exc}") from exc
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(connection)
            else:
                _close(connection)
            return status, answer
        raise PoolError("unreachable")  # pragma: no cover - the loop returns or raises

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def aclose(self) -> None:
        while self._idle:
            _close(self._idle.pop())

    def _same_loop(self) -> None:
        """Streams belong to the event loop that opened them: a new loop starts with no connections."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._idle.clear()  # the old loop's transports die with it
            self._loop = loop


async def _exchange(connection: Connection, request: bytes) -> tuple[int, bytes, bool]:
    reader, writer = connection
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        raise ValueError("answer head too large")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError("not an HTTP/1.x answer")
    status = int(rest[:3])
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(fields.get("content-length", "0"))
        if not 0 <= length <= MAX_ANSWER_BYTES:
            raise ValueError("answer too large")
        body = await reader.readexactly(length)
    keep = fields.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    return status, body, keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the blank line
                pass
            return bytes(body)
        if len(body) + size > MAX_ANSWER_BYTES:
            raise ValueError("answer too large")
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _close(connection: Connection) -> None:
    try:
        connection[1].close()
    except Exception:  # noqa: BLE001 - closing a broken transport must not mask the real error
        pass
