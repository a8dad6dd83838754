"""Console page loads for an account with 1,000 roles (issue 18: each under 200 ms on this machine).

    python bench/console_bench.py [--roles 1000] [--loads 30] [--backends sqlite,postgres]

Starts one OpenSTS per backend (``opensts serve``, one worker; SQLite in a temporary directory,
PostgreSQL on a throwaway cluster: ``bench/postgres.py``), creates ``--roles`` roles (each with a
trust policy and an inline policy) and as many users through the IAM API, signs in to the console
as root (the sign-in form, as a browser does), then loads each page ``--loads`` times, one after the
other (a person's clicks, not a load test), and prints each page's median, 95th percentile and
slowest load, measured by the client from the request to the last byte of the HTML.

No other server has this console, so the peer is the API itself: beside each page, the one API call
that lists the same data (``ListRoles``, ``ListUsers``...), signed by botocore and sent over HTTP the
same number of times. Their ratio is what the console adds to the call it is made of (in process:
signing, the in-process request, the page's other calls, and rendering the HTML).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from server_bench import add_backend_arguments, backends_of, start_backends  # noqa: E402

GOAL_MS = 200.0
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]})


def populate(url: str, root: tuple[str, str], count: int) -> None:
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root[0],
                       aws_secret_access_key=root[1], config=Config(retries={"max_attempts": 2}))
    for index in range(count):
        name = f"bench-role-{index:05d}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description=f"role {index}")
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=POLICY)
        iam.create_user(UserName=f"bench-user-{index:05d}")


def signed_in(url: str, root: tuple[str, str]) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    page = client.get("/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/console/signin", data={"csrf": csrf, "kind": "root", "access_key_id": root[0],
                                                  "secret_access_key": root[1]})
    assert answer.status_code == 303, answer.text
    return client


def timed(function, loads: int) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    times, status = [], 0
    for _ in range(loads):
        started = time.perf_counter()
        status = function()
        times.append((time.perf_counter() - started) * 1000)
    return times, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=30)
    add_backend_arguments(parser)
    args = parser.parse_args()
    backends = backends_of(args)

    from opensts.identity.ids import new_long_term_access_key_id

    workdir = Path(tempfile.mkdtemp(prefix="opensts-console-bench-"))
    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    cluster = contextlib.ExitStack()
    last = f"bench-role-{args.roles - 1:05d}"
    pages = [
        ("/console/", "Who am I", None),
        ("/console/roles", "Roles (first page)", ("ListRoles", {"MaxItems": 50})),
        (f"/console/roles?q={last}", "Roles, searching for the last", ("ListRoles", {"MaxItems": 50})),
        (f"/console/roles/{last}", "One role", ("GetRole", {"RoleName": last})),
        ("/console/users", "Users (first page)", ("ListUsers", {"MaxItems": 50})),
        ("/console/policies", "Policies", ("ListPolicies", {"Scope": "Local", "MaxItems": 50})),
        ("/console/simulator", "Simulator (form)", None),
        ("/console/sessions", "Sessions", None),
        ("/console/audit", "Audit", None),
    ]
    try:
        urls = start_backends(backends, processes, workdir, account, root, 1, cluster)
        for backend, url in urls.items():
            started = time.perf_counter()
            populate(url, root, args.roles)
            print(f"{backend}: {args.roles} roles and {args.roles} users created in {time.perf_counter() - started:.0f} s")
            iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root[0],
                               aws_secret_access_key=root[1])
            client = signed_in(url, root)
            try:
                print(f"\n{backend}: {args.loads} loads of each page, one at a time (ms)")
                print(f"  {'page':<32} {'status':>6} {'median':>8} {'p95':>8} {'max':>8}   API call alone: median   page / call")
                for path, label, api in pages:
                    client.get(path)  # warm-up
                    times, status = timed(lambda: client.get(path).status_code, args.loads)
                    median, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
                    line = f"  {label:<32} {status:>6} {median:>8.1f} {p95:>8.1f} {max(times):>8.1f}"
                    if api is not None:
                        action, params = api
                        operation = getattr(iam, re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower())
                        operation(**params)
                        call_times, _ = timed(lambda: operation(**params) and 200, args.loads)
                        call_median = statistics.median(call_times)
                        line += f"   {action:<14} {call_median:>7.1f}   {median / call_median:>5.2f}"
                    verdict = "" if status != 200 else ("  goal < 200 ms: met" if p95 < GOAL_MS else "  goal < 200 ms: NOT met")
                    print(line + verdict)
            finally:
                client.close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        cluster.close()


if __name__ == "__main__":
    main()
