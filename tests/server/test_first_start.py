"""First start and the commands that open a store, over real processes (`python -m opensts ...`).

Each refused start must exit non-zero with one line on stderr (no traceback) and leave everything as
it was: no directory, file, database or master key created, no file overwritten.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opensts.config import Settings
from opensts.runtime import open_runtime
from tests.conftest import POSTGRES_URL, free_port, fresh_postgres_database

STORE_COMMANDS = [
    ("account", "list"),
    ("account", "create", "--name", "typo"),
    ("keys", "rotate"),
    ("keys", "list"),
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTS_")}
    return {**env, **extra}


def opensts(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opensts", *args], env=env or clean_env(), cwd=cwd,
        capture_output=True, text=True, timeout=timeout,
    )


def serve(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`opensts serve` that must refuse to start; a server that starts instead fails the test."""
    process = subprocess.Popen(
        [sys.executable, "-m", "opensts", "serve", "--port", str(free_port()), *args],
        env=env or clean_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the server started instead of refusing: {err}")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def assert_refused(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory`` with its content and mtime (SQLite's transient -wal/-shm aside)."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def postgres_tables(url: str) -> list[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()
    return [r[0] for r in rows]


def first_start(data_dir: Path, database_url: str | None = None) -> None:
    """A store initialised as `opensts serve` does it (default account, root-credentials file)."""
    runtime = open_runtime(Settings(data_dir=data_dir, database_url=database_url))
    runtime.close()
    assert (data_dir / "root-credentials").is_file()


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    first_start(data_dir)
    return data_dir


# --- root credentials are never overwritten ----------------------------------------------------------
def test_serve_with_another_sqlite_database_keeps_the_root_credentials(existing: Path, tmp_path: Path) -> None:
    before = snapshot(existing)
    other = tmp_path / "other" / "x.db"
    done = serve("--data-dir", str(existing), "--database-url", f"sqlite:///{other}")
    assert_refused(done, "root-credentials", "--data-dir")
    assert snapshot(existing) == before
    assert not other.parent.exists()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs OPENSTS_TEST_POSTGRES_URL")
def test_serve_with_another_postgres_database_keeps_the_root_credentials(existing: Path) -> None:
    before = snapshot(existing)
    url = fresh_postgres_database()
    done = serve("--data-dir", str(existing), "--database-url", url)
    assert_refused(done, "root-credentials")
    assert snapshot(existing) == before
    assert postgres_tables(url) == []  # refused before the migrations


def test_serve_reuses_its_own_store_and_file(existing: Path) -> None:
    """The refusal is for other stores only: the store the file belongs to opens (and the file stays)."""
    before = (existing / "root-credentials").read_bytes()
    done = opensts("account", "list", "--data-dir", str(existing))
    assert done.returncode == 0, done.stderr
    runtime = open_runtime(Settings(data_dir=existing))  # serve's first-start path, on a started store
    runtime.close()
    assert (existing / "root-credentials").read_bytes() == before


def test_configured_root_key_needs_no_file(existing: Path, tmp_path: Path) -> None:
    """With OPENSTS_ROOT_* set the file is neither written nor in the way."""
    from opensts.identity import ids

    account = ids.new_account_id()
    env = clean_env(
        OPENSTS_ACCOUNT_ID=account,
        OPENSTS_ROOT_ACCESS_KEY_ID=ids.new_long_term_access_key_id(account),
        OPENSTS_ROOT_SECRET_ACCESS_KEY=ids.new_secret_access_key(),
    )
    before = snapshot(existing)
    settings = Settings.from_env(env, data_dir=str(existing), database_url=f"sqlite:///{tmp_path / 'second.db'}")
    open_runtime(settings).close()
    assert snapshot(existing) == before


# --- commands other than serve open an existing store only -----------------------------------------
@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_commands_need_an_existing_data_dir(command: tuple[str, ...], tmp_path: Path) -> None:
    typo = tmp_path / "opensts-dta"
    done = opensts(*command, "--data-dir", str(typo))
    assert_refused(done, f"no OpenSTS store at {typo}", "opensts serve")
    assert not typo.exists()
    # the same through the environment and the default data dir (./opensts-data)
    done = opensts(*command, env=clean_env(OPENSTS_DATA_DIR=str(typo)))
    assert_refused(done, "no OpenSTS store")
    done = opensts(*command, cwd=tmp_path)
    assert_refused(done, "no OpenSTS store")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_commands_need_an_existing_database(command: tuple[str, ...], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = tmp_path / "db" / "x.db"
    done = opensts(*command, "--data-dir", str(data_dir), "--database-url", f"sqlite:///{database}")
    assert_refused(done, "no OpenSTS store at sqlite:///")
    assert list(tmp_path.iterdir()) == []
    if POSTGRES_URL:
        url = fresh_postgres_database()
        done = opensts(*command, "--data-dir", str(data_dir), "--database-url", url)
        assert_refused(done, "no OpenSTS store at postgresql")
        assert postgres_tables(url) == []
        assert list(tmp_path.iterdir()) == []


def test_commands_refuse_an_empty_database_file(tmp_path: Path) -> None:
    """A file that is not an initialised store (here: empty) is not one, and stays untouched."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "opensts.db").write_bytes(b"")
    before = snapshot(data_dir)
    assert_refused(opensts("account", "list", "--data-dir", str(data_dir)), "no OpenSTS store")
    assert snapshot(data_dir) == before


# --- the master key is never replaced --------------------------------------------------------------
def test_missing_master_key_is_reported_not_replaced(existing: Path) -> None:
    (existing / "master-key").unlink()
    before = snapshot(existing)
    for done in (
        opensts("account", "list", "--data-dir", str(existing)),
        opensts("keys", "rotate", "--data-dir", str(existing)),
        serve("--data-dir", str(existing)),
    ):
        assert_refused(done, "master key is missing", "OPENSTS_MASTER_KEY")
        assert not (existing / "master-key").exists()
        assert snapshot(existing) == before


@pytest.mark.skipif(not POSTGRES_URL, reason="needs OPENSTS_TEST_POSTGRES_URL")
def test_missing_master_key_on_postgres(tmp_path: Path) -> None:
    url = fresh_postgres_database()
    first_start(tmp_path / "node1", url)
    # A second node with its own (empty) data dir and no OPENSTS_MASTER_KEY: refused, nothing written.
    node2 = tmp_path / "node2"
    for done in (opensts("account", "list", "--data-dir", str(node2), "--database-url", url),
                 serve("--data-dir", str(node2), "--database-url", url)):
        assert_refused(done, "master key is missing")
    assert not node2.exists()
    # With the key it opens.
    key = (tmp_path / "node1" / "master-key").read_text().strip()
    done = opensts("account", "list", "--data-dir", str(node2), "--database-url", url, env=clean_env(OPENSTS_MASTER_KEY=key))
    assert done.returncode == 0, done.stderr
    assert not node2.exists()


def test_bad_first_start_settings_create_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = serve("--data-dir", str(data_dir), env=clean_env(OPENSTS_ACCOUNT_ID="12"))
    assert_refused(done, "OPENSTS_ACCOUNT_ID")
    assert not data_dir.exists()


def test_concurrent_first_starts_agree_on_one_root_key(tmp_path: Path, database_url: str) -> None:
    """Several processes starting a new store at once: one root key, and the file holds it."""
    import threading

    from opensts.runtime import read_credentials_key_id

    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, database_url=database_url)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    accounts: list[str] = []

    def start() -> None:
        barrier.wait()
        try:
            runtime = open_runtime(settings)
            accounts.append(runtime.default_account_id)
            runtime.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(set(accounts)) == 1
    runtime = open_runtime(settings)
    try:
        keys = runtime.store.access_keys.root_key_ids(runtime.default_account_id)
        assert keys == [read_credentials_key_id(data_dir / "root-credentials")]
    finally:
        runtime.close()
