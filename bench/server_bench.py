"""HTTP throughput of OpenSTS against moto's server and a bare Starlette endpoint, in one run.

    python bench/server_bench.py [--duration 10] [--rounds 3] [--connections 32] [--workers 1] [--action GetCallerIdentity]
                                 [--postgres | --backends sqlite,postgres]

Starts three servers on loopback, each one process:
  * OpenSTS (``opensts serve``, SQLite in a temporary directory, N workers; with ``--postgres``, on a
    throwaway PostgreSQL cluster instead (``bench/postgres.py``: fsync on); with ``--backends
    sqlite,postgres``, one OpenSTS on each, measured in the same rounds, and the ratio PostgreSQL /
    SQLite printed per action; AssumeRole waits for its audit event's commit, so its ratio includes the
    stores' commit cost, GetCallerIdentity's only the queued event's),
  * moto's server (``moto_server``), the peer,
  * a bare Starlette "hello" endpoint on the same uvicorn setup (our practical ceiling),
  * with ``--decompose`` (GetCallerIdentity only), two steps between the hello and OpenSTS: the hello
    served by OpenSTS's own HTTP protocol (``server/serving.py``: its timeouts and connection cap), and
    that plus the least every authenticated request costs (the request read as SigV4 sees it and its
    signature verified by ``server/sigv4.py``, nothing else: no key lookup, no action, no XML),
then drives each with ``wrk`` (Debian package ``wrk``) replaying one SigV4-signed request. A
header-signed request stays valid for the 5-minute clock skew, so the load generator does no
signing and every server gets byte-identical requests. This machine's speed drifts from minute to
minute, so the servers take turns: ``--rounds`` rounds, each measuring every server once. Prints each
server's median requests/s (and every round's figure) and the ratios of the medians.

**CPU per request.** Beside each server's requests/s the script prints the CPU time its processes
spent per request during the measurement (user + system, read from ``/proc``: the server process and
its children, such as the audit writer, and for OpenSTS on PostgreSQL the cluster's processes too),
and the ratios of these costs: for GetCallerIdentity, hello / OpenSTS (the requests/s ratio's
counterpart), and PostgreSQL / SQLite as SQLite's cost over PostgreSQL's. Requests/s on a shared
2-core machine move by tens of percent between rounds; what a request costs the server moves far
less (session 16: 90-102 µs per GetCallerIdentity where requests/s read 6,700-11,400), so the
costs say whether two servers differ when the rates cannot. They leave out what waiting costs (a
server that idles while its requests wait for a lock or a commit is cheap and slow).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlsplit

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HELLO_APP = textwrap.dedent(
    """
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def hello(request):
        await request.body()
        return Response(b"hello", media_type="text/plain")

    app = Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])
    """
)

# --decompose: the hello on OpenSTS's HTTP protocol ("edge"), and with a SigV4 verification ("sigv4").
EDGE_HELLO_APP = textwrap.dedent(
    """
    import os
    import sys

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from opensts.errors import AwsError
    from opensts.server.serving import LimitedHttpToolsProtocol
    from opensts.server.sigv4 import parse_signature, verify_signature
    from opensts.server.wire import read_http_request

    SECRET = os.environ["BENCH_SECRET"]

    async def hello(request):
        await request.body()
        return Response(b"hello", media_type="text/plain")

    async def hello_sigv4(request):
        http_request = await read_http_request(request.scope, request.receive)
        try:
            verify_signature(http_request, parse_signature(http_request), SECRET)
        except AwsError as error:
            return Response(error.message, status_code=403, media_type="text/plain")
        return Response(b"hello", media_type="text/plain")

    app = Starlette(routes=[Route("/", hello_sigv4 if sys.argv[2] == "sigv4" else hello, methods=["GET", "POST"])])
    uvicorn.run(app, port=int(sys.argv[1]), http=LimitedHttpToolsProtocol, ws="none", access_log=False,
                log_level="warning", server_header=False)
    """
)
DECOMPOSITION = {"edge": "hello on OpenSTS's protocol", "sigv4": "  + SigV4 verification"}

ACTIONS = ("GetCallerIdentity", "AssumeRole")
BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
# URL -> the processes whose CPU time (theirs and their descendants') a request to it costs:
# filled as each server starts, read by measure().
CPU_ROOTS: dict[str, list[int]] = {}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def stat_cpu_seconds(stat_path: str) -> float:
    """User + system CPU seconds in a ``/proc/PID/stat`` or ``/proc/PID/task/TID/stat`` file."""
    fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds of the processes ``roots`` and all their descendants, now (Linux)."""
    total, pending, seen = 0.0, list(roots), set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            total += stat_cpu_seconds(f"/proc/{pid}/stat")
            for task in os.listdir(f"/proc/{pid}/task"):
                pending += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):  # gone meanwhile: its time is lost
            continue
    return total


def prepare(action: str, url: str, root_key: str, root_secret: str) -> tuple[str, str, str]:
    """The request body and the key that signs it; for AssumeRole, a user and a role it may assume."""
    if action == "GetCallerIdentity":
        return "Action=GetCallerIdentity&Version=2011-06-15", root_key, root_secret
    import boto3

    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=root_key,
                       aws_secret_access_key=root_secret)
    user = iam.create_user(UserName="bench-user")["User"]
    key = iam.create_access_key(UserName="bench-user")["AccessKey"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=trust)["Role"]
    body = f"Action=AssumeRole&RoleArn={quote(role['Arn'], safe='')}&RoleSessionName=bench&Version=2011-06-15"
    return body, key["AccessKeyId"], key["SecretAccessKey"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, path: str = "/") -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            httpx.get(url + path, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start_opensts(processes: list[subprocess.Popen], data_dir: Path, account: str, root: tuple[str, str],  # type: ignore[type-arg]
                  database_url: str | None = None, workers: int = 1, settings: dict[str, str] | None = None) -> str:
    """``opensts serve`` on a free loopback port (added to ``processes`` at once, to be stopped), its
    store SQLite in ``data_dir`` or the PostgreSQL database ``database_url`` (then ``data_dir`` holds
    only the master key: nodes of one database share it), with the ``OPENSTS_*`` ``settings`` given;
    its URL once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "OPENSTS_DATA_DIR": str(data_dir),
        "OPENSTS_ACCOUNT_ID": account,
        "OPENSTS_ROOT_ACCESS_KEY_ID": root[0],
        "OPENSTS_ROOT_SECRET_ACCESS_KEY": root[1],
        "OPENSTS_LOG_LEVEL": "warning",
        **(settings or {}),
    }
    env.pop("OPENSTS_DATABASE_URL", None)
    if database_url:
        env["OPENSTS_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [sys.executable, "-m", "opensts", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process, "/health")
    CPU_ROOTS[url] = [process.pid]
    if database_url:
        from postgres import postmaster_pid  # not at the top: bench/postgres.py imports this module

        cluster = postmaster_pid(database_url)
        if cluster is not None:  # a cluster of bench/postgres.py's: its work for this server counts too
            CPU_ROOTS[url].append(cluster)
    return url


def start_hello(processes: list[subprocess.Popen], workdir: Path, step: str | None = None,  # type: ignore[type-arg]
                secret: str = "") -> str:
    """The bare Starlette hello on a free loopback port (added to ``processes``), run from ``workdir``;
    with ``step`` (a key of :data:`DECOMPOSITION`), the hello on OpenSTS's protocol, verifying SigV4
    signatures made with ``secret`` for ``"sigv4"``. Its URL once it answers."""
    port = free_port()
    if step is None:
        (workdir / "hello_app.py").write_text(HELLO_APP)
        command = [sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(port), "--no-access-log",
                   "--log-level", "warning", "--no-server-header"]
    else:
        (workdir / "edge_hello.py").write_text(EDGE_HELLO_APP)
        command = [sys.executable, "edge_hello.py", str(port), step]
    process = subprocess.Popen(command, cwd=workdir, env={**os.environ, "BENCH_SECRET": secret},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    CPU_ROOTS[url] = [process.pid]
    return url


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", action="store_true",
                        help="OpenSTS on a throwaway PostgreSQL cluster (bench/postgres.py) instead of SQLite")
    parser.add_argument("--backends", default="sqlite",
                        help="stores to measure in the same rounds, comma-separated: sqlite, postgres")


def backends_of(args: argparse.Namespace) -> list[str]:
    backends = ["postgres"] if args.postgres else args.backends.split(",")
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        sys.exit(f"unknown backend(s): {', '.join(sorted(unknown))}; choose from {', '.join(BACKENDS)}")
    return backends


def database_for(backends: list[str], cluster: contextlib.ExitStack) -> str | None:
    """The URL of a throwaway PostgreSQL database if ``backends`` has it, stopped when ``cluster`` closes."""
    if "postgres" not in backends:
        return None
    from postgres import throwaway_postgres  # not at the top: bench/postgres.py imports this module

    return cluster.enter_context(throwaway_postgres())


def start_backends(backends: list[str], processes: list[subprocess.Popen], workdir: Path, account: str,  # type: ignore[type-arg]
                   root: tuple[str, str], workers: int, cluster: contextlib.ExitStack) -> dict[str, str]:
    """One OpenSTS per backend (SQLite in ``workdir``; PostgreSQL on a throwaway cluster, stopped when
    ``cluster`` closes): their URLs by backend."""
    database_url = database_for(backends, cluster)
    return {backend: start_opensts(processes, workdir / f"data-{backend}", account, root,
                                   database_url if backend == "postgres" else None, workers)
            for backend in backends}


def show_ratio(name: str, figures: list[float], bases: list[float], goal: float | None = None) -> None:
    """The ratio of the medians of ``figures`` and ``bases``, and the median of the rounds' ratios
    (each round's two figures were taken seconds apart), which the goal is judged on: it is free of
    the drift between rounds (this machine's speed moves by tens of percent over minutes)."""
    paired = [a / b for a, b in zip(figures, bases)]
    each = ", ".join(f"{r:.2f}" for r in paired)
    verdict = "" if goal is None else f"   goal >= {goal}: {'met' if statistics.median(paired) >= goal else 'NOT met'}"
    print(f"  {name:<34} {statistics.median(figures) / statistics.median(bases):>10.2f}; "
          f"{statistics.median(paired):.2f} ({each}){verdict}")


def signed_request(url: str, body: str, key_id: str, secret: str, token: str | None = None) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key_id, secret, token), "sts", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def wrk(target: str, body: str | bytes, headers: dict[str, str], duration: int, connections: int, workdir: Path) -> float:
    """Requests/s of ``wrk`` POSTing ``body`` with ``headers`` to the full URL ``target``."""
    text = body.decode() if isinstance(body, bytes) else body
    lua_headers = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items() if k.lower() != "host")
    return _run_wrk(target, f'wrk.method = "POST"\nwrk.body = {json.dumps(text)}\n{lua_headers}\n', duration, connections, workdir)


def wrk_cycle(target: str, requests: list[tuple[bytes, dict[str, str]]], duration: int, connections: int,
              workdir: Path) -> float:
    """Like :func:`wrk`, sending the given signed requests in turn (formatted once, when the script loads)."""
    lines = ["local requests = {}"]
    host = urlsplit(target).netloc  # wrk.headers has no Host yet while the script loads
    for n, (body, headers) in enumerate(requests, 1):
        fields = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in {**headers, "Host": host}.items()
                           if k != "host")
        lines.append(f"requests[{n}] = wrk.format(\"POST\", nil, {{{fields}}}, {json.dumps(body.decode())})")
    lines.append("local n = 0")
    lines.append("function request() n = n % #requests + 1 return requests[n] end")
    return _run_wrk(target, "\n".join(lines) + "\n", duration, connections, workdir)


def _run_wrk(target: str, script_text: str, duration: int, connections: int, workdir: Path) -> float:
    script = workdir / "request.lua"
    script.write_text(script_text)
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "-s", str(script), target],
        capture_output=True, text=True, check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{target}: {non_2xx.group(1)} error responses during the run:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def stop_all(processes: list[subprocess.Popen], workdir: Path) -> None:  # type: ignore[type-arg]
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(workdir, ignore_errors=True)


def measure(url: str, body: str, key_id: str, secret: str, args: argparse.Namespace, workdir: Path,
            costs: list[float] | None = None) -> float:
    """Requests/s of ``url`` replaying the signed ``body``; appends to ``costs`` the µs of CPU per
    request its processes spent (those :data:`CPU_ROOTS` knows for ``url``)."""
    headers = signed_request(url, body, key_id, secret)
    check = httpx.post(url + "/", content=body, headers=headers)
    if check.status_code != 200:
        raise RuntimeError(f"{url} answered {check.status_code}: {check.text[:300]}")
    wrk(url + "/", body, headers, 2, args.connections, workdir)  # warm-up
    roots = CPU_ROOTS.get(url, []) if costs is not None else []
    before = tree_cpu_seconds(roots)
    rate = wrk(url + "/", body, headers, args.duration, args.connections, workdir)
    if roots and costs is not None:
        requests = rate * args.duration  # wrk's rate is its requests over its duration
        costs.append((tree_cpu_seconds(roots) - before) / requests * 1e6)
    return rate


def in_turns(measurements: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Every measurement once per round, in turn, so that drift in the machine's speed hits all alike.
    Every other round goes in the reverse order: no measurement always comes first, or always right
    after the same other one (a server's background work, like an audit writer catching up, lands on
    whichever runs next)."""
    results: dict[str, list[float]] = {name: [] for name in measurements}
    order = list(measurements.items())
    for round_number in range(rounds):
        for name, run in (order if round_number % 2 == 0 else order[::-1]):
            results[name].append(run())
    return results



def show(name: str, figures: list[float], costs: list[float] | None = None) -> float:
    """Print the median requests/s and each round's; with ``costs``, the CPU per request too."""
    median = statistics.median(figures)
    rounds = ", ".join(f"{f:,.0f}" for f in figures)
    print(f"  {name:<34} {median:>10,.0f} req/s   (rounds: {rounds})")
    if costs:
        each = ", ".join(f"{c:.0f}" for c in costs)
        print(f"  {'  CPU per request':<34} {statistics.median(costs):>10.0f} µs      (rounds: {each})")
    return median


def show_cost_ratio(name: str, costs: list[float], bases: list[float], goal: float | None = None) -> None:
    """Like :func:`show_ratio`, of CPU per request, as the base's cost / the server's (so that, as
    with requests/s, above 1 means the server does more with the same CPU)."""
    if costs and bases and len(costs) == len(bases):
        show_ratio(f"{name} (by CPU per request)", bases, costs, goal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--action", choices=ACTIONS + ("all",), default="all")
    parser.add_argument("--decompose", action="store_true",
                        help="GetCallerIdentity: also the hello on OpenSTS's HTTP protocol, and with SigV4 verification")
    add_backend_arguments(parser)
    args = parser.parse_args()
    backends = backends_of(args)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if not shutil.which("moto_server"):
        sys.exit("moto's server is needed: pip install 'moto[server]'")

    workdir = Path(tempfile.mkdtemp(prefix="opensts-bench-"))
    key_id, secret = "AKIAZZZZZZZZZZZZZZZZ", "benchmark" + "s" * 31
    account = "123456789012"
    from opensts.identity.ids import new_long_term_access_key_id

    key_id = new_long_term_access_key_id(account)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    cluster = contextlib.ExitStack()
    try:
        urls = start_backends(backends, processes, workdir, account, (key_id, secret), args.workers, cluster)
        moto_port = free_port()
        moto = subprocess.Popen(["moto_server", "-p", str(moto_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(moto)
        urls["moto"] = f"http://127.0.0.1:{moto_port}"
        wait_until_up(urls["moto"], moto, "/moto-api/")
        CPU_ROOTS[urls["moto"]] = [moto.pid]
        urls["hello"] = start_hello(processes, workdir)
        steps = tuple(DECOMPOSITION) if args.decompose else ()
        for step in steps:
            urls[step] = start_hello(processes, workdir, step, secret)

        actions = ACTIONS if args.action == "all" else (args.action,)
        for action in actions:
            # Each store gets its own user and role; moto verifies no signature, any key will do.
            requests = {backend: prepare(action, urls[backend], key_id, secret) for backend in backends}
            for peer in ("moto", "hello", *steps):
                requests[peer] = requests[backends[0]]
            peers = (*backends, "moto", "hello", *steps) if action == "GetCallerIdentity" else (*backends, "moto")
            costs: dict[str, list[float]] = {name: [] for name in peers}  # this action's CPU per request
            results = in_turns(
                {name: (lambda name=name: measure(urls[name], *requests[name], args, workdir, costs[name]))
                 for name in peers},
                args.rounds,
            )
            print(f"{action} over HTTP, {args.rounds} rounds of {args.duration}s, {args.connections} connections, "
                  f"OpenSTS workers={args.workers}, wrk 1 thread, {os.cpu_count()} cores")
            moto_rate = statistics.median(results["moto"])
            for backend in backends:
                opensts_rate = show(f"OpenSTS ({BACKENDS[backend]})", results[backend], costs[backend])
                print(f"  {'OpenSTS / moto':<30} {opensts_rate / moto_rate:>10.1f}x")
                if "hello" in results:
                    hello_rate = statistics.median(results["hello"])
                    print(f"  {'OpenSTS / Starlette hello':<30} {opensts_rate / hello_rate:>10.2f}")
            show("moto_server", results["moto"], costs["moto"])
            if "hello" in results:
                hello_rate = show("bare Starlette hello", results["hello"], costs["hello"])
                for step in steps:
                    step_rate = show(DECOMPOSITION[step], results[step], costs[step])
                    print(f"  {'  / Starlette hello':<30} {step_rate / hello_rate:>10.2f}")
                print("  / hello by CPU per request: of the medians; median of the rounds' (each round's)")
                for name in (*backends, *steps):
                    label = f"OpenSTS ({BACKENDS[name]})" if name in BACKENDS else DECOMPOSITION[name].strip()
                    show_cost_ratio(label, costs[name], costs["hello"])
            if len(backends) > 1:
                print("  PostgreSQL / SQLite: of the medians; median of the rounds' (each round's), which a goal is judged on")
                show_ratio(action, results["postgres"], results["sqlite"],
                           0.95 if action == "GetCallerIdentity" else None)
                show_cost_ratio(action, costs["postgres"], costs["sqlite"])
    finally:
        stop_all(processes, workdir)
        cluster.close()


if __name__ == "__main__":
    main()
