"""A throwaway PostgreSQL cluster for a benchmark: :func:`throwaway_postgres` yields the URL of its
one fresh database.

    with throwaway_postgres() as url:   # postgresql://postgres@127.0.0.1:PORT/bench
        ...

The newest installed server (``/usr/lib/postgresql/*/bin``, Debian's layout) is ``initdb``-ed into a
temporary directory (owned by the ``postgres`` user when run as root: the server refuses to run as
root), trust authentication, UTF-8, and started with ``pg_ctl`` on a free loopback port, its Unix
socket in the same directory. The settings are the server's defaults, ``fsync`` and
``synchronous_commit`` on: a commit waits for its WAL to reach the disk, as it would in production.
At the end (also on error) the server is stopped (``-m fast``) and the directory removed. Every use
is a new cluster, so nothing carries over from one benchmark or run to the next.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_bench import free_port  # noqa: E402

DATABASE = "bench"
_DATA_DIRS: dict[str, Path] = {}  # URL -> its running cluster's data directory


def postgres_bin() -> Path:
    """The bin directory of the newest installed PostgreSQL."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))
    if not found:
        sys.exit("PostgreSQL is needed: apt-get install postgresql")
    return found[-1]


def postmaster_pid(url: str) -> int | None:
    """The process id of the server of :func:`throwaway_postgres`'s ``url`` (its backends are its
    children), or None for a database this module did not start."""
    data = _DATA_DIRS.get(url)
    if data is None:
        return None
    return int((data / "postmaster.pid").read_text().split()[0])  # its first line


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a new cluster; yield the URL of an empty database on it; stop and remove it after."""
    bin_dir = postgres_bin()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    workdir = Path(tempfile.mkdtemp(prefix="opensts-bench-pg-"))
    data = workdir / "data"
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
    started = False
    try:
        if as_postgres:
            shutil.chown(workdir, "postgres", "postgres")

        def run(*command: str) -> None:
            done = subprocess.run([*as_postgres, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if done.returncode:
                log = workdir / "server.log"
                raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()}"
                                   + (f"\n{log.read_text()}" if log.exists() else ""))

        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        started = True  # from here on, stop it even if the start itself fails half-way
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "server.log"), "-w", "start",
            "-o", f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1")
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", DATABASE)
        _DATA_DIRS[url] = data
        yield url
    finally:
        _DATA_DIRS.pop(url, None)
        if started:
            subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)
