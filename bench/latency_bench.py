"""Tail latency at a constant request rate: p50, p99 and p99.9 at 50 % and 80 % of peak (issue 19, item 2).

    python bench/latency_bench.py [--duration 10] [--fractions 0.5,0.8] [--action all] [--connections 64]
                                  [--audit on|off] [--iam-changes 0]

For each path of one OpenSTS worker (``opensts serve``, SQLite in a temporary directory, the audit
trail on as by default) — GetCallerIdentity, AssumeRole (its response waits for its audit event's
commit) and ``/v1/authorize`` (Allow, a remembered decision) — and for the bare Starlette hello of
``server_bench.py`` (the floor of the same stack, and a check of the load generator itself):

1. **Peak**: ``wrk`` (1 thread, 32 connections, closed loop, as ``server_bench.py``) for
   ``--duration`` seconds: the highest rate the server sustains.
2. **Constant rate**, for each of ``--fractions`` of that peak: an open-loop load for ``--duration``
   seconds after 2 s of warm-up at the same rate. Requests fall due at fixed intervals whatever the
   server does; a request that falls due while every connection waits for an answer queues in the
   generator, and its latency counts from when it fell due. So a server that stalls is charged for
   every request it delayed, not only for the one it was working on (no "coordinated omission",
   the flaw of closed-loop latency figures such as wrk's own).

The generator is this script's own (``asyncio``, uvloop when installed): ``--connections``
keep-alive connections, one request in flight on each. Its timers fire to the millisecond, so it
sends the requests due within a millisecond together; latency counts from the moment it sends (or
queues) a request, and the lag between falling due and being sent is printed beside it (``lag
p99``): the generator's own share, small unless the machine is short of CPU. It shares this 2-core
machine with the server, as wrk does.

``--audit off`` runs the server without the audit trail (what the trail adds to the tail);
``--iam-changes N`` makes N IAM changes per second during each constant-rate run (a user's inline
policy put back and forth, through another signed client): every change drops the server's
remembered decisions and cached identities, which shows what their rebuild does to the tail.

Prints, per path and fraction: the rate asked and achieved, p50 / p90 / p99 / p99.9 / max in
milliseconds, error responses, and the generator's lag. The goal (issue 19) is p99 <= 5 ms at 80 %
of peak with one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from authorize_bench import authorize_call, setup  # noqa: E402
from http_load import http_request  # noqa: E402
from server_bench import (  # noqa: E402
    prepare,
    signed_request,
    start_hello,
    start_opensts,
    stop_all,
    wrk,
)

PATHS = ("GetCallerIdentity", "AssumeRole", "authorize", "hello")
WARM_UP_SECONDS = 2.0
DRAIN_SECONDS = 5.0
TICK_SECONDS = 0.001  # after the last request falls due: answers later than this count as lost


# --- The open-loop generator ---------------------------------------------------------------------
@dataclass(frozen=True)
class Latencies:
    asked: float  # requests/s
    achieved: float  # answers/s of the requests due in the measured window
    seconds: list[float]  # sorted: each answer's latency
    errors: int  # answers other than 200, and requests never answered
    lag: list[float]  # sorted: how late the generator sent each request after it fell due

    def percentile(self, values: list[float], fraction: float) -> float:
        return values[min(len(values) - 1, int(fraction * len(values)))] if values else float("nan")


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight (HTTP/1.1, Content-Length bodies)."""

    def __init__(self, load: _ConstantRate) -> None:
        self._load = load
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.started = 0.0  # when the request in flight fell due (or was sent)
        self.measured = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, request: bytes, started: float, measured: bool) -> None:
        self.started, self.measured = started, measured
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self._buffer[:head_end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
        if len(self._buffer) < head_end + 4 + length:
            return
        status = int(head[9:12])
        del self._buffer[:head_end + 4 + length]
        self._load.answered(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self._load.lost(self)


class _ConstantRate:
    """Requests due every ``1 / rate`` seconds on ``connections`` connections; the latencies of those
    due after the warm-up."""

    def __init__(self, request: bytes, rate: float, duration: float) -> None:
        self._request = request
        self._rate = rate
        self._duration = duration
        self._connections: list[_Connection] = []
        self._idle: list[_Connection] = []
        self._queued: collections.deque[tuple[float, bool]] = collections.deque()
        self._latencies: list[float] = []
        self._lag: list[float] = []
        self._errors = 0
        self._in_flight = 0
        self._all_sent = False
        self._done: asyncio.Future[None] | None = None

    async def run(self, host: str, port: int, connections: int) -> Latencies:
        loop = asyncio.get_running_loop()
        for _ in range(connections):
            _, protocol = await loop.create_connection(lambda: _Connection(self), host, port)
            self._connections.append(protocol)
        self._idle = list(self._connections)
        self._done = loop.create_future()
        total = int(self._rate * (WARM_UP_SECONDS + self._duration))
        warm_up = int(self._rate * WARM_UP_SECONDS)
        start = time.perf_counter() + 0.01
        sent = 0

        def tick() -> None:
            nonlocal sent
            now = time.perf_counter()
            while sent < total:
                due = start + sent / self._rate
                if due > now:
                    break
                measured = sent >= warm_up
                if measured:
                    self._lag.append(now - due)
                self._dispatch(now, measured)
                sent += 1
            if sent < total:
                # Not sooner than a millisecond: the loop's timers are that coarse, and a shorter
                # wait would spin this process on a core the server needs.
                loop.call_later(max(TICK_SECONDS, start + sent / self._rate - time.perf_counter()), tick)
                return
            self._all_sent = True
            if self._in_flight == 0:
                self._finish()

        loop.call_later(0.01, tick)
        gc.disable()  # this process's collector must not pause the generator mid-run
        try:
            await asyncio.wait_for(asyncio.shield(self._done), WARM_UP_SECONDS + self._duration + DRAIN_SECONDS + 1)
        except asyncio.TimeoutError:
            pass
        finally:
            gc.enable()
            for connection in self._connections:
                if connection.transport is not None:
                    connection.transport.close()
        measured_count = total - warm_up
        unanswered = measured_count - len(self._latencies) - self._errors
        return Latencies(self._rate, len(self._latencies) / self._duration, sorted(self._latencies),
                         self._errors + max(0, unanswered), sorted(self._lag))

    def _dispatch(self, started: float, measured: bool) -> None:
        self._in_flight += 1
        if self._idle:
            self._idle.pop().send(self._request, started, measured)
        else:
            self._queued.append((started, measured))

    def answered(self, connection: _Connection, status: int) -> None:
        now = time.perf_counter()
        self._in_flight -= 1
        if connection.measured:
            if status == 200:
                self._latencies.append(now - connection.started)
            else:
                self._errors += 1
        if self._queued:
            started, measured = self._queued.popleft()
            connection.send(self._request, started, measured)
        else:
            self._idle.append(connection)
        if self._all_sent and self._in_flight == 0:
            self._finish()

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def lost(self, connection: _Connection) -> None:
        if connection in self._idle:
            self._idle.remove(connection)


def constant_rate(request: bytes, url: str, rate: float, duration: float, connections: int) -> Latencies:
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    parts = urlsplit(url)
    load = _ConstantRate(request, rate, duration)
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(load.run(parts.hostname or "127.0.0.1", parts.port or 80, connections))


# --- IAM changes during a run ----------------------------------------------------------------------
class IamChanges:
    """``per_second`` changes of a user's inline policy, from a thread, while a run lasts."""

    def __init__(self, url: str, root: tuple[str, str], per_second: float) -> None:
        import boto3

        self._iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root[0],
                                 aws_secret_access_key=root[1])
        self._iam.create_user(UserName="bench-churn")
        self._interval = 1.0 / per_second
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.made = 0

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            action = "s3:GetObject" if self.made % 2 else "s3:PutObject"
            self._iam.put_user_policy(UserName="bench-churn", PolicyName="churn", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))
            self.made += 1

    def __enter__(self) -> IamChanges:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


# --- The run ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--fractions", default="0.5,0.8")
    parser.add_argument("--action", choices=PATHS + ("all",), default="all")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--audit", choices=("on", "off"), default="on")
    parser.add_argument("--iam-changes", type=float, default=0.0, metavar="PER_SECOND")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    fractions = [float(f) for f in args.fractions.split(",")]
    paths = PATHS if args.action == "all" else (args.action,)

    from opensts.identity.ids import new_long_term_access_key_id

    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    workdir = Path(tempfile.mkdtemp(prefix="opensts-latency-"))
    processes: list = []  # type: ignore[type-arg]
    try:
        url = start_opensts(processes, workdir / "data", account, root, settings={"OPENSTS_AUDIT": args.audit})
        hello_url = ""
        if "hello" in paths:
            hello_url = start_hello(processes, workdir)
        requests = _requests(url, root, account, paths)

        print(f"Latency at a constant rate, one OpenSTS worker (SQLite, audit {args.audit}), "
              f"{args.duration}s per run after {WARM_UP_SECONDS:.0f}s warm-up, {args.connections} connections, "
              f"IAM changes {args.iam_changes:g}/s; {os.cpu_count()} cores shared with the load generator")
        print(f"  {'path':<18} {'load':>5} {'asked/s':>8} {'got/s':>8} {'p50 ms':>7} {'p90':>6} {'p99':>6} "
              f"{'p99.9':>6} {'max':>6} {'errors':>6} {'lag p99':>7}")
        for path in paths:
            target = hello_url if path == "hello" else url
            request_path, make = requests[path] if path != "hello" else ("/", lambda: (b"", {}))
            body, headers = make()
            peak = wrk(target + request_path, body, headers, args.duration, 32, workdir)
            print(f"  {path:<18} {'peak':>5} {'':>8} {peak:8,.0f}   (wrk, closed loop)")
            for fraction in fractions:
                body, headers = make()  # signed afresh: each run is within the signatures' 5 minutes
                request = http_request(target + request_path, body, headers)
                if args.iam_changes and path != "hello":
                    with IamChanges(url, root, args.iam_changes):
                        result = constant_rate(request, target, peak * fraction, args.duration, args.connections)
                else:
                    result = constant_rate(request, target, peak * fraction, args.duration, args.connections)
                _show(path, fraction, result)
    finally:
        stop_all(processes, workdir)


def _requests(url: str, root: tuple[str, str], account: str,
              paths: tuple[str, ...]) -> dict[str, tuple[str, Callable[[], tuple[bytes, dict[str, str]]]]]:
    """Per path: the request path and a function that signs a fresh request."""
    out: dict[str, tuple[str, Callable[[], tuple[bytes, dict[str, str]]]]] = {}
    for action in ("GetCallerIdentity", "AssumeRole"):
        if action in paths:
            body, key_id, secret = prepare(action, url, *root)
            out[action] = ("/", lambda body=body, key_id=key_id, secret=secret: (
                body.encode(), signed_request(url, body, key_id, secret)))
    if "authorize" in paths:
        service, alice = setup(url, root)
        out["authorize"] = ("/v1/authorize", lambda: authorize_call(url, service, alice, account, "ec2:StopInstances"))
    return out


def _show(path: str, fraction: float, result: Latencies) -> None:
    ms = [result.percentile(result.seconds, q) * 1e3 for q in (0.5, 0.9, 0.99, 0.999)]
    worst = result.seconds[-1] * 1e3 if result.seconds else float("nan")
    print(f"  {path:<18} {fraction:>5.0%} {result.asked:8,.0f} {result.achieved:8,.0f} {ms[0]:7.2f} {ms[1]:6.2f} "
          f"{ms[2]:6.2f} {ms[3]:6.2f} {worst:6.1f} {result.errors:6d} {result.percentile(result.lag, 0.99) * 1e3:7.2f}")


if __name__ == "__main__":
    main()
