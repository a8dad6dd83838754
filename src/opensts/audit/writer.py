"""The audit writer: a process of its own that builds and commits the trail's events.

Why a process: building a CloudTrail record and appending it to the store cost about as much CPU
as a whole GetCallerIdentity (measured: ~35 µs to build, ~40 µs to append, per event). On the
server's event loop that halves throughput; in a thread of the same process it competes for the
same interpreter lock and falls behind under load. A second process runs on the other core.

The server's side (:class:`WriterProcess`) pickles each group of calls as it closes (a few µs per
call: callers repeat and are pickled once per group; dataclasses travel as their field values, see
:class:`CallPickler`) and writes it to the writer's standard input. The writer answers each group
with its outcomes (``committer.py``) on a pipe of its own, read by the server's event loop: a
request that waits for its record (credential-issuing calls, IAM writes) is answered only when
the writer says its group committed, exactly as with a commit on the loop.

Frames, both ways: a 4-byte little-endian length, then the payload. To the writer: first the
setup (marshal: store URL, default account, streams), then for each group its id (8 bytes) and
``pickle(calls)``. From the writer: ``marshal(("ready",))`` once its store is open, then
``marshal((group id, outcomes))`` (``committer.describe``; a message alone when the whole group
failed).

Failure: if the writer dies, or stops answering (the trail kills it after 30 s without an answer),
groups it had not answered are failed (a waiting request hears ServiceUnavailable; its event may or
may not have committed) and the trail commits on the loop from then on. If the server dies, the
writer's answers have no reader: it still commits and streams every group it received, reads the
end of its input and exits; a crash loses only what the server had not yet sent (the open group,
as before, and a backlog the pipe had not taken). The writer ignores SIGINT and SIGTERM: it stops
when the server closes its input, after the last group; the server waits at most
:data:`CLOSE_SECONDS` for it, then kills it.

Secrets: calls carry the typed results (credentials included); they pass through a pipe between
the two processes only, and the writer redacts them as the loop did (``record.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import io
import logging
import logging.config
import marshal
import operator
import os
import pickle
import select
import selectors
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from opensts.config import environment_without_settings
from opensts.errors import AwsError

log = logging.getLogger("opensts.audit")

_LENGTH = struct.Struct("<I")
_GROUP = struct.Struct("<Q")  # a group's id, before its pickled calls
MAX_FRAME = 256 * 1024 * 1024  # a group of calls; the server never sends more than MAX_BUFFER at once
MAX_BUFFER = 32 * 1024 * 1024  # bytes the server keeps for a writer that is behind; beyond, it commits itself
CLOSE_SECONDS = 10.0  # at shutdown: how long the server waits for the writer's last answers
TICK_SECONDS = 1.0
MAX_CALLS_PER_COMMIT = 2_000  # as the trail's MAX_BATCH: a backlog is committed in bounded transactions


@dataclass(frozen=True)
class WriterSettings:
    """What the writer needs to open (no master key: audit events are not sealed)."""

    store_url: str
    default_account: str
    audit_log: str | None
    audit_dir: str | None
    log_config: dict[str, Any] | None = None  # logging.config.dictConfig's, as the server's


def _frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


def _frames(buffer: bytearray) -> list[bytes]:
    """The complete frames at the start of ``buffer`` (removed from it)."""
    out: list[bytes] = []
    start = 0
    while len(buffer) - start >= 4:
        (length,) = _LENGTH.unpack_from(buffer, start)
        if length > MAX_FRAME:
            raise ValueError(f"an audit writer frame of {length} bytes")
        if len(buffer) - start - 4 < length:
            break
        out.append(bytes(buffer[start + 4:start + 4 + length]))
        start += 4 + length
    del buffer[:start]
    return out


# --- Pickling calls ----------------------------------------------------------------------------------
def _rebuilt(cls: type, values: tuple[Any, ...]) -> Any:
    """A dataclass instance from its field values, without running ``__init__`` (its checks ran
    when the server made it)."""
    instance: Any = object.__new__(cls)
    for name, value in zip(_field_names(cls), values):
        object.__setattr__(instance, name, value)
    return instance


def _aws_error(code: str, message: str) -> AwsError:
    return AwsError(message, code=code)


_NAMES: dict[type, tuple[str, ...]] = {}
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _getter(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """For a dataclass: a C-level getter of its field values as a tuple (None for other types).
    Classes do not change at run time: entries never go stale."""
    if cls in _GETTERS:
        return _GETTERS[cls]
    getter: Callable[[Any], tuple[Any, ...]] | None = None
    if dataclasses.is_dataclass(cls):
        names = _field_names(cls)
        if len(names) > 1:
            getter = operator.attrgetter(*names)
        elif names:
            single = operator.attrgetter(names[0])
            getter = lambda value: (single(value),)  # noqa: E731
        else:
            getter = lambda value: ()  # noqa: E731
    _GETTERS[cls] = getter
    return getter


class CallPickler(pickle.Pickler):
    """Pickles calls fast: a dataclass as (class, field values), an AWS error as (code, message).
    The default pickling of slotted dataclasses runs Python code per object (measured: 16 µs per
    GetCallerIdentity call against 5 µs this way)."""

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        getter = _getter(cls)
        if getter is not None:
            return _rebuilt, (cls, getter(obj))
        if isinstance(obj, AwsError):
            return _aws_error, (obj.code, obj.message)
        return NotImplemented


def pickled(group: Any) -> bytes:
    out = io.BytesIO()
    CallPickler(out, protocol=5).dump(group)
    return out.getvalue()


# --- The server's side -------------------------------------------------------------------------------
class WriterProcess:
    """Starts the writer, sends it groups of calls, and reads its answers on the event loop.

    ``on_answer(group id, outcomes)`` is called for every answer; ``on_stop(reason)`` once, when
    the writer is gone (it will not answer the groups it has not answered)."""

    def __init__(
        self, settings: WriterSettings, on_answer: Callable[[int, Any], None], on_stop: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._on_answer = on_answer
        self._on_stop = on_stop
        self._process: subprocess.Popen[bytes] | None = None
        self._answers_fd = -1
        self._input_fd = -1
        self._answers = bytearray()
        self._unsent = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ready = False
        self.stopped = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        answers_read, answers_write = os.pipe()
        try:
            # -P: the server's working directory is not put on the writer's import path. The
            # environment goes without OpenSTS's settings (the master key among them): the writer
            # reads its settings from the setup frame only.
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-m", "opensts.audit.writer", str(answers_write)],
                stdin=subprocess.PIPE, pass_fds=(answers_write,), close_fds=True,
                env=environment_without_settings(),
            )
        except OSError as exc:
            os.close(answers_read)
            os.close(answers_write)
            self._stop(f"could not start the audit writer: {exc}")
            return
        os.close(answers_write)
        assert self._process.stdin is not None
        self._input_fd = self._process.stdin.fileno()
        self._answers_fd = answers_read
        setup = dataclasses.asdict(self._settings)
        self._send_bytes(_frame(marshal.dumps(setup)))
        os.set_blocking(self._input_fd, False)
        os.set_blocking(self._answers_fd, False)
        if not self.stopped:
            self._loop.add_reader(self._answers_fd, self._read_answers)

    def send(self, group_id: int, calls: Sequence[Any]) -> bool:
        """Hand ``calls`` to the writer; False if it cannot take them now (not ready yet, gone,
        behind by more than :data:`MAX_BUFFER`, or a call that cannot be pickled): the caller
        commits them itself."""
        if not self.accepting:
            return False
        try:
            data = _GROUP.pack(group_id) + pickled(list(calls))
        except Exception:  # noqa: BLE001 - a value that does not pickle: commit these calls on the loop
            log.debug("audit calls that cannot be pickled are committed in the server", exc_info=True)
            return False
        return self._send_bytes(_frame(data))

    @property
    def accepting(self) -> bool:
        """Whether :meth:`send` takes groups now: ready, running, and not too far behind."""
        return self.ready and not self.stopped and len(self._unsent) <= MAX_BUFFER

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send_bytes(self, data: bytes) -> bool:
        if self._unsent:
            self._unsent += data
            return True
        try:
            written = os.write(self._input_fd, data)
        except BlockingIOError:
            written = 0
        except OSError as exc:  # BrokenPipeError: the writer is gone
            self._stop(f"the audit writer stopped ({exc})")
            return False
        if written < len(data):
            self._unsent += data[written:]
            assert self._loop is not None
            self._loop.add_writer(self._input_fd, self._flush)
        return True

    def _flush(self) -> None:
        try:
            written = os.write(self._input_fd, self._unsent)
        except BlockingIOError:
            return
        except OSError as exc:
            self._stop(f"the audit writer stopped ({exc})")
            return
        del self._unsent[:written]
        if not self._unsent and self._loop is not None:
            self._loop.remove_writer(self._input_fd)

    def _read_answers(self) -> None:
        try:
            chunk = os.read(self._answers_fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            chunk, reason = b"", str(exc)
        else:
            reason = "the audit writer stopped"
        if not chunk:
            self._stop(reason)
            return
        self._answers += chunk
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            frames = _frames(self._answers)
        except ValueError as exc:
            self._stop(str(exc))
            return
        for payload in frames:
            answer = marshal.loads(payload)
            if answer == ("ready",):
                self.ready = True
            else:
                self._on_answer(answer[0], answer[1])

    def _stop(self, reason: str) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self._process is not None:
            self._process.poll()  # a writer that died is reaped now, not left a zombie until close()
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._answers_fd)
            with contextlib.suppress(Exception):
                self._loop.remove_writer(self._input_fd)
        self._on_stop(reason)

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Send what is left, close the writer's input, and read its answers until it exits, for at
        most ``timeout`` seconds; then it is killed (at shutdown; this blocks the loop, as the last
        commit did when it ran on the loop). Input is written only as the pipe takes it and answers
        are read meanwhile, so a slow writer with full pipes cannot deadlock the two."""
        if self._process is None:
            return
        deadline = time.monotonic() + timeout
        if not self.stopped:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._answers_fd)
                with contextlib.suppress(Exception):
                    self._loop.remove_writer(self._input_fd)
            self._drain(deadline)
            self._stop("the audit writer was closed")
        self._close_input()
        with contextlib.suppress(OSError):
            os.close(self._answers_fd)
        try:
            self._process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("the audit writer did not finish in %.0f s; stopping it", timeout)
            self._process.kill()
            self._process.wait()

    def _drain(self, deadline: float) -> None:
        """Until the writer's answers end or ``deadline``: write the unsent input (then close it) and
        read answers, whichever the pipes allow (poll-based: descriptors may be above 1024)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._answers_fd, selectors.EVENT_READ)
            if self._unsent:
                selector.register(self._input_fd, selectors.EVENT_WRITE)
            else:
                self._close_input()
            while (left := deadline - time.monotonic()) > 0:
                for key, _ in selector.select(left):
                    if key.fd == self._input_fd:
                        try:
                            del self._unsent[:os.write(self._input_fd, self._unsent)]
                        except BlockingIOError:
                            continue
                        except OSError:
                            self._unsent.clear()
                        if not self._unsent:
                            selector.unregister(self._input_fd)
                            self._close_input()
                        continue
                    try:
                        chunk = os.read(self._answers_fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:
                        return
                    self._answers += chunk
                    self._dispatch()

    def _close_input(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self._process is not None and self._process.stdin is not None
            self._process.stdin.close()

    def kill(self) -> None:
        """Stop a writer that no longer answers (the trail's watchdog): its unanswered groups fail."""
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()
        self._stop("the audit writer stopped answering and was stopped")


# --- The writer's side -------------------------------------------------------------------------------
def main(answers_fd: int) -> None:
    # The server stops the writer by closing its input, after its last group: a Ctrl-C or a
    # SIGTERM sent to the whole process group must not end it first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source = sys.stdin.fileno()
    incoming = bytearray()
    setup_frame: bytes | None = None
    pending: list[bytes] = []
    while setup_frame is None:
        chunk = os.read(source, 1 << 16)
        if not chunk:
            return
        incoming += chunk
        frames = _frames(incoming)
        if frames:
            setup_frame = frames[0]
            pending = frames[1:]
    settings = WriterSettings(**marshal.loads(setup_frame))
    if settings.log_config is not None:
        logging.config.dictConfig(settings.log_config)
    gc.set_threshold(20_000, 50, 100)  # as the server's workers (server/serving.py): fewer young collections

    from opensts.audit.committer import Committer, describe
    from opensts.audit.streams import streams_for
    from opensts.store.accounts import AccountRepository
    from opensts.store.audit import AuditRepository
    from opensts.store.db import Database, create_store_engine

    database = Database(create_store_engine(settings.store_url))
    sinks = streams_for(settings.audit_log, settings.audit_dir)
    committed: list[Any] = []
    committer = Committer(AuditRepository(database), AccountRepository(database), settings.default_account, committed.extend)
    answers = os.fdopen(answers_fd, "wb", buffering=0)
    server_gone = False

    def answer(payload: Any) -> None:
        # When the server is gone (killed), nobody reads the answers: the writer still commits
        # every group it received and feeds the streams until its input ends.
        nonlocal server_gone
        if server_gone:
            return
        view = memoryview(_frame(marshal.dumps(payload)))
        try:
            while view:
                view = view[answers.write(view) or 0:]
        except OSError:
            server_gone = True

    answer(("ready",))
    last_tick = time.monotonic()
    open_input = True
    while True:
        for batch in _batches(pending, answer):
            outcomes = committer.commit([call for _, calls in batch for call in calls])
            start = 0
            for group_id, calls in batch:
                answer((group_id, describe(outcomes[start:start + len(calls)])))
                start += len(calls)
            if committed:
                _feed(sinks, committed)
                committed.clear()
        pending = []
        now = time.monotonic()
        if now - last_tick >= TICK_SECONDS:
            last_tick = now
            for sink in sinks:
                with contextlib.suppress(Exception):
                    sink.tick()
        if not open_input:
            break
        ready, _, _ = select.select([source], [], [], TICK_SECONDS)
        if ready:
            chunk = os.read(source, 1 << 20)
            open_input = bool(chunk)
            incoming += chunk
            pending = _frames(incoming)
    for sink in sinks:
        try:
            sink.close()
        except Exception:  # noqa: BLE001
            log.warning("could not close an audit stream", exc_info=True)
    database.engine.dispose()


def _batches(frames: list[bytes], answer: Callable[[Any], None]) -> Iterator[list[tuple[int, list[Any]]]]:
    """The groups of ``frames``, unpickled, in batches of about :data:`MAX_CALLS_PER_COMMIT` calls
    (one transaction each). A group that does not unpickle is answered as failed, whole (a message
    for all its calls)."""
    batch: list[tuple[int, list[Any]]] = []
    size = 0
    for frame in frames:
        (group_id,) = _GROUP.unpack_from(frame)
        try:
            calls = pickle.loads(frame[_GROUP.size:])
        except Exception as exc:  # noqa: BLE001 - a bug: fail this group, keep the writer
            log.exception("could not read a group of audit calls")
            answer((group_id, str(exc) or type(exc).__name__))
            continue
        batch.append((group_id, calls))
        size += len(calls)
        if size >= MAX_CALLS_PER_COMMIT:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _feed(sinks: Sequence[Any], stored: list[Any]) -> None:
    for sink in sinks:
        try:
            sink.write(stored)
        except Exception:  # noqa: BLE001 - a full disk must not stop the trail in the store
            log.warning("could not write to an audit stream", exc_info=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
