"""Keep-alive HTTP/1.1 load from a bench's own process, for what wrk cannot do: send each of many
distinct requests exactly once (IAM writes cannot be replayed; a million distinct session tokens).

A few lines of asyncio write pre-formatted requests over ``connections`` connections, each sending its
next request when its answer is in (a closed loop), and read answers framed by Content-Length (what
OpenSTS and moto send). A server that closes the connection after an answer (moto's werkzeug) is
reconnected to, as any client would. No HTTP library: it costs the shared CPU little.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def http_request(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST to ``url``, formatted once (its ``Host`` is the one that was signed)."""
    host = urlsplit(url).netloc
    lines = [f"POST {urlsplit(url).path or '/'} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items() if name.lower() not in ("host", "content-length"))]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Batch:
    """What :func:`send_all` saw: answers read, seconds from the first send to the last answer, and
    the first few answers that were not 200 (status, body) with their count."""

    answered: int = 0
    seconds: float = 0.0
    failed: int = 0
    failures: list[tuple[int, bytes]] = field(default_factory=list)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the server closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in header_lines)
    if b"content-length" not in headers:
        raise RuntimeError(f"an answer without Content-Length (unsupported here): {head!r}")
    body = await reader.readexactly(int(headers[b"content-length"]))
    return int(status_line.split(b" ", 2)[1]), body, headers.get(b"connection") == b"close"


async def send_all(url: str, requests: Iterable[bytes], connections: int, rate: float | None = None) -> Batch:
    """Send every request once over ``connections`` connections, each sending its next request when its
    answer is in; with ``rate``, the n-th request goes no earlier than n / rate seconds after the start
    (``requests`` may then be a generator that stops when told to)."""
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    pending: Iterator[bytes] = iter(requests)
    batch = Batch()
    opened = [await asyncio.open_connection(host, port) for _ in range(connections)]
    start = time.perf_counter()
    sent = 0

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        try:
            for request in pending:
                slot, sent = sent, sent + 1
                if rate:
                    await asyncio.sleep(max(0.0, start + slot / rate - time.perf_counter()))
                writer.write(request)
                status, body, closing = await _read_answer(reader)
                batch.answered += 1
                if status != 200:
                    batch.failed += 1
                    if len(batch.failures) < 3:
                        batch.failures.append((status, body[:300]))
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(connection(*pair) for pair in opened))
    batch.seconds = time.perf_counter() - start
    return batch
