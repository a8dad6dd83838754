"""Helpers for the deployment tests: `opensts serve` nodes on one store, and nginx in front of them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerInfo, free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


@dataclass
class Node:
    process: subprocess.Popen  # type: ignore[type-arg]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def spawn_node(env: dict[str, str], log: Path, *args: str) -> Node:
    """Start `opensts serve` on a free port (not waiting for it)."""
    port = free_port()
    out = open(log, "wb")
    process = subprocess.Popen([sys.executable, "-m", "opensts", "serve", "--port", str(port), *args],
                               env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return Node(process, f"http://127.0.0.1:{port}", log)


def wait_ready(node: Node, seconds: float = 60) -> dict:  # type: ignore[type-arg]
    """Poll GET /ready until it answers 200; the answer's JSON. Fails if the node exits or never is."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise AssertionError(f"node exited ({node.process.returncode}): {node.log.read_text()}")
        try:
            response = httpx.get(node.url + "/ready", timeout=2)
            last = response.text
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    node.process.kill()
    raise AssertionError(f"node never became ready (last answer {last}): {node.log.read_text()}")


def another_node(server: ServerInfo, log_name: str, *args: str) -> Node:
    """A second `opensts serve` on ``server``'s store and master key (its data dir holds the key)."""
    env = {**server.env(), "OPENSTS_TEST_CLOCK_FILE": str(server.clock_file)}
    return spawn_node(env, server.data_dir / log_name, *args)


def nginx_config(prefix: Path, port: int, upstreams: list[str], access_log: Path) -> str:
    """nginx in front of ``upstreams`` (host:port), as docs/DEPLOY.md sets it up: Host preserved
    (SigV4 signs it), the client's address appended to X-Forwarded-For, X-Forwarded-Proto set,
    kept-alive upstream connections. The access log names the upstream that served each request."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    servers = "".join(f"        server {u};\n" for u in upstreams)
    return f"""{user}daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$upstream_addr $status $request_method';
    access_log {access_log} upstream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream opensts {{
{servers}        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://opensts;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def start_nginx(prefix: Path, upstreams: list[str]) -> tuple[subprocess.Popen, str, Path]:  # type: ignore[type-arg]
    """(process, URL, access log) of an nginx on a free loopback port; skips when nginx is missing
    (fails in CI, which installs it)."""
    if NGINX is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (.ci/run installs it)")
        pytest.skip("nginx is not installed (/usr/sbin/nginx); .ci/run installs it")
    port = free_port()
    access_log = prefix / "access.log"
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, upstreams, access_log))
    process = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = prefix / "error.log"
                pytest.fail(f"nginx did not start: {error.read_text() if error.exists() else ''}")
            time.sleep(0.05)
    return process, f"http://127.0.0.1:{port}", access_log
