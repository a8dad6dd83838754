"""What a crash loses: kill -9 OpenSTS under load, then count answered calls against recorded events.

    python bench/audit_crash.py [--load-seconds 4] [--kill-after 2] [--connections 32]

For each of GetCallerIdentity (its event is queued, not awaited) and AssumeRole (its response waits
for the commit), starts ``opensts serve`` (one worker, SQLite), drives it with ``wrk`` replaying one
signed request, sends SIGKILL to the server while the load runs, and then counts, in the store, the
events of that action against the 2xx answers wrk received. For AssumeRole the loss must be 0:
every credential handed out is on record. For GetCallerIdentity it is at most what was queued and
not yet committed when the process died (docs/AUDIT.md states the bound). The server runs as by
default: its audit writer process starts under the load, and commits what it received after the
kill; the count is taken once it has stopped growing.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from audit_bench import FORM, assume_role_setup, start  # noqa: E402
from authorize_bench import sign  # noqa: E402
from server_bench import stop_all  # noqa: E402


def wrk_answers(target: str, body: bytes, headers: dict[str, str], seconds: int, connections: int, workdir: Path) -> int:
    """2xx answers wrk received (it counts a request once its whole response arrived)."""
    lua = "\n".join(
        [f'wrk.method = "POST"', f"wrk.body = {body.decode()!r}".replace("'", '"')]
        + [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items() if k.lower() != "host"]
    )
    script = workdir / "crash.lua"
    script.write_text(lua + "\n")
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), target],
                         capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total - (int(non_2xx.group(1)) if non_2xx else 0)


def settled_count(path: Path, action: str) -> int:
    """The action's recorded events once the count stops growing: the killed server's audit writer
    (docs/AUDIT.md) commits the groups it had received before it exits."""
    last, stable_since = -1, time.monotonic()
    while True:
        database = sqlite3.connect(path)
        count = database.execute(
            "SELECT count(*) FROM audit_events WHERE event_name = ? AND error_code IS NULL", (action,)
        ).fetchone()[0]
        database.close()
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since > 2.0:
            return count
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load-seconds", type=int, default=4)
    parser.add_argument("--kill-after", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    from opensts.identity.ids import new_long_term_access_key_id

    account = "123456789012"
    root = (new_long_term_access_key_id(account), "benchmark" + "s" * 31)
    for action in ("GetCallerIdentity", "AssumeRole"):
        workdir = Path(tempfile.mkdtemp(prefix="opensts-audit-crash-"))
        url, process = start("on", workdir, account, root, None)
        try:
            if action == "AssumeRole":
                body, creds = assume_role_setup(url, root, "crash")
            else:
                body, creds = b"Action=GetCallerIdentity&Version=2011-06-15", root
            headers = sign(url + "/", body, creds, "sts", FORM)
            time.sleep(1.5)  # the set-up calls' events are committed
            killer = threading.Timer(args.kill_after, lambda: os.kill(process.pid, signal.SIGKILL))
            killer.start()
            answered = wrk_answers(url + "/", body, headers, args.load_seconds, args.connections, workdir)
            killer.join()
            process.wait()
            recorded = settled_count(workdir / "data-on" / "opensts.db", action)
            print(f"{action:<18} answered 2xx {answered:>7,}   recorded {recorded:>7,}   "
                  f"lost {max(0, answered - recorded):>5,}")
        finally:
            stop_all([process], workdir)


if __name__ == "__main__":
    main()
