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
  Header fields (a chunked body's trailer fields included) are counted after each read and when a
  head or a message ends, not as each is parsed (a check per field cost ~4 % of a small request): a
  request over the count is refused before it is acted on, having held at most one read's fields
  (a read is at most 256 KiB) before the ``431``.
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

With TLS (``--tls-cert``/``--tls-key``, ``server/tls.py``) the same protocol terminates it, so that a
plain-HTTP request to the TLS port can be answered rather than dropped. uvicorn is given no
``ssl``; each connection's first read decides:

- first byte ``0x16`` (a TLS handshake record): the event loop's own TLS layer (the ``SSLProtocol``
  that ``loop.start_tls`` uses, uvloop's or asyncio's) is put between the socket and this protocol,
  with those bytes fed to it first, and the handshake runs with the worker's current certificate
  (a reloaded one applies to new connections only). The HTTP side starts once it completes;
  ``scope["scheme"]`` is then ``https``, which is what makes ``aws:SecureTransport`` true.
- anything else: ``400 Bad Request``, "The plain HTTP request was sent to the HTTPS port.", and close
  (nginx's answer).

The header timeout runs from the connection's acceptance through the handshake to the first
request's complete headers (a slow handshake is a slow header); a connection in its handshake
counts toward the connection cap; one over the cap is closed without an answer (a TLS client could
not read a plain ``503``; SDKs retry a closed connection as they retry a 503). ``--tls-client-ca``
makes the handshake require a client certificate. Closing sends ``close_notify`` and waits at most
2 s for the client's; an idle connection at the end of a drain is closed without waiting (a pooled
SDK connection never answers). Stopping closes a connection still in its handshake at once. With
TLS off, none of this runs: one attribute test per read.

Without httptools, uvicorn's h11 protocol is used with its header-size limit; the timeouts and the
cap are then not enforced (a warning says so).

The socket is bound before anything is logged as listening (:func:`bind`); workers inherit it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import signal
import socket
import sys
import time
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, Callable

import uvicorn
from uvicorn.supervisors import Multiprocess

from opensts.server import tls

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
    """uvicorn's Config plus our limits and TLS files (it is pickled to each worker process, limits
    included); ``load()``, run in each worker, makes that worker's TLS context (``server_tls``)."""

    def __init__(self, app: Any, *, limits: Limits, tls_files: tls.TlsFiles | None = None, **kwargs: Any) -> None:
        self.limits = limits
        self.tls_files = tls_files
        self.server_tls: tls.ServerTls | None = None
        super().__init__(app, **kwargs)

    def load(self) -> None:
        super().load()
        if self.tls_files is not None and self.server_tls is None:
            self.server_tls = tls.activate(self.tls_files)
            self.server_tls.hold_sighup()  # until the reload task (server/background.py) handles it

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["server_tls"] = None  # an SSLContext does not travel; each worker loads its own
        return state


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
        limits: Limits, sock: socket.socket, tls_files: tls.TlsFiles | None = None,
        log_format: str = "text") -> None:
    """Serve the app ``app()`` builds in each worker (a picklable factory: it travels to the worker
    processes with the config) on the bound ``sock`` until a signal stops it; over TLS with
    ``tls_files``."""
    http, extra = http_protocol(limits)
    if tls_files is not None and http != LimitedHttpToolsProtocol:  # pragma: no cover - see http_protocol()
        raise SystemExit("TLS needs httptools (pip install httptools)")
    config = ServeConfig(
        app,
        limits=limits,
        tls_files=tls_files,
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
    """uvicorn's worker supervisor, with two changes:

    - it closes its copy of the listening socket before it stops the workers: otherwise the socket
      keeps listening while they drain, and new connections wait in its backlog until the
      supervisor exits (then are reset) instead of being refused at once;
    - with TLS, a SIGHUP is passed on to every worker (each reloads its certificate, none restarts)
      rather than restarting the workers one by one.
    """

    def __init__(self, config: ServeConfig, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.forward_hup = config.tls_files is not None

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()

    def handle_hup(self) -> None:
        if not self.forward_hup:
            super().handle_hup()
            return
        log.info("SIGHUP: the workers reload their TLS certificates")
        for process in self.processes:
            if process.pid is not None and process.exitcode is None:
                try:
                    os.kill(process.pid, signal.SIGHUP)
                except OSError:  # exited meanwhile: its replacement loads the files afresh
                    pass


# --- the protocol -------------------------------------------------------------------------------

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}
_OVERLOADED_LOG_SECONDS = 10.0
_last_overloaded_log = 0.0


def _response(status: int, message: str) -> bytes:
    body = message.encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, _REASONS[status], len(body), body)
    )


_OVERLOADED = _response(503, "Too many connections.")
_PLAIN_HTTP = _response(400, "The plain HTTP request was sent to the HTTPS port.")
_TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a handshake message (ClientHello)
# After our close_notify, how long to wait for the client's before closing the socket. An idle pooled
# SDK connection never answers (nobody reads it), and with the loops' default of 30 s every such
# connection held a worker's shutdown (and a descriptor) that long. Responses are a few KB: they have
# left the process's buffers well within this.
_TLS_SHUTDOWN_SECONDS = 2.0
# A deadline timer that fires this close to its deadline counts it as reached (timers are coarse).
_DEADLINE_SLACK_SECONDS = 0.01

# A TLS connection's phases before its HTTP side starts (LimitedHttpToolsProtocol.tls_phase).
_FIRST_READ, _HANDSHAKE, _CLOSED = "first read", "handshake", "closed"


def _ssl_protocol_class(loop: asyncio.AbstractEventLoop) -> Any:
    """The TLS layer ``loop.start_tls`` would use on this loop: uvloop's for a uvloop loop (its
    transports accept no other), asyncio's otherwise."""
    uvloop = sys.modules.get("uvloop")
    if uvloop is not None and isinstance(loop, uvloop.Loop):
        return uvloop.loop.SSLProtocol
    import asyncio.sslproto

    return asyncio.sslproto.SSLProtocol


class _HeaderLimit(Exception):
    pass


def _nothing() -> None:
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
        self.too_many_headers = False
        self.awaiting_body = False
        # The current phase's deadline (loop time; None: none), what to do then, and a timer set for it
        # or earlier (_arm). Arming and disarming only move the deadline, so that a kept-alive
        # connection's requests make no timer each: its timer is re-set when it fires early.
        self.deadline: float | None = None
        self.deadline_callback: Callable[[], None] = _nothing
        self.deadline_timer: TimerHandle | None = None
        self.rejected = False
        self.draining = False  # the server is stopping: answer what arrives, then close
        self.drain_timer: TimerHandle | None = None
        # TLS: the worker's certificate holder, and the connection's phase until HTTP starts (None then).
        self.server_tls: tls.ServerTls | None = getattr(config, "server_tls", None)
        self.tls_phase: str | None = None
        self.tls_early: list[bytes] = []  # application data read with the handshake's last flight
        self.tls_raw: asyncio.Transport | None = None  # the socket's transport, under the TLS layer

    # Connection lifetime

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.rejected = True
            if self.server_tls is None:  # a TLS client could not read a plain answer: it sees the close
                transport.write(_OVERLOADED)
            transport.close()
            global _last_overloaded_log
            now = time.monotonic()
            if now - _last_overloaded_log > _OVERLOADED_LOG_SECONDS:
                _last_overloaded_log = now
                log.warning("connection cap reached (%d): answering 503 to new connections", self.limits.max_connections)
            return
        if self.server_tls is not None:
            # Counted toward the cap and closed by a shutdown from now on, its handshake included.
            self.connections.add(self)
            self.transport = transport
            self.tls_phase = _FIRST_READ
        else:
            super().connection_made(transport)
        self._arm(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.rejected:
            return
        self._stop_timer()
        if self.drain_timer is not None:
            self.drain_timer.cancel()
        if self.tls_phase is not None:  # before the HTTP side started (a failed handshake, say)
            self.tls_phase = _CLOSED
            self.connections.discard(self)
            self.tls_early = []
            return
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this on every open connection). uvicorn closes an
        idle connection at once, dropping a request its client sent just before the signal (still in
        flight, or unread, or half read); here it gets DRAIN_IDLE_SECONDS, and every request that
        arrives meanwhile, like the ones in progress, is answered with ``Connection: close``."""
        self.draining = True
        if self.tls_phase is not None:  # no TLS connection yet, so no request: nothing to drain
            self.transport.close()
            return
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
        raw = self.tls_raw
        if raw is not None and self.transport.get_write_buffer_size() == 0 and raw.get_write_buffer_size() == 0:
            # An idle TLS connection, everything sent: closed at once, as a plain one is, rather than
            # after waiting for a close_notify the client's pool will not send.
            self.transport.abort()
            return
        self.transport.close()

    # TLS

    def _tls_first_read(self, data: bytes) -> None:
        """The connection's first bytes: start TLS with them, or answer a plain-HTTP request."""
        transport = self.transport
        if data[0] != _TLS_HANDSHAKE:
            self.tls_phase = _CLOSED
            self._disarm()
            transport.write(_PLAIN_HTTP)
            transport.close()
            return
        assert self.server_tls is not None
        self.tls_phase = _HANDSHAKE
        waiter = self.loop.create_future()
        layer = _ssl_protocol_class(self.loop)(
            self.loop, self, self.server_tls.context, waiter, server_side=True, call_connection_made=False,
            ssl_handshake_timeout=self.limits.header_timeout, ssl_shutdown_timeout=_TLS_SHUTDOWN_SECONDS,
        )
        # What loop.start_tls does, done here and at once so that the bytes already read go in first.
        transport.pause_reading()
        transport.set_protocol(layer)
        layer.connection_made(transport)
        app_transport = layer._get_app_transport()
        view = memoryview(data)
        while view and self.tls_phase == _HANDSHAKE and not transport.is_closing():  # ends: each pass consumes
            buffer = layer.get_buffer(len(view))
            n = min(len(buffer), len(view))
            buffer[:n] = view[:n]
            layer.buffer_updated(n)
            view = view[n:]
        transport.resume_reading()
        waiter.add_done_callback(lambda done: self._tls_established(done, app_transport))

    def _tls_established(self, waiter: asyncio.Future[None], app_transport: asyncio.Transport) -> None:
        if self.tls_phase != _HANDSHAKE:
            return  # connection_lost came
        if waiter.cancelled() or waiter.exception() is not None:
            # The handshake failed (timed out, a bad hello, the client went away): the TLS layer
            # closes the socket but never reports connection_lost to us for a connection it never
            # made, so the connection leaves the count here (else each one would hold a slot of the
            # cap forever, and a client could fill it with half-made handshakes).
            self.connection_lost(None)
            return
        self.tls_phase = None
        self.tls_raw = self.transport
        early, self.tls_early = self.tls_early, []
        deadline, self.deadline = self.deadline, None  # the header timeout goes on running
        super().connection_made(app_transport)
        self.deadline = deadline
        for chunk in early:
            if self.transport.is_closing():
                break
            self.data_received(chunk)

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        when = self.loop.time() + seconds
        self.deadline, self.deadline_callback = when, callback
        timer = self.deadline_timer
        if timer is None or timer.when() > when:
            if timer is not None:
                timer.cancel()
            self.deadline_timer = self.loop.call_at(when, self._deadline_reached)

    def _disarm(self) -> None:
        self.deadline = None  # the timer, if any, finds nothing to do

    def _deadline_reached(self) -> None:
        self.deadline_timer = None
        when = self.deadline
        if when is None:
            return
        if when - self.loop.time() > _DEADLINE_SLACK_SECONDS:  # armed again since the timer was set
            self.deadline_timer = self.loop.call_at(when, self._deadline_reached)
            return
        self.deadline = None
        self.deadline_callback()

    def _stop_timer(self) -> None:
        self.deadline = None
        if self.deadline_timer is not None:  # a pending timer would keep this connection alive
            self.deadline_timer.cancel()
            self.deadline_timer = None

    # Reading

    def data_received(self, data: bytes) -> None:
        if self.tls_phase is not None:
            if self.tls_phase == _FIRST_READ:
                self._tls_first_read(data)
            elif self.tls_phase == _HANDSHAKE:
                self.tls_early.append(data)  # decrypted before _tls_established ran; kept for it
            return
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
        if not self._feed(data):
            return
        headers = self.headers  # the latest message's head and trailer fields; None before the first
        if headers is not None and len(headers) > self.limits.max_headers:  # fields still arriving
            self._reject(431, "Too many request header fields.")
        elif self.awaiting_body and self.deadline is None and not self.transport.is_closing():
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
        if self.deadline is None:
            self._arm(self.limits.header_timeout, self._head_timed_out)

    def on_headers_complete(self) -> None:
        if len(self.headers) > self.limits.max_headers:
            self.too_many_headers = True
            raise _HeaderLimit  # httptools turns it into HttpParserCallbackError: _feed answers 431
        self._disarm()
        self.in_head = False
        self.heads_done += 1
        self.awaiting_body = True  # the body timer is armed after this read, if the body is not complete
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_message_complete(self) -> None:
        if len(self.headers) > self.limits.max_headers:  # a chunked body's trailer fields count too
            self.too_many_headers = True
            raise _HeaderLimit
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
        if self.tls_phase is not None:
            self.transport.close()  # no request yet, not even a TLS connection: close quietly
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
