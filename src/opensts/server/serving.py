"""Running the server: the listening socket, uvicorn's configuration, logging, connection limits
and the worker processes' garbage-collector thresholds (:func:`tune_garbage_collector`).

uvicorn with httptools gives no header-read timeout, no header-size limit and no connection cap:
an idle or half-sent request holds its connection (and a file descriptor) forever, and headers of
many megabytes are buffered. :class:`LimitedHttpToolsProtocol` adds, per worker process:

- **header timeout** (``--header-timeout``, 10 s): a new connection must deliver a request's complete
  headers within it, and so must a kept-alive connection once a request's first byte arrives.
  A connection that sent nothing is closed silently; one that sent part of a request gets
  ``408 Request Timeout``.
- **body timeout** (``--body-timeout``, 30 s): from complete headers to the complete body; then
  ``408`` and close. The application never acts on a truncated body.
- **header size and count** (``--max-header-bytes`` 64 KiB for the request line and headers together,
  ``--max-headers`` 100): over either, ``431 Request Header Fields Too Large`` and close. Bytes are
  counted as they arrive, before the parser buffers them; the bytes of a pipelined request that
  arrive in the same read as the end of the previous one are not counted (at most one read, 256 KiB).
- **connection cap** (``--max-connections``, 1000, lowered to fit the open-file limit): a connection
  over the cap is answered ``503 Service Unavailable`` at once and closed, never queued (SDKs retry
  503s). Idle kept-alive connections count toward it.
- **keep-alive** (``--keep-alive-timeout``, 75 s): longer than the SDKs' idle time for pooled
  connections, so a client never sends a request on a connection the server is just closing.

**Stopping** (SIGTERM or SIGINT) drains: the listening socket is closed at once (new connections are
refused; with several workers the supervisor closes its copy too), every request in progress is
answered (with ``Connection: close``), and a kept-alive connection that is idle gets
:data:`DRAIN_IDLE_SECONDS` for a request its client may already have sent (one that arrives is
answered, then the connection closes) before it is closed. All of it within ``--shutdown-timeout``
(10 s): past it, unfinished requests are cancelled and the worker exits. The audit trail commits on
the event loop until then, so writes in progress are recorded and answered.

Without httptools, uvicorn's h11 protocol is used with its header-size limit; the timeouts and the
cap are then not enforced (a warning says so).

The socket is bound before anything is logged as listening (:func:`bind`); workers inherit it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import socket
import time
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, Callable

import uvicorn
from uvicorn.supervisors import Multiprocess

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - see http_protocol()
    httptools = None  # type: ignore[assignment]
    HttpToolsProtocol = object  # type: ignore[assignment,misc]

log = logging.getLogger("opensts.server")

FD_RESERVE = 64  # descriptors kept for the store, logs and worker threads
STARTUP_FAILURE = 3  # uvicorn's exit status when a worker cannot start


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_connections: int = 1000
    shutdown_timeout: float = 10.0  # the drain's bound (module docstring: Stopping)


# How long an idle kept-alive connection stays open once a drain begins: a client that picked it from
# its pool just before the signal has its request on the way, and closing under it would drop a
# request sent before the signal. Long enough for a round trip, short enough not to delay the exit.
DRAIN_IDLE_SECONDS = 1.0


class ServeConfig(uvicorn.Config):
    """uvicorn's Config plus our limits (it is pickled to each worker process, limits included)."""

    def __init__(self, app: Any, *, limits: Limits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(app, **kwargs)


class ListenError(Exception):
    """The address cannot be listened on; the message is one line for the user."""


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host has a ':'), or ListenError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def effective_max_connections(wanted: int) -> int:
    """The connection cap, lowered so accepted connections cannot exhaust the open-file limit
    (when they did, every new connection failed)."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover - every POSIX system has it
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = soft - FD_RESERVE if soft > 2 * FD_RESERVE else max(1, soft // 2)
    return max(1, min(wanted, room))


def log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """The logging configuration, as a dict uvicorn applies in the parent and in every worker
    (formats and access lines: server/access_log.py)."""
    formatter = (
        {"()": "opensts.server.access_log.JsonFormatter"} if log_format == "json"
        else {"()": "opensts.server.access_log.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "alembic": {"level": "WARNING"},
            # One access line per request at info (on at debug and info, off at warning and error).
            "opensts.access": {"level": "INFO" if level in ("debug", "info") else "WARNING"},
            # uvicorn's access log would log query strings, and presigned URLs carry session tokens.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


GC_THRESHOLDS = (20_000, 50, 100)


def tune_garbage_collector() -> None:
    """Collect young objects every 20,000 allocations rather than 700 (and older generations more
    rarely still). A request allocates a few hundred short-lived containers, and uvicorn keeps
    per-connection objects alive across requests: with the default thresholds the server spends a
    measurable share of each request in collections that find little (docs/PERFORMANCE.md). The
    young generation stays small (a few MB) either way. Called by each worker as it starts."""
    gc.set_threshold(*GC_THRESHOLDS)


def http_protocol(limits: Limits) -> tuple[Any, dict[str, Any]]:
    """(uvicorn ``http`` setting, extra Config arguments): ours on httptools, else h11."""
    if httptools is None:  # pragma: no cover - httptools comes with uvicorn[standard]
        log.warning("httptools is not installed: header and body timeouts and the connection cap are not enforced")
        return "h11", {"h11_max_incomplete_event_size": limits.max_header_bytes}
    return LimitedHttpToolsProtocol, {}


def run(app: Callable[[], Any], host: str, port: int, workers: int, log_level: str, keep_alive: float,
        limits: Limits, sock: socket.socket, log_format: str = "text") -> None:
    """Serve the app ``app()`` builds in each worker (a picklable factory: it travels to the worker
    processes with the config) on the bound ``sock`` until a signal stops it."""
    from uvicorn.supervisors import Multiprocess

    http, extra = http_protocol(limits)
    config = ServeConfig(
        app,
        limits=limits,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=http,
        ws="none",
        log_config=log_config(log_level, log_format),
        log_level="warning" if log_level == "info" else log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # no forwarding header is believed unless configured (server/forwarded.py)
        lifespan="on",
        timeout_keep_alive=keep_alive,  # a float works: it goes to call_later
        timeout_graceful_shutdown=limits.shutdown_timeout,  # a float works: it goes to asyncio.timeout
        **extra,
    )
    if workers > 1:
        Supervisor(config, sockets=[sock]).run()
        return
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, closing its copy of the listening socket before it stops the
    workers: otherwise the socket keeps listening while they drain, and new connections wait in its
    backlog until the supervisor exits (then are reset) instead of being refused at once."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


# --- the protocol -------------------------------------------------------------------------------

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}
_OVERLOADED_LOG_SECONDS = 10.0
_last_overloaded_log = 0.0


def _response(status: int, message: str) -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, _REASONS[status], len(body), body)
    )


_OVERLOADED = _response(503, "Too many connections.")


class _HeaderLimit(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the timeouts, limits and cap of the module docstring."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = getattr(config, "limits", None) or Limits()
        self.head_bytes = 0  # bytes of the current request's head received so far
        self.in_head = True  # between requests or reading a request's line and headers
        self.heads_done = 0
        self.header_count = 0
        self.too_many_headers = False
        self.awaiting_body = False
        self.deadline: TimerHandle | None = None
        self.rejected = False
        self.draining = False  # the server is stopping: answer what arrives, then close
        self.drain_timer: TimerHandle | None = None

    # Connection lifetime

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.rejected = True
            transport.write(_OVERLOADED)
            transport.close()
            global _last_overloaded_log
            now = time.monotonic()
            if now - _last_overloaded_log > _OVERLOADED_LOG_SECONDS:
                _last_overloaded_log = now
                log.warning("connection cap reached (%d): answering 503 to new connections", self.limits.max_connections)
            return
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.rejected:
            return
        self._disarm()
        if self.drain_timer is not None:
            self.drain_timer.cancel()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this on every open connection). uvicorn closes an
        idle connection at once, dropping a request its client sent just before the signal (still in
        flight, or unread, or half read); here it gets DRAIN_IDLE_SECONDS, and every request that
        arrives meanwhile, like the ones in progress, is answered with ``Connection: close``."""
        self.draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        if self.transport.is_closing():
            return
        self.drain_timer = self.loop.call_later(DRAIN_IDLE_SECONDS, self._drain_idle_expired)

    def _drain_idle_expired(self) -> None:
        self.drain_timer = None
        if self.transport.is_closing():
            return
        if self.head_bytes or (self.cycle is not None and not self.cycle.response_complete):
            return  # a request is arriving or being answered: it closes the connection when done
        self.transport.close()

    def _arm(self, seconds: float, callback: Any) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    # Reading

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self.in_head and self.head_bytes + len(data) > self.limits.max_header_bytes:
            allowed = self.limits.max_header_bytes - self.head_bytes
            done = self.heads_done
            if not self._feed(data[:allowed]):
                return
            if self.heads_done == done:  # the head did not end within the limit
                self._reject(431, "Request header fields too large.")
                return
            data = data[allowed:]
        elif self.in_head:
            self.head_bytes += len(data)
        if self._feed(data) and self.awaiting_body and self.deadline is None and not self.transport.is_closing():
            self._arm(self.limits.body_timeout, self._body_timed_out)

    def _feed(self, data: bytes) -> bool:
        """Parse ``data``; False if the connection was answered and closed."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # ws="none": no upgrades
        except httptools.HttpParserError:
            if self.too_many_headers:
                self._reject(431, "Too many request header fields.")
            else:
                self.logger.warning("Invalid HTTP request received.")
                self._disarm()
                self.send_400_response("Invalid HTTP request received.")
            return False
        return True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_count = 0
        if self.deadline is None:
            self._arm(self.limits.header_timeout, self._head_timed_out)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.limits.max_headers:
            self.too_many_headers = True
            raise _HeaderLimit  # httptools turns it into HttpParserCallbackError
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self.in_head = False
        self.heads_done += 1
        self.awaiting_body = True  # the body timer is armed after this read, if the body is not complete
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_message_complete(self) -> None:
        self.awaiting_body = False
        self._disarm()
        self.in_head = True
        self.head_bytes = 0
        super().on_message_complete()

    # Limits reached

    def _reject(self, status: int, message: str) -> None:
        """Answer ``status`` unless a response is in progress on this connection, and close."""
        self._disarm()
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.response_started:
                cycle.disconnected = True  # the application's send() becomes a no-op, receive() ends
                cycle.message_event.set()
                self.transport.write(_response(status, message))
        else:
            self.transport.write(_response(status, message))
        self.transport.close()

    def _head_timed_out(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.head_bytes == 0 and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()  # nothing of a request arrived: close quietly
        elif self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined request's head while the previous one runs
        else:
            self._reject(408, "Timed out reading the request headers.")

    def _body_timed_out(self) -> None:
        self.deadline = None
        self._reject(408, "Timed out reading the request body.")
