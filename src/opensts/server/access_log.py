"""The access log and the two log formats (docs/DEPLOYMENT.md, "Logs").

**Access lines.** Every request, on every endpoint, ends with one call to :func:`log_request`: one
record at ``INFO`` on the logger ``opensts.access`` with these fields, in this order
(:data:`FIELDS`):

- ``request_id``: the ``x-amzn-RequestId`` the answer carried (or a fresh one, for the paths
  Starlette serves);
- ``client``: the peer address, after ``--trusted-proxies`` were applied (``server/app.py``);
- ``service``, ``action``: ``sts``/``iam``/``cloudtrail`` and the action's name (``unknown`` when
  the request named none OpenSTS knows); ``opensts`` and the action asked about for
  ``POST /v1/authorize``; ``-`` and the path for ``/health``, ``/metrics`` and unknown paths;
- ``principal``: the authenticated caller's ARN, ``-`` when authentication failed or was not asked;
- ``access_key_id``: the caller's key id, or the one the request claimed when authentication failed
  (a key id is not secret), ``-`` for unsigned requests;
- ``status``: the HTTP status; ``error_code``: the AWS error code answered, ``-`` on success;
- ``duration_ms``: from the request's arrival at the endpoint to its answer being handed to the
  server; ``bytes``: the response body's length;
- ``decision`` (``/v1/authorize`` only): ``Allow`` or ``Deny``, ``-`` when no decision was made.

Never a secret: no query string (presigned URLs carry session tokens), no header, no body, only the
fields above. Text a client chose (a claimed key id, a path) reaches a line only through
:func:`clean`: cut to a bounded length, and every character outside printable ASCII, the space, the
quote and the backslash written as a ``\\xNN``/``\\uNNNN`` escape, so no value can end a line, start
another, or split into two fields. A line therefore stays far below PIPE_BUF (4096 bytes) and reaches
a shared stderr in one ``write``, whole, from any worker.

``--log-level warning`` (or ``error``) turns access lines off: :func:`log_request` returns after one
cached level check.

**Formats** (``--log-format``). ``text`` (:class:`TextFormatter`): ``time LEVEL logger: message``, for
every logger; an access line's message is its fields as ``key=value`` pairs. ``json``
(:class:`JsonFormatter`): one JSON object per line for every record: ``time`` (ISO 8601, UTC, ms),
``level``, ``logger``, ``message``, and for an access line each field under its own key (``status``,
``duration_ms``, ``bytes`` as numbers; the message is then ``SERVICE ACTION STATUS``); an exception's traceback is the string ``exception``. JSON
text is ASCII (``\\uXXXX`` escapes), so every record is exactly one line.

Cost: the fields are cleaned and the record is built only when the level is on; the record skips
``Logger.info``'s caller look-up (a stack walk); the formatters render each second's time prefix once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from starlette.types import Scope

from opensts.identity.principal import Caller

ACCESS = logging.getLogger("opensts.access")
INFO = logging.INFO

FIELDS = (
    "request_id", "client", "service", "action", "principal", "access_key_id", "status", "error_code",
    "duration_ms", "bytes",
)
ACCESS_FORMAT = (
    "request_id=%s client=%s service=%s action=%s principal=%s access_key_id=%s status=%d error_code=%s "
    "duration_ms=%.1f bytes=%d"
)
AUTHORIZE_FIELDS = FIELDS + ("decision",)
AUTHORIZE_FORMAT = ACCESS_FORMAT + " decision=%s"

# Longest value kept per field, in characters after escaping. The sum stays well under 4096 bytes.
SHORT = 64  # request id, address, service, error code, key id, decision
LONG = 256  # action (a path for unknown paths)
ARN = 1024  # principal: an assumed role's ARN with a 512-character path still fits

_SAFE_PUNCTUATION = frozenset('\\"')


def clean(value: str | None, limit: int = SHORT) -> str:
    """``value`` as one log token: ``-`` for none or empty; printable ASCII other than the space,
    ``"`` and ``\\`` kept; anything else escaped; cut at a whole escape to at most ``limit``
    characters, then marked ``...``."""
    if not value:
        return "-"
    if len(value) <= limit and value.isascii() and value.isprintable() and " " not in value \
            and "\\" not in value and '"' not in value:
        return value  # the common case: ids, ARNs, addresses
    out: list[str] = []
    size = 0
    for char in value[:limit]:  # bounded: at most ``limit`` characters are looked at
        code = ord(char)
        if 0x21 <= code <= 0x7E and char not in _SAFE_PUNCTUATION:
            piece = char
        elif code < 0x100:
            piece = f"\\x{code:02x}"
        elif code < 0x10000:
            piece = f"\\u{code:04x}"
        else:
            piece = f"\\U{code:08x}"
        size += len(piece)
        if size > limit:
            break
        out.append(piece)
    if size > limit or len(value) > limit:
        out.append("...")
    return "".join(out)


def log_request(
    request_id: str,
    client: str | None,
    service: str,
    action: str,
    caller: Caller | None,
    claimed_key_id: str | None,
    status: int,
    error_code: str | None,
    seconds: float,
    size: int,
    decision: str | None = None,
    *,
    authorize: bool = False,
) -> None:
    """Log one request's access line (module docstring). ``caller`` is who authenticated, if anyone;
    ``claimed_key_id`` the key id the request's signature named (used when ``caller`` is None)."""
    if not ACCESS.isEnabledFor(INFO):
        return
    if caller is not None:
        principal, key_id = clean(caller.arn, ARN), caller.access_key_id  # a key id the store knew
    else:
        principal, key_id = "-", clean(claimed_key_id)
    # The request id, service, error code and decision are OpenSTS's own words; the address, the action
    # (a path, for unknown paths), the principal and a claimed key id go through clean().
    args: tuple[Any, ...] = (
        request_id, clean(client), service, clean(action, LONG), principal, key_id, status, error_code or "-",
        seconds * 1000.0, size,
    )
    if authorize:
        args += (decision or "-",)
    # Logger.handle, not Logger.info: the same handlers and filters, without the caller look-up.
    ACCESS.handle(_record(AUTHORIZE_FORMAT if authorize else ACCESS_FORMAT, args))


_shared: dict[tuple[int, int], dict[str, Any]] = {}  # (process, thread) -> a record's fixed attributes


def _record(msg: str, args: tuple[Any, ...]) -> logging.LogRecord:
    """A LogRecord like ``Logger.makeRecord`` makes, at a third of the cost: the attributes that are
    the same for every access line from this thread of this process (source file, thread and process
    names) are copied from the first record made there, not looked up again."""
    key = (os.getpid(), threading.get_ident())
    shared = _shared.get(key)
    if shared is None:
        if len(_shared) >= 64:  # threads come and go: keep the table bounded
            _shared.clear()
        shared = _shared[key] = vars(ACCESS.makeRecord(ACCESS.name, INFO, __file__, 0, msg, (), None, "log_request"))
    record = _new_record(logging.LogRecord)
    attributes = shared.copy()
    now = time.time()
    attributes["msg"] = msg
    attributes["args"] = args
    attributes["created"] = now
    attributes["msecs"] = int((now - int(now)) * 1000) + 0.0
    attributes["relativeCreated"] = (now - _START) * 1000
    record.__dict__ = attributes
    return record


_new_record = object.__new__
_START: float = logging._startTime  # type: ignore[attr-defined]  # what relativeCreated counts from


# --- formats -------------------------------------------------------------------------------------

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` (the standard Formatter's, local time with ``,ms``), with the
    ``time.strftime`` of each second done once."""

    def __init__(self, fmt: str = TEXT_FORMAT, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)
        self._second = -1
        self._prefix = ""

    def format(self, record: logging.LogRecord) -> str:
        if self._fmt is not TEXT_FORMAT or record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        # What the standard Formatter makes of TEXT_FORMAT, without its general machinery.
        record.message = message = record.getMessage()
        return f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:  # a race between threads only repeats this work
            self._prefix = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return f"{self._prefix},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def iso_time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        msg = record.msg
        if msg is ACCESS_FORMAT or msg is AUTHORIZE_FORMAT:
            args: tuple[Any, ...] = record.args  # type: ignore[assignment]  # log_request's tuple
            # The fields are the keys; the message just names the call.
            data: dict[str, Any] = {
                "time": self.iso_time(record.created), "level": record.levelname, "logger": record.name,
                "message": f"{args[2]} {args[3]} {args[6]}",
            }
            data.update(zip(AUTHORIZE_FIELDS, args))
            data["duration_ms"] = round(args[8], 3)
        else:
            data = {
                "time": self.iso_time(record.created), "level": record.levelname, "logger": record.name,
                "message": record.getMessage(),
            }
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            data["exception"] = record.exc_text
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return _ENCODER.encode(data)


# ASCII output (the default): any text, a lone surrogate included, is written as escapes on one line.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
