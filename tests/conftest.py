"""Shared fixtures: a real OpenSTS server process per storage backend, and boto3 clients for it.

The server tests run against SQLite always, and against PostgreSQL too when
``OPENSTS_TEST_POSTGRES_URL`` names a server where the tests may create databases (CI sets it).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3
import httpx
import pytest
from botocore.config import Config

from opensts.identity import ids

POSTGRES_URL = os.environ.get("OPENSTS_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_postgres_database() -> str:
    """Create an empty database on the test PostgreSQL server and return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL
    name = f"opensts_test_{uuid.uuid4().hex[:12]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.set(database=name).render_as_string(hide_password=False)


def database_url_for(backend: str, data_dir: Path) -> str:
    if backend == "postgres":
        return fresh_postgres_database()
    return f"sqlite:///{data_dir / 'opensts.db'}"


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


@dataclass
class ServerInfo:
    url: str
    backend: str
    data_dir: Path
    database_url: str
    account_id: str
    root: Credentials
    clock_file: Path
    process: subprocess.Popen  # type: ignore[type-arg]

    def env(self) -> dict[str, str]:
        """Environment for CLI processes that share this server's store."""
        return {**os.environ, "OPENSTS_DATA_DIR": str(self.data_dir), "OPENSTS_DATABASE_URL": self.database_url}

    def client(self, service: str, credentials: Credentials | None = None, **kwargs):  # type: ignore[no-untyped-def]
        creds = credentials or self.root
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
            config=Config(retries={"max_attempts": 1}, **kwargs),
        )

    def set_clock_offset(self, seconds: float) -> None:
        """Move the server's clock (test-only setting OPENSTS_TEST_CLOCK_FILE)."""
        self.clock_file.write_text(str(seconds))


def start_server(tmp_path: Path, backend: str, extra_env: dict[str, str] | None = None,
                 https: ssl.SSLContext | None = None) -> ServerInfo:
    """Start a server; with ``https`` (the client's TLS context: CA, client certificate) it serves TLS
    (set OPENSTS_TLS_* in ``extra_env``) and its url is https."""
    data_dir = tmp_path / f"data-{backend}"
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = database_url_for(backend, data_dir)
    account_id = ids.new_account_id()
    root = Credentials(ids.new_long_term_access_key_id(account_id), ids.new_secret_access_key())
    clock_file = data_dir / "test-clock-offset"
    clock_file.write_text("0")
    port = free_port()
    env = {
        **os.environ,
        "OPENSTS_DATA_DIR": str(data_dir),
        "OPENSTS_DATABASE_URL": database_url,
        "OPENSTS_ACCOUNT_ID": account_id,
        "OPENSTS_ROOT_ACCESS_KEY_ID": root.access_key_id,
        "OPENSTS_ROOT_SECRET_ACCESS_KEY": root.secret_access_key,
        "OPENSTS_TEST_CLOCK_FILE": str(clock_file),
        **(extra_env or {}),
    }
    log_file = open(data_dir / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "opensts", "serve", "--port", str(port)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    url = f"{'https' if https else 'http'}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {(data_dir / 'server.log').read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1, verify=https or True).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start: {(data_dir / 'server.log').read_text()}")
        time.sleep(0.1)
    return ServerInfo(url, backend, data_dir, database_url, account_id, root, clock_file, process)


def stop_server(server: ServerInfo) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    info = start_server(tmp_path_factory.mktemp("server"), request.param)
    yield info
    stop_server(info)


@pytest.fixture
def clock(server: ServerInfo) -> Iterator[ServerInfo]:
    """The server, with its clock reset to real time after the test."""
    yield server
    server.set_clock_offset(0)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url_for(request.param, tmp_path)


@pytest.fixture
def sts(server: ServerInfo):  # type: ignore[no-untyped-def]
    return server.client("sts")


def random_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def aws_cli(
    server: ServerInfo, tmp_path: Path, *args: str, credentials: Credentials | None = None, current_model: bool = False
) -> dict[str, Any]:
    """Run the AWS CLI (``python -m awscli ARGS --endpoint-url SERVER --output json``) with
    ``credentials`` (the root's by default) and no config or credentials file of the machine's;
    its JSON answer ({} when it prints nothing). Fails the test if the CLI fails.

    ``current_model``: the CLI installed here vendors an older botocore; give it the model of the
    service ``args[0]`` from the botocore boto3 uses, through AWS_DATA_PATH, as a user with an
    older CLI would (for operations newer than the CLI)."""
    creds = credentials or server.root
    extra: dict[str, str] = {}
    if current_model:
        import gzip

        import botocore

        versions = sorted((Path(botocore.__file__).parent / "data" / args[0]).iterdir())
        version = versions[-1].name
        source = versions[-1] / "service-2.json.gz"
        target = tmp_path / "models" / args[0] / version
        target.mkdir(parents=True, exist_ok=True)
        (target / "service-2.json").write_bytes(gzip.decompress(source.read_bytes()))
        extra["AWS_DATA_PATH"] = str(tmp_path / "models")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        **extra,
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    if creds.session_token:
        env["AWS_SESSION_TOKEN"] = creds.session_token
    out = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.url, "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}
