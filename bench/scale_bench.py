"""Scale of one OpenSTS deployment (issue 19, item 5): a worker's memory after many sessions and IAM
entities, start time with many entities, and throughput with 1, 2 and 4 workers, in one run.

    python bench/scale_bench.py [--entities 100000] [--tokens 1000000] [--duration 10] [--rounds 3] [--connections 32]

Every server is ``opensts serve`` on loopback, SQLite in a temporary directory, audit trail on (the
defaults), started by this script as bench/server_bench.py starts it (whose helpers it imports).

**The entities.** ``--entities`` IAM entities are made in one store through the registered IAM
actions, called in-process as the account's root (``opensts.iac.calls.Invoker``, the path ``opensts
apply`` takes: the same parameter decoding, validation, authorization and store writes, one
transaction per call, as over HTTP, without the network; these setup calls are not recorded in the
audit trail). Half are users with one access key each, a quarter roles trusting the account, a
quarter customer managed policies, each attached to one role; the first user may assume
every role (an inline policy).

1. **Memory.** One server with ``--workers 1`` (the ``opensts serve`` process is then the worker) on
   the store of the entities. VmRSS (``/proc/PID/status``) of the worker and of its child processes
   (the audit writer, started once the trail is busy), and the store's size on disk, are read: when
   ready; after every entity was used once (GetCallerIdentity signed with every user's access key,
   AssumeRole of every role by one of the users); and after 10 %, 25 %, 50 % and 100 % of ``--tokens``
   GetCallerIdentity calls, each signed with the credentials of a session of its own: a distinct
   session token every call. The sessions are minted here exactly as AssumeRole mints them
   (``opensts.sts.credentials.issue`` with the server's key ring, read from the store: the token
   seals the claims; the server keeps no session state), spread over the roles. This process sends
   the calls over ``--connections`` kept-alive connections (asyncio, one request in flight per
   connection), each signed (SigV4; the signer is checked against botocore's once) as it is sent:
   wrk would need every one of the distinct requests written out and loaded first. Every answer
   must be 200. The calls/s figures include this process's minting and signing on the same cores.
   The growth per 100,000 sessions between the last two readings shows whether the worker's memory
   has levelled off. The store grows by each call's audit event (about 2 KB).
2. **Start time**, from starting ``opensts serve --workers 1`` to ``/health`` answering, and to the
   first successful signed GetCallerIdentity (root's key), with the entities in the store and with
   an empty store (both restarts of an existing store), in turns, ``--rounds`` times each.
3. **Throughput** of GetCallerIdentity and AssumeRole with ``--workers`` 1, 2 and 4, each on a fresh
   store, measured as bench/server_bench.py measures (wrk, 1 thread, ``--connections``, one replayed
   signed request, 2 s warm-up, then ``--duration`` s; ``--rounds`` rounds in turns); medians, every
   round's figure, and the ratios of 2 and 4 workers to 1.

What a worker keeps per session token, each bounded (``cache.py: Caches`` and the module-level memos):
decoded tokens (``session-tokens``, 4,096), rate-limit buckets per access key id (``throttle.py``,
100,000), SigV4 signing keys per secret (``sigv4.py``, 2,048) and parsed Authorization heads and
credential scopes (lru_cache, 1,024 each), audit identities per caller (``audit/record.py``, 4,096,
in the audit writer), policies per credential (``caller-policies``, 10,000 credentials) and remembered
decisions (``decisions`` and ``decision-keys``, 100,000 each in all, whatever the number of
credentials; neither is filled by GetCallerIdentity, which authorizes nothing). Per entity: long-term keys and their callers (``credentials``, ``callers``,
50,000 each), policy sets (10,000), managed policies, IAM lookups (10,000 each), trust and role-name
memos (lru_cache, 4,096), last-used dates noted for the background writer (``store/usage.py``: pending
ones, written within a minute; written ones forgotten past 100,000). Sessions are in no table.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

from http_load import http_request, send_all
from server_bench import (
    ACTIONS,
    free_port,
    in_turns,
    measure,
    prepare,
    show,
    signed_request,
    stop_all,
    wait_until_up,
)

if TYPE_CHECKING:
    from opensts.runtime import Runtime

ACCOUNT = "123456789012"
REGION = "us-east-1"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
CALLER_IDENTITY = b"Action=GetCallerIdentity&Version=2011-06-15"
TOKEN_POINTS = (0.1, 0.25, 0.5, 1.0)  # memory is read after these shares of --tokens
WORKER_COUNTS = (1, 2, 4)
ENTITIES_PER_INVOKER = 10_000  # an Invoker makes at most iac.calls.MAX_CALLS calls
MIB = 1024 * 1024

Process = subprocess.Popen[bytes]


@dataclass(frozen=True)
class Key:
    key_id: str
    secret: str
    token: str | None = None


@dataclass(frozen=True)
class Role:
    name: str
    role_id: str
    arn: str


@dataclass(frozen=True)
class Population:
    keys: list[Key]  # one per user
    roles: list[Role]
    assumer: Key  # the key of a user that may assume every role (root may not assume roles)


# --- servers ---------------------------------------------------------------------------------
def store_env(data_dir: Path, root: Key) -> dict[str, str]:
    env = {
        **os.environ,
        "OPENSTS_DATA_DIR": str(data_dir),
        "OPENSTS_ACCOUNT_ID": ACCOUNT,
        "OPENSTS_ROOT_ACCESS_KEY_ID": root.key_id,
        "OPENSTS_ROOT_SECRET_ACCESS_KEY": root.secret,
        "OPENSTS_LOG_LEVEL": "warning",
    }
    env.pop("OPENSTS_DATABASE_URL", None)
    return env


def serve(env: dict[str, str], workers: int, started: list[Process], port: int | None = None) -> tuple[str, Process]:
    """``opensts serve`` on ``port`` or a free one (added to ``started`` at once, to be stopped), and its URL."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "opensts", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    started.append(process)
    return f"http://127.0.0.1:{port}", process


def stop(process: Process) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss_mib(pid: int) -> float:
    """VmRSS of a process, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) / 1024  # type: ignore[union-attr]


def children_rss_mib(pid: int) -> float:
    """VmRSS of the direct children of ``pid`` (a worker's audit writer), summed, in MiB."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
            if ppid == pid:
                total += rss_mib(int(stat.parent.name))
        except (OSError, AttributeError):  # the process ended meanwhile
            continue
    return total


def store_mib(data_dir: Path) -> float:
    return sum(f.stat().st_size for f in data_dir.iterdir() if f.is_file()) / MIB


# --- signing and sending -----------------------------------------------------------------------
def authorization(host: str, body: bytes, key: Key, amz_date: str) -> str:
    """The SigV4 Authorization header of ``POST /`` with the headers :func:`raw_request` sends."""
    headers = [("content-type", CONTENT_TYPE), ("host", host), ("x-amz-date", amz_date)]
    if key.token is not None:
        headers.append(("x-amz-security-token", key.token))
    signed = ";".join(name for name, _ in headers)
    canonical = "\n".join(["POST", "/", "", *(f"{n}:{v}" for n, v in headers), "", signed,
                           hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{REGION}/sts/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signing_key = ("AWS4" + key.secret).encode()
    for part in (amz_date[:8], REGION, "sts", "aws4_request"):
        signing_key = hmac.digest(signing_key, part.encode(), "sha256")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={key.key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"


def raw_request(host: str, body: bytes, key: Key) -> bytes:
    """A kept-alive HTTP/1.1 ``POST /`` of ``body``, signed with ``key`` now."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"Content-Type": CONTENT_TYPE, "X-Amz-Date": amz_date}
    if key.token is not None:
        headers["X-Amz-Security-Token"] = key.token
    headers["Authorization"] = authorization(host, body, key, amz_date)
    return http_request(f"http://{host}/", body, headers)


def check_signer(url: str, key: Key) -> None:
    """:func:`authorization` signs as botocore does (the server checks every signature anyway)."""
    headers = signed_request(url, CALLER_IDENTITY.decode(), key.key_id, key.secret, key.token)
    mine = authorization(url.removeprefix("http://"), CALLER_IDENTITY, key, headers["X-Amz-Date"])
    if mine != headers["Authorization"]:
        raise RuntimeError(f"the signer disagrees with botocore:\n  {mine}\n  {headers['Authorization']}")


def send_every(url: str, requests: Iterable[bytes], connections: int) -> int:
    """Send every request (made lazily, as connections free up); the number answered (all must be 200)."""
    batch = asyncio.run(send_all(url, requests, connections))
    if batch.failed:
        raise RuntimeError(f"{batch.failed} error answers, the first: {batch.failures[0]!r}")
    return batch.answered


# --- the entities and the sessions -------------------------------------------------------------
def populate(runtime: "Runtime", entities: int) -> Population:
    """``entities`` users (half, each with an access key), roles and managed policies (a quarter each,
    every policy attached to one role), made through the IAM actions as the account's root; the
    first user may assume every role (an inline policy)."""
    from opensts.iac.calls import Invoker, principal

    n_roles = entities // 4
    n_users = entities - 2 * n_roles
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
    keys: list[Key] = []
    roles: list[Role] = []
    caller = principal(runtime, ACCOUNT, None)
    for first in range(0, max(n_users, n_roles), ENTITIES_PER_INVOKER):
        call = Invoker(runtime, caller, "scale-bench", None, None)
        for i in range(first, min(first + ENTITIES_PER_INVOKER, n_users)):
            call("CreateUser", {"UserName": f"bench-user-{i}"})
            key = call("CreateAccessKey", {"UserName": f"bench-user-{i}"}).access_key
            keys.append(Key(key.access_key_id, key.secret_access_key))
        for i in range(first, min(first + ENTITIES_PER_INVOKER, n_roles)):
            role = call("CreateRole", {"RoleName": f"bench-role-{i}", "AssumeRolePolicyDocument": trust}).role
            document = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bench-bucket-{i}/*"}]})
            policy = call("CreatePolicy", {"PolicyName": f"bench-policy-{i}", "PolicyDocument": document}).policy
            call("AttachRolePolicy", {"RoleName": role.role_name, "PolicyArn": policy.arn})
            roles.append(Role(role.role_name, role.role_id, role.arn))
    assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    call("PutUserPolicy", {"UserName": "bench-user-0", "PolicyName": "assume", "PolicyDocument": json.dumps(assume)})
    return Population(keys, roles, keys[0])


def session_requests(runtime: "Runtime", roles: list[Role], host: str, first: int, stop_at: int) -> Iterator[bytes]:
    """GetCallerIdentity signed with a new session of a role, for sessions ``first`` to ``stop_at``."""
    from opensts.identity import arn as arns
    from opensts.sts.credentials import issue

    issued_at = datetime.now(timezone.utc)
    for i in range(first, stop_at):
        role = roles[i % len(roles)]
        name = f"s{i}"
        credentials = issue(
            runtime, account_id=ACCOUNT, kind="assumed-role",
            principal_arn=arns.assumed_role_arn(ACCOUNT, role.name, name), principal_id=f"{role.role_id}:{name}",
            source_arn=role.arn, source_id=role.role_id, issued_at=issued_at, duration_seconds=3600,
        )
        session = Key(credentials.access_key_id, credentials.secret_access_key, credentials.session_token)
        yield raw_request(host, CALLER_IDENTITY, session)


# --- the three measurements --------------------------------------------------------------------
def memory(env: dict[str, str], runtime: "Runtime", population: Population, root: Key, args: argparse.Namespace,
           started: list[Process]) -> None:
    url, process = serve(env, 1, started)
    wait_until_up(url, process, "/health")
    host = url.removeprefix("http://")
    data_dir = Path(env["OPENSTS_DATA_DIR"])
    print(f"Memory of one worker (--workers 1, VmRSS), {args.entities:,} IAM entities in the store, "
          f"{args.connections} connections from this process")
    print(f"  {'after':<40} {'calls':>10} {'s':>7} {'calls/s':>8} {'worker MiB':>11} {'children MiB':>13} "
          f"{'store MiB':>10}")
    readings: list[tuple[int, float]] = []  # (sessions so far, worker MiB)

    def reading(label: str, requests: Iterable[bytes], sessions: int) -> None:
        start = time.monotonic()
        calls = send_every(url, requests, args.connections)
        seconds = time.monotonic() - start
        worker = rss_mib(process.pid)
        readings.append((sessions, worker))
        print(f"  {label:<40} {calls:>10,} {seconds:>7.1f} {calls / seconds:>8,.0f} {worker:>11.1f} "
              f"{children_rss_mib(process.pid):>13.1f} {store_mib(data_dir):>10.1f}", flush=True)

    check_signer(url, root)
    reading("ready (one GetCallerIdentity)", [raw_request(host, CALLER_IDENTITY, root)], 0)
    reading(f"GetCallerIdentity with each of {len(population.keys):,} keys",
            (raw_request(host, CALLER_IDENTITY, key) for key in population.keys), 0)
    assume = (f"Action=AssumeRole&RoleArn={quote(role.arn, safe='')}&RoleSessionName=bench&Version=2011-06-15".encode()
              for role in population.roles)
    reading(f"AssumeRole of each of {len(population.roles):,} roles",
            (raw_request(host, body, population.assumer) for body in assume), 0)
    sent = 0
    for share in TOKEN_POINTS:
        upto = int(args.tokens * share)
        sessions = session_requests(runtime, population.roles, host, sent, upto)
        reading(f"{upto:,} distinct session tokens", sessions, upto)
        sent = upto
    (before, rss_before), (after, rss_after) = readings[-2], readings[-1]
    print(f"  growth from {before:,} to {after:,} sessions: "
          f"{(rss_after - rss_before) / (after - before) * 100_000:+.1f} MiB per 100,000 sessions")
    stop(process)


def ready_after(check: Callable[[], bool], process: Process, since: float) -> float:
    """Seconds from ``since`` until ``check()`` is true (polled every 10 ms)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"opensts serve exited with {process.returncode}")
        try:
            if check():
                return time.monotonic() - since
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError("opensts serve did not become ready")


def start_time(env: dict[str, str], root: Key, started: list[Process]) -> tuple[float, float]:
    """Seconds from starting the server to /health answering 200, and to a GetCallerIdentity answered 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = signed_request(url, CALLER_IDENTITY.decode(), root.key_id, root.secret)
    begin = time.monotonic()
    _, process = serve(env, 1, started, port)
    try:
        health = ready_after(lambda: httpx.get(url + "/health", timeout=5).status_code == 200, process, begin)
        first = ready_after(
            lambda: httpx.post(url + "/", content=CALLER_IDENTITY, headers=headers, timeout=5).status_code == 200,
            process, begin,
        )
    finally:
        stop(process)
    return health, first


def start_times(stores: dict[str, dict[str, str]], root: Key, rounds: int, started: list[Process]) -> None:
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in stores}
    for _ in range(rounds):
        for name, env in stores.items():
            figures[name].append(start_time(env, root, started))
    print(f"Start time to ready (--workers 1, a restart), {rounds} rounds in turns")
    for name, pairs in figures.items():
        for label, values in (("/health", [p[0] for p in pairs]), ("first GetCallerIdentity", [p[1] for p in pairs])):
            each = ", ".join(f"{v:.2f}" for v in values)
            print(f"  {name:<18} {label:<24} {statistics.median(values):>6.2f} s   (rounds: {each})")


def throughput(workdir: Path, root: Key, args: argparse.Namespace, started: list[Process]) -> None:
    servers = {workers: serve(store_env(workdir / f"workers-{workers}", root), workers, started)
               for workers in WORKER_COUNTS}
    for url, process in servers.values():
        wait_until_up(url, process, "/health")
    cores = os.cpu_count()
    print(f"Note: wrk (1 thread) runs on the same {cores}-core machine as the server: it takes up to one core, "
          f"so 2 and 4 workers share what is left with it and with each other; the ratios show what extra "
          f"workers gain on this machine, not what they would gain with the load generator elsewhere.")
    for action in ACTIONS:
        prepared = {workers: prepare(action, url, root.key_id, root.secret) for workers, (url, _) in servers.items()}

        def run(workers: int) -> Callable[[], float]:
            return lambda: measure(servers[workers][0], *prepared[workers], args, workdir)

        results = in_turns({f"{workers} worker(s)": run(workers) for workers in WORKER_COUNTS}, args.rounds)
        print(f"{action} over HTTP, {args.rounds} rounds of {args.duration}s, {args.connections} connections, "
              f"wrk 1 thread, {cores} cores")
        medians = {name: show(f"OpenSTS, {name}", figures) for name, figures in results.items()}
        base = medians["1 worker(s)"]
        for workers in WORKER_COUNTS[1:]:
            print(f"  {f'{workers} workers / 1 worker':<34} {medians[f'{workers} worker(s)'] / base:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if args.entities < 4 or args.tokens < 10:
        sys.exit("--entities must be at least 4 (one role) and --tokens at least 10")
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    from opensts.config import Settings
    from opensts.identity.ids import new_long_term_access_key_id
    from opensts.runtime import open_runtime

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # the servers are stopped below
    root = Key(new_long_term_access_key_id(ACCOUNT), "benchmark" + "s" * 31)
    workdir = Path(tempfile.mkdtemp(prefix="opensts-scale-"))
    started: list[Process] = []
    runtime = None
    try:
        stores = {"empty store": store_env(workdir / "empty", root),
                  f"{args.entities:,} entities": store_env(workdir / "entities", root)}
        for env in stores.values():  # the first start creates the store
            url, process = serve(env, 1, started)
            wait_until_up(url, process, "/health")
            stop(process)
        entities_env = stores[f"{args.entities:,} entities"]
        runtime = open_runtime(Settings.from_env(entities_env), bootstrap=False, create=False)
        begin = time.monotonic()
        population = populate(runtime, args.entities)
        seconds = time.monotonic() - begin
        print(f"Made {len(population.keys):,} users with an access key each, {len(population.roles):,} roles and "
              f"{len(population.roles):,} managed policies (attached) through the IAM actions in-process: "
              f"{seconds:.0f} s, {args.entities / seconds:,.0f} entities/s")
        print()
        start_times(stores, root, args.rounds, started)
        print()
        memory(entities_env, runtime, population, root, args, started)
        print()
        throughput(workdir, root, args, started)
    finally:
        if runtime is not None:
            runtime.close()
        stop_all(started, workdir)


if __name__ == "__main__":
    main()
