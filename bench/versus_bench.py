"""This checkout's OpenSTS against another version of it, over HTTP, in turns (a change's effect).

    git worktree add /tmp/previous <commit>
    python bench/versus_bench.py --previous /tmp/previous/src [--action GetCallerIdentity] [--audit on]
                                 [--duration 5] [--rounds 9] [--connections 32]

Starts two ``opensts serve`` (one worker, SQLite, each its own data directory): this checkout's, and
one with ``PYTHONPATH`` at ``--previous`` (a ``src`` directory), plus, for GetCallerIdentity, the bare
Starlette hello of ``server_bench.py``; then measures each with ``wrk`` in turns, as
``server_bench.py`` does (every other round in the reverse order). Prints each server's rounds and
this / previous per round with its median, which is what a change is judged on: the two figures of a
round are seconds apart, so the machine's drift between rounds cancels out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from server_bench import in_turns, measure, prepare, show, start_hello, start_opensts, stop_all

THIS = str(Path(__file__).resolve().parent.parent / "src")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--previous", required=True, help="the other version's src directory")
    parser.add_argument("--action", choices=("GetCallerIdentity", "AssumeRole"), default="GetCallerIdentity")
    parser.add_argument("--audit", choices=("on", "off"), default="on")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not (Path(args.previous) / "opensts" / "__init__.py").is_file():
        sys.exit(f"{args.previous} holds no opensts package (give a checkout's src directory)")

    workdir = Path(tempfile.mkdtemp(prefix="opensts-versus-"))
    account = "123456789012"
    from opensts.identity.ids import new_long_term_access_key_id

    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    urls: dict[str, str] = {}
    try:
        for name, source in (("previous", args.previous), ("this", THIS)):
            data_dir = workdir / name
            data_dir.mkdir()
            settings = {"OPENSTS_AUDIT": args.audit, "PYTHONPATH": source}
            urls[name] = start_opensts(processes, data_dir, account, root, settings=settings)
        names = ["previous", "this"]
        if args.action == "GetCallerIdentity":
            urls["hello"] = start_hello(processes, workdir)
            names.append("hello")
        requests = {name: prepare(args.action, urls[name], *root) for name in ("previous", "this")}
        requests["hello"] = requests["previous"]
        results = in_turns({name: (lambda name=name: measure(urls[name], *requests[name], args, workdir))
                            for name in names}, args.rounds)
        print(f"{args.action} over HTTP, audit {args.audit}, {args.rounds} rounds of {args.duration}s, "
              f"{args.connections} connections, one worker each, {os.cpu_count()} cores")
        show(f"previous ({args.previous})", results["previous"])
        show("this checkout", results["this"])
        ratios = [this / previous for this, previous in zip(results["this"], results["previous"])]
        print(f"  this / previous per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.3f}")
        if "hello" in results:
            show("bare Starlette hello", results["hello"])
            for name in ("previous", "this"):
                per_round = [a / b for a, b in zip(results[name], results["hello"])]
                print(f"  {name} / hello per round, median {statistics.median(per_round):.3f}")
    finally:
        stop_all(processes, workdir)


if __name__ == "__main__":
    main()
