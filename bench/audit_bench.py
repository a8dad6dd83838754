"""What the audit trail costs: throughput with it on and off, in one run, plus moto's server as the peer.

    python bench/audit_bench.py [--duration 10] [--rounds 3] [--connections 32,128] [--database-url URL]
                                [--cases gci,assume,authorize]

Starts three OpenSTS servers (``opensts serve``, one worker each) — ``on``: the audit trail as by
default (``--audit-writer auto``: a writer process once busy); ``inline``: the trail committing on
the event loop (``--audit-writer inline``, as before the writer process); ``off``: ``--audit off`` —
each with its own SQLite store in a temporary directory, or all on the PostgreSQL database of
``--database-url`` (as nodes would be); and moto's server.
Then drives them in turns with ``wrk`` replaying fixed signed requests:

* GetCallerIdentity (read-only: its event is queued, not awaited);
* AssumeRole (issues credentials: the response waits until its event is committed, group commit);
* /v1/authorize, Allow (a decision: queued, not awaited).

Each server is measured at each number of wrk connections in ``--connections``; its figure in a
round is the highest of them (its peak). Why more than one: a response that waits for its event's
commit comes a few milliseconds later, and 32 clients that each wait for their answer before asking
again then leave the server idle part of the time (measured: the loop of the audit-on server 85-88%
busy with 32 connections, 95% with 128) -- a closed loop of 32 measures that latency, not what the
server can do. Durability is meant to cost latency, not throughput (issue 14); the latency itself is
measured at a constant rate by ``bench/latency_bench.py``. The medians per number of connections are
printed too.

Prints median requests/s per server, the on/off ratio (issue 14's goals, for the default: AssumeRole
>= 0.8, GetCallerIdentity and /v1/authorize >= 0.9; judged on the median of each round's own on/off
ratio, as each round measures both servers back to back and the machine drifts between rounds; the
ratio of the medians is printed too), the inline/off ratio and OpenSTS (audit on) / moto,
and how busy each server's event loop was (its main thread's CPU time over the run, from /proc):
the loop of a server with the trail on that is less busy than with it off waits for the writer.
On this shared 2-core machine the ratios of one run can move by 0.1 from one run to the next; the
loop's busy share moves less.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from authorize_bench import authorize_call, measure, setup, sign  # noqa: E402
from server_bench import free_port, in_turns, show, show_ratio, stat_cpu_seconds, stop_all, wait_until_up  # noqa: E402

FORM = "application/x-www-form-urlencoded; charset=utf-8"
MODES = ("on", "inline", "off")


def start(mode: str, workdir: Path, account: str, root: tuple[str, str], database_url: str | None) -> tuple[str, subprocess.Popen]:  # type: ignore[type-arg]
    port = free_port()
    env = {
        # One PostgreSQL store: one data dir (its master key) for both servers, as for two nodes.
        **os.environ, "OPENSTS_DATA_DIR": str(workdir / ("data" if database_url else f"data-{mode}")), "OPENSTS_ACCOUNT_ID": account,
        "OPENSTS_ROOT_ACCESS_KEY_ID": root[0], "OPENSTS_ROOT_SECRET_ACCESS_KEY": root[1],
        "OPENSTS_LOG_LEVEL": "warning", "OPENSTS_AUDIT": "off" if mode == "off" else "on",
        "OPENSTS_AUDIT_WRITER": "inline" if mode == "inline" else "auto",
    }
    env.pop("OPENSTS_DATABASE_URL", None)
    if database_url:
        env["OPENSTS_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "opensts", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process, "/health")
    return url, process


def loop_seconds(process: subprocess.Popen) -> float:  # type: ignore[type-arg]
    """CPU seconds of the server's main thread (its event loop), from /proc (0 where there is none)."""
    try:
        return stat_cpu_seconds(f"/proc/{process.pid}/task/{process.pid}/stat")
    except OSError:
        return 0.0


def assume_role_setup(url: str, root: tuple[str, str], suffix: str) -> tuple[bytes, tuple[str, str]]:
    import boto3

    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root[0],
                       aws_secret_access_key=root[1])
    user = iam.create_user(UserName=f"bench-assumer-{suffix}")["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName=f"bench-role-{suffix}", AssumeRolePolicyDocument=trust)["Role"]
    body = f"Action=AssumeRole&RoleArn={quote(role['Arn'], safe='')}&RoleSessionName=bench&Version=2011-06-15"
    return body.encode(), (key["AccessKeyId"], key["SecretAccessKey"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="32,128", help="wrk connections, comma-separated: each server's figure is its peak")
    parser.add_argument("--database-url", default=None, help="PostgreSQL for both servers (default: SQLite each)")
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--cases", default="all", help="comma-separated: gci, assume, authorize (default: all)")
    args = parser.parse_args()
    connection_counts = [int(count) for count in args.connections.split(",")]
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    from opensts.identity.ids import new_long_term_access_key_id

    workdir = Path(tempfile.mkdtemp(prefix="opensts-audit-bench-"))
    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    try:
        urls, keys, assume = {}, {}, {}
        for audit in MODES:
            url, process = start(audit, workdir, account, root, args.database_url)
            processes.append(process)
            urls[audit] = url
            suffix = f"{audit}-{os.getpid()}"
            if args.database_url and audit != "on":
                keys[audit], assume[audit] = keys["on"], assume["on"]  # one store: the same users
                continue
            keys[audit] = setup(url, root)
            assume[audit] = assume_role_setup(url, root, suffix)
        moto_url = None
        if not args.no_moto and shutil.which("moto_server"):
            port = free_port()
            moto = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(moto)
            moto_url = f"http://127.0.0.1:{port}"
            wait_until_up(moto_url, moto, "/moto-api/")
        gci = b"Action=GetCallerIdentity&Version=2011-06-15"

        def gci_run(url: str, creds: tuple[str, str]) -> float:
            return measure(url + "/", gci, sign(url + "/", gci, creds, "sts", FORM), args, workdir)

        def assume_run(url: str, body: bytes, creds: tuple[str, str]) -> float:
            return measure(url + "/", body, sign(url + "/", body, creds, "sts", FORM), args, workdir, "SessionToken")

        def authorize_run(url: str, service: tuple[str, str], alice: tuple[str, str]) -> float:
            body, headers = authorize_call(url, service, alice, account, "ec2:StopInstances")
            return measure(url + "/v1/authorize", body, headers, args, workdir, '"Allow"')

        cases = {
            "GetCallerIdentity": (lambda audit: gci_run(urls[audit], keys[audit][1]), 0.9),
            "AssumeRole": (lambda audit: assume_run(urls[audit], *assume[audit]), 0.8),
            "/v1/authorize Allow": (lambda audit: authorize_run(urls[audit], *keys[audit]), 0.9),
        }
        chosen = {"gci": "GetCallerIdentity", "assume": "AssumeRole", "authorize": "/v1/authorize Allow"}
        if args.cases != "all":
            picked = {case.strip() for case in args.cases.split(",")}
            if picked - chosen.keys():
                parser.error(f"--cases: unknown {', '.join(sorted(picked - chosen.keys()))} (gci, assume, authorize)")
            wanted = {chosen[case] for case in picked}
            cases = {name: case for name, case in cases.items() if name in wanted}
        print(f"Audit trail on vs off, {args.rounds} rounds of {args.duration}s, peak of {args.connections} connections, "
              f"one worker each, wrk 1 thread, {os.cpu_count()} cores, store: "
              f"{'PostgreSQL' if args.database_url else 'SQLite'}")
        servers = dict(zip(MODES, processes))
        for name, (run, goal) in cases.items():
            busy: dict[str, list[float]] = {audit: [] for audit in MODES}

            by_connections: dict[tuple[str, int], list[float]] = {}

            def timed(audit: str, run: Callable[[str], float] = run, busy: dict[str, list[float]] = busy,
                      by_connections: dict[tuple[str, int], list[float]] = by_connections) -> float:
                """The server's peak over the numbers of connections (and its loop's busy share there)."""
                peak, peak_busy = 0.0, 0.0
                for count in connection_counts:
                    args.connections = count  # measure() reads it
                    # Warm-up included: wrk's own start is a small share of the run either way.
                    before, started = loop_seconds(servers[audit]), time.monotonic()
                    rate = run(audit)
                    share = (loop_seconds(servers[audit]) - before) / (time.monotonic() - started)
                    by_connections.setdefault((audit, count), []).append(rate)
                    if rate > peak:
                        peak, peak_busy = rate, share
                busy[audit].append(peak_busy)
                return peak

            runs = {audit: (lambda audit=audit: timed(audit)) for audit in MODES}
            if moto_url and name == "GetCallerIdentity":
                from server_bench import measure as moto_measure

                def moto_run() -> float:
                    args.connections = connection_counts[0]
                    return moto_measure(moto_url, gci.decode(), root[0], root[1], args, workdir)

                runs["moto"] = moto_run
            results = in_turns(runs, args.rounds)
            print(name)
            on, off = show("audit on", results["on"]), show("audit off", results["off"])
            inline = show("audit on, --audit-writer inline", results["inline"])
            show_ratio("on / off; median of the rounds'", results["on"], results["off"], goal)
            print(f"  {'inline / off':<34} {inline / off:>10.2f}")
            shares = ", ".join(f"{audit} {100 * statistics.median(busy[audit]):.0f}%" for audit in MODES)
            print(f"  {'event loop busy at the peak':<34} {shares}")
            if len(connection_counts) > 1:
                for count in connection_counts:
                    medians = {audit: statistics.median(by_connections[(audit, count)]) for audit in MODES}
                    print(f"  {count:>4} connections: on {medians['on']:,.0f}, off {medians['off']:,.0f}, "
                          f"inline {medians['inline']:,.0f} req/s; on / off {medians['on'] / medians['off']:.2f}")
            if "moto" in results:
                moto_rate = show("moto_server", results["moto"])
                print(f"  {'audit on / moto':<34} {on / moto_rate:>10.1f}x")
    finally:
        stop_all(processes, workdir)


if __name__ == "__main__":
    main()
