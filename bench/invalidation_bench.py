"""How long an IAM change on one node takes to reach another node, idle and under IAM write load.

    python bench/invalidation_bench.py [--changes 50] [--rounds 3] [--load-rate 100] [--load-connections 8]

Starts a throwaway PostgreSQL cluster (``bench/postgres.py``, fsync on) and two OpenSTS nodes on its
one database (``opensts serve``, one worker each, one master key), A and B. On A: a service user
allowed ``opensts:Authorize``, and alice, allowed ``ec2:StopInstances`` by one inline policy
(``authorize_bench.setup``). Throughout, a prober thread asks B (``/v1/authorize``, one kept-alive
connection) for alice's StopInstances every 5 ms, as a busy node is asked: B always holds a
remembered decision for alice, so what is measured is how long B keeps serving it after a change
(between probes there is nothing cached to be stale). Every answer must be an ``Allow`` or a
``Deny`` by policy. Then, ``--changes`` times per phase:

* wait a random time within one poll interval (below), so that changes fall anywhere in B's cycle
  rather than just after the poll that saw the last one;
* the writer sends PutUserPolicy to A: alice's second inline policy ``flip`` turns ``Deny`` of
  ``ec2:StopInstances`` on, or off again (an ``Allow``); timed from sending to A's answer (the write
  latency: A answers once the write and its audit event are committed);
* the lag: from A's answer to the answer of the first probe answered after it that shows the change
  (0 to 5 ms plus a probe's round trip when B knew before A answered; the resolution is the probe
  interval plus a round trip, both printed).

The phases take turns for ``--rounds`` rounds: ``idle`` (only the writer and the prober), and
``load``: a separate process sends A distinct PutUserPolicy writes (on 16 other users) at
``--load-rate`` writes/s (0: as fast as ``--load-connections`` connections go), started a second
before the phase's first change; every answer must be 200. Prints each phase's lag p50/p99/max per
round and over all its changes, the write latency, the probes' round trips (all of them, and the one
that first showed each change: mostly B's first decision after it dropped its caches, made from the
store) and the load achieved.

**How a change propagates** (``store/meta.py``, ``server/background.py``): every IAM write bumps the
store's IAM change counter inside its own transaction; the writing process drops its caches as it
commits; every other process reads the counter every ``IAM_VERSION_POLL_SECONDS`` (0.25 s after the
previous read ended; a ``SELECT`` in a worker thread) and, when it moved, drops every cache of IAM
data (credentials, policies, remembered decisions). There is no LISTEN/NOTIFY: the lag is bounded by
one poll interval plus a poll's read, plus the time B's event loop takes to run the timer (a busy
loop or a slow store delays it) and B's first decision from the store afterwards, i.e. about
uniform over 0-0.25 s plus that decision when idle. Write load adds no work to B's poll (one row is
read however many writes moved it) but makes B drop its caches at every poll, and competes for the
machine's two cores with B, PostgreSQL and A.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from authorize_bench import authorize_call, setup  # noqa: E402
from http_load import Batch, send_all  # noqa: E402
from iam_write_bench import signed_write  # noqa: E402
from server_bench import start_opensts, stop_all  # noqa: E402

LOAD_USERS = 16
PHASES = ("idle", "load")
PROBE_INTERVAL = 0.005  # seconds from one probe's start to the next (when its answer is in by then)


def policy(effect: str, action: str, resource: str = "*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]})


def load_writes(url: str, root: tuple[str, str], stop: Event) -> Iterator[bytes]:
    """Distinct PutUserPolicy writes on the load users, each signed as it is taken, until ``stop``."""
    n = 0
    while not stop.is_set():
        n += 1
        yield signed_write(url, {"Action": "PutUserPolicy", "UserName": f"load-{n % LOAD_USERS}", "PolicyName": "load",
                                 "PolicyDocument": policy("Allow", "s3:GetObject", f"arn:aws:s3:::load-{n}/*")}, root)


def load(url: str, root: tuple[str, str], rate: float, connections: int, stop: Event,
         results: "multiprocessing.Queue[Batch]") -> None:
    """The load process: writes to ``url`` until ``stop``; puts what it saw in ``results``."""
    results.put(asyncio.run(send_all(url, load_writes(url, root, stop), connections, rate or None)))


class Prober(threading.Thread):
    """Asks ``url`` (node B) for alice's StopInstances every :data:`PROBE_INTERVAL` seconds until
    stopped, keeping (answered at, decision, round trip) of every probe."""

    def __init__(self, url: str, service: tuple[str, str], alice: tuple[str, str], account: str) -> None:
        super().__init__(daemon=True)
        self._url, self._service, self._alice, self._account = url, service, alice, account
        self.probes: list[tuple[float, str, float]] = []
        self.error: BaseException | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        signed_at = -1e9
        try:
            with httpx.Client(base_url=self._url) as client:
                while not self.stopped.is_set():
                    started = time.perf_counter()
                    if started - signed_at > 60:  # a signature is good for 5 minutes
                        body, headers = authorize_call(self._url, self._service, self._alice, self._account,
                                                       "ec2:StopInstances")
                        signed_at = started
                        started = time.perf_counter()
                    answer = client.post("/v1/authorize", content=body, headers=headers).json()
                    answered = time.perf_counter()
                    if answer.get("error") or (answer["decision"] == "Deny") != ("encodedMessage" in answer):
                        raise RuntimeError(f"B answered {answer}")
                    self.probes.append((answered, answer["decision"], answered - started))
                    time.sleep(max(0.0, started + PROBE_INTERVAL - time.perf_counter()))
        except BaseException as error:  # handed to the main thread by first_showing()
            self.error = error

    def first_showing(self, decision: str, since: float, timeout: float = 10.0) -> tuple[float, float]:
        """(answered at, round trip) of the first probe answered after ``since`` that decided ``decision``."""
        seen = 0
        while time.perf_counter() - since < timeout:
            if self.error is not None:
                raise RuntimeError("the prober failed") from self.error
            probes = self.probes[seen:]
            seen += len(probes)
            for answered, decided, round_trip in probes:
                if answered > since and decided == decision:
                    return answered, round_trip
            time.sleep(0.001)
        raise RuntimeError(f"B still decides otherwise {timeout} s after the write ({decision})")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def ms(values: list[float]) -> str:
    return (f"p50 {1000 * percentile(values, 50):6.1f}  p99 {1000 * percentile(values, 99):6.1f}  "
            f"max {1000 * max(values):6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=50, help="changes per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load-rate", type=float, default=100.0, help="background writes/s on A (0: unpaced)")
    parser.add_argument("--load-connections", type=int, default=8)
    args = parser.parse_args()
    if args.changes < 1:
        parser.error("--changes must be at least 1")

    import boto3
    from botocore.config import Config

    from opensts.identity.ids import new_long_term_access_key_id
    from opensts.server.background import IAM_VERSION_POLL_SECONDS
    from postgres import throwaway_postgres

    workdir = Path(tempfile.mkdtemp(prefix="opensts-invalidation-bench-"))
    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    loader: multiprocessing.Process | None = None
    cluster = contextlib.ExitStack()
    try:
        database_url = cluster.enter_context(throwaway_postgres())
        # One data dir (its master key) for both nodes; B starts once A has made the store.
        node_a = start_opensts(processes, workdir / "data", account, root, database_url)
        node_b = start_opensts(processes, workdir / "data", account, root, database_url)
        service, alice = setup(node_a, root)
        iam = boto3.client("iam", endpoint_url=node_a, region_name="us-east-1", aws_access_key_id=root[0],
                           aws_secret_access_key=root[1], config=Config(retries={"total_max_attempts": 1}))
        for n in range(LOAD_USERS):
            iam.create_user(UserName=f"load-{n}")
        prober = Prober(node_b, service, alice, account)
        prober.start()

        def change(effect: str) -> tuple[float, float, float]:
            """Write on A; wait for a probe of B that decides as the write says. (write latency, lag, the
            round trip of that probe: B's first decision after dropping its caches) in seconds."""
            time.sleep(random.uniform(0, IAM_VERSION_POLL_SECONDS))
            sent = time.perf_counter()
            iam.put_user_policy(UserName="alice", PolicyName="flip", PolicyDocument=policy(effect, "ec2:StopInstances"))
            answered = time.perf_counter()
            seen, round_trip = prober.first_showing(effect, answered)
            return answered - sent, seen - answered, round_trip

        change("Allow")  # the policy exists and B has seen it
        effects = itertools.cycle(("Deny", "Allow"))  # every change flips the decision, across phases too
        lags: dict[str, list[list[float]]] = {phase: [] for phase in PHASES}
        latencies: dict[str, list[float]] = {phase: [] for phase in PHASES}
        probes: dict[str, list[float]] = {phase: [] for phase in PHASES}
        firsts: dict[str, list[float]] = {phase: [] for phase in PHASES}
        loads: list[Batch] = []
        for _ in range(args.rounds):
            for phase in PHASES:
                if phase == "load":
                    stop = multiprocessing.Event()
                    results: multiprocessing.Queue[Batch] = multiprocessing.Queue()
                    loader = multiprocessing.Process(target=load, args=(node_a, root, args.load_rate,
                                                                        args.load_connections, stop, results))
                    loader.start()
                    time.sleep(1)
                began, probed = time.perf_counter(), len(prober.probes)
                figures = [change(next(effects)) for _ in range(args.changes)]
                latencies[phase] += [latency for latency, _, _ in figures]
                lags[phase].append([lag for _, lag, _ in figures])
                firsts[phase] += [first for _, _, first in figures]
                probes[phase] += [trip for answered, _, trip in prober.probes[probed:] if answered > began]
                if loader is not None:
                    stop.set()
                    batch = results.get(timeout=60)
                    loader.join()
                    loader = None
                    if batch.failed:
                        raise RuntimeError(f"{batch.failed} of {batch.answered} load writes were not 200, e.g. {batch.failures}")
                    loads.append(batch)

        print(f"IAM change on node A seen by node B, PostgreSQL, {args.rounds} rounds of {args.changes} changes "
              f"per phase, one worker per node, poll every {IAM_VERSION_POLL_SECONDS} s, {os.cpu_count()} cores")
        for phase in PHASES:
            if phase == "load":
                rates = ", ".join(f"{b.answered / b.seconds:,.0f}" for b in loads)
                target = f"{args.load_rate:,.0f}/s asked" if args.load_rate else "unpaced"
                print(f"load: PutUserPolicy on A, {target}, {args.load_connections} connections; "
                      f"achieved writes/s per round: {rates}")
            for n, round_lags in enumerate(lags[phase], 1):
                print(f"  {phase:<5} round {n}   lag      {ms(round_lags)}")
            print(f"  {phase:<5} all        lag      {ms([lag for round_lags in lags[phase] for lag in round_lags])}")
            print(f"  {phase:<5} all        write    {ms(latencies[phase])}   (PutUserPolicy on A, sent to answered)")
            print(f"  {phase:<5} all        probe    {ms(probes[phase])}   (/v1/authorize on B, every "
                  f"{1000 * PROBE_INTERVAL:.0f} ms: the resolution)")
            print(f"  {phase:<5} all        1st      {ms(firsts[phase])}   (the probe that first showed a change)")
        prober.stopped.set()
        prober.join()
    finally:
        if loader is not None:
            loader.kill()
        stop_all(processes, workdir)
        cluster.close()


if __name__ == "__main__":
    main()
