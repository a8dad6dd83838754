"""IAM writes per second (CreateUser, PutUserPolicy, CreateAccessKey) on OpenSTS with SQLite, OpenSTS
with PostgreSQL and moto's server, in one run.

    python bench/iam_write_bench.py [--writes 1000] [--rounds 3] [--connections 16] [--workers 1]
                                    [--backends sqlite,postgres | --postgres]

Starts one OpenSTS per backend (``opensts serve``, one worker by default: SQLite in a temporary
directory; PostgreSQL on a throwaway cluster, ``bench/postgres.py``, fsync on) and moto's server
(``moto_server``). A write cannot be replayed (a second CreateUser of a name is a conflict), so each
measurement sends ``--writes`` distinct requests, SigV4-signed (service ``iam``) before it starts,
each once, over ``--connections`` connections kept alive, each connection sending its next request
when its answer is in (a closed loop; moto's server closes every connection after its answer, as
werkzeug does, so its client reconnects for every write, as any client would). The client is a few
lines of asyncio writing the pre-formatted requests (no HTTP library: it costs the shared CPU little).
Every answer must be 200; the figure is writes / seconds from the first request sent to the last
answer read (connections opened before).

A round measures, in turn, CreateUser of ``--writes`` new users on every server, then PutUserPolicy
(one inline policy each, a distinct document) on those users, then CreateAccessKey (one key each).
One unreported warm-up round of a tenth of the writes comes first; the machine's speed drifts, so
``--rounds`` rounds take turns (the method of ``server_bench.py``). Prints every figure, the medians,
OpenSTS / moto per backend and PostgreSQL / SQLite (of the medians; the median of the rounds').

What a write costs differs by design: on OpenSTS every IAM write is one store transaction that also
bumps the IAM change counter (one row, locked from the bump to the commit: IAM writes commit one at
a time) and waits for its audit event's commit (group commit, shared with concurrent writes) before
it answers. PostgreSQL flushes the WAL at every commit (``synchronous_commit`` on); SQLite in WAL mode
with ``synchronous=NORMAL`` does not (a power cut can lose the last commits, a crash of the process
cannot). moto keeps everything in memory and verifies no signature.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from authorize_bench import sign  # noqa: E402
from http_load import http_request, send_all  # noqa: E402
from server_bench import (  # noqa: E402
    BACKENDS,
    add_backend_arguments,
    backends_of,
    free_port,
    in_turns,
    show_ratio,
    start_backends,
    stop_all,
    wait_until_up,
)

FORM = "application/x-www-form-urlencoded; charset=utf-8"
ACTIONS = ("CreateUser", "PutUserPolicy", "CreateAccessKey")


def signed_write(url: str, params: dict[str, str], creds: tuple[str, str]) -> bytes:
    """An IAM Query API call, signed now (valid for 5 minutes) and formatted for :func:`send_all`."""
    body = "&".join(f"{name}={quote(value, safe='')}" for name, value in {**params, "Version": "2010-05-08"}.items())
    return http_request(url + "/", body.encode(), sign(url + "/", body.encode(), creds, "iam", FORM))


def writes(action: str, url: str, creds: tuple[str, str], users: list[str]) -> list[bytes]:
    """One signed ``action`` request per user."""
    params: Iterator[dict[str, str]]
    if action == "PutUserPolicy":
        params = ({"Action": action, "UserName": user, "PolicyName": "bench", "PolicyDocument": json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{user}/*"}]})}
            for user in users)
    else:
        params = ({"Action": action, "UserName": user} for user in users)
    return [signed_write(url, p, creds) for p in params]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=1000, help="writes per action, server and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    add_backend_arguments(parser)
    parser.set_defaults(backends="sqlite,postgres")
    args = parser.parse_args()
    backends = backends_of(args)
    if not shutil.which("moto_server"):
        sys.exit("moto's server is needed: pip install 'moto[server]'")

    from opensts.identity.ids import new_long_term_access_key_id

    workdir = Path(tempfile.mkdtemp(prefix="opensts-iam-write-bench-"))
    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    cluster = contextlib.ExitStack()
    try:
        urls = start_backends(backends, processes, workdir, account, root, args.workers, cluster)
        port = free_port()
        moto = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(moto)
        urls["moto"] = f"http://127.0.0.1:{port}"
        wait_until_up(urls["moto"], moto, "/moto-api/")

        batches = {server: 0 for server in urls}  # CreateUser's batches so far, per server

        def run(action: str, server: str, count: int) -> float:
            if action == "CreateUser":
                batches[server] += 1
            users = [f"bench-{batches[server]}-{n:05d}" for n in range(count)]
            requests = writes(action, urls[server], root, users)  # signed just before: good for 5 minutes
            batch = asyncio.run(send_all(urls[server], requests, args.connections))
            if batch.failed:
                raise RuntimeError(f"{action} on {server}: {batch.failed} of {batch.answered} answers were not 200, "
                                   f"e.g. {batch.failures}")
            return batch.answered / batch.seconds

        for action in ACTIONS:  # warm-up: connections, caches, the audit writer process
            for server in urls:
                run(action, server, max(1, args.writes // 10))
        measurements: dict[str, Callable[[], float]] = {
            f"{action} {server}": functools.partial(run, action, server, args.writes) for action in ACTIONS for server in urls}
        results = in_turns(measurements, args.rounds)

        labels = {**{backend: f"OpenSTS ({BACKENDS[backend]})" for backend in backends}, "moto": "moto_server"}
        print(f"IAM writes over HTTP, {args.rounds} rounds of {args.writes} writes per action and server, "
              f"{args.connections} connections, OpenSTS workers={args.workers}, {os.cpu_count()} cores")
        for action in ACTIONS:
            print(action)
            for server, label in labels.items():
                figures = results[f"{action} {server}"]
                rounds = ", ".join(f"{f:,.0f}" for f in figures)
                print(f"  {label:<34} {statistics.median(figures):>10,.0f} writes/s   (rounds: {rounds})")
            print("  ratios: of the medians; median of the rounds' (each round's)")
            for backend in backends:
                show_ratio(f"{labels[backend]} / moto", results[f"{action} {backend}"], results[f"{action} moto"])
            if len(backends) > 1:
                show_ratio("PostgreSQL / SQLite", results[f"{action} postgres"], results[f"{action} sqlite"])
    finally:
        stop_all(processes, workdir)
        cluster.close()


if __name__ == "__main__":
    main()
