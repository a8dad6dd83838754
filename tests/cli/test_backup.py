"""``opensts backup`` / ``opensts restore`` over the real command line, against real servers.

The main test backs up a SQLite store several times while a client keeps creating users and access
keys, restores the last backup into a fresh data dir holding the same master key, starts a server
on it and checks that every write acknowledged before that backup started is there and that each
of those access keys authenticates. The same is done for PostgreSQL with pg_dump/pg_restore, the
commands docs/BACKUP.md names.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, Credentials, ServerInfo, free_port, fresh_postgres_database, start_server, stop_server

MAX_WRITES = 2000  # the writer's bound; it is stopped long before


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSTS_") or k == "OPENSTS_TEST_POSTGRES_URL"}
    return {**env, **extra}


def opensts(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opensts", *args], env=env or clean_env(), capture_output=True,
                          text=True, timeout=120)


@dataclass
class Write:
    user: str
    key: Credentials
    acknowledged: float  # time.monotonic() when the CreateAccessKey answer arrived


@dataclass
class Writer:
    """A thread making IAM writes (CreateUser, then CreateAccessKey) one after the other."""

    server: ServerInfo
    writes: list[Write] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        iam = self.server.client("iam")
        try:
            for i in range(MAX_WRITES):
                if self.stop.is_set():
                    return
                name = f"load-{i}"
                iam.create_user(UserName=name)
                key = iam.create_access_key(UserName=name)["AccessKey"]
                self.writes.append(Write(name, Credentials(key["AccessKeyId"], key["SecretAccessKey"]), time.monotonic()))
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.errors.append(exc)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 120
        while len(self.writes) < count and not self.errors and self.thread and self.thread.is_alive():
            assert time.monotonic() < deadline, f"only {len(self.writes)} writes acknowledged"
            time.sleep(0.05)
        assert not self.errors, self.errors

    def finish(self) -> list[Write]:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=60)
        assert not self.errors, self.errors
        return list(self.writes)


def backups_under_load(server: ServerInfo, make_backup: Callable[[int], None], times: int = 3) -> list[Write]:
    """Run ``make_backup`` ``times`` times while the writer runs; the writes acknowledged before the
    last backup started (which it must hold)."""
    writer = Writer(server)
    writer.start()
    started = 0.0
    try:
        for i in range(times):
            writer.wait_for(len(writer.writes) + 5)
            started = time.monotonic()
            make_backup(i)
    finally:
        writes = writer.finish()
    before = [w for w in writes if w.acknowledged < started]
    assert len(before) >= 15
    assert len(writes) > len(before)  # the writer was still going while the backup ran
    return before


def assert_authenticates(server: ServerInfo, writes: list[Write]) -> None:
    for write in writes:
        arn = server.client("sts", write.key).get_caller_identity()["Arn"]
        assert arn == f"arn:aws:iam::{server.account_id}:user/{write.user}"
    assert server.client("sts").get_caller_identity()["Arn"].endswith(":root")


def test_backup_under_load_restores_every_acknowledged_write(tmp_path: Path) -> None:
    server = start_server(tmp_path / "live", "sqlite")
    made: list[dict] = []  # type: ignore[type-arg]

    def backup(i: int) -> None:
        done = opensts("backup", "--to", str(tmp_path / f"backup-{i}.db"), env=server.env())
        assert done.returncode == 0, done.stderr
        made.append(json.loads(done.stdout))
        assert "master key" in done.stderr

    try:
        before = backups_under_load(server, backup)
        original_root = server.root
        master_key = (server.data_dir / "master-key").read_text()
    finally:
        stop_server(server)

    last = made[-1]
    target = Path(last["Backup"])
    assert target == tmp_path / "backup-2.db" and last["Bytes"] == target.stat().st_size
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert last["SchemaRevision"] and last["Counts"]["Users"] >= len(before)
    assert last["Counts"]["AccessKeys"] >= len(before) + 1 and last["Counts"]["Accounts"] == 1
    assert last["MasterKey"]["Path"] == str((server.data_dir / "master-key").resolve())
    assert last["MasterKey"]["InBackup"] is False and master_key.strip() not in json.dumps(made)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["backup-0.db", "backup-1.db", "backup-2.db"]

    # A fresh data dir with the same master key.
    fresh_root = tmp_path / "restored"
    data_dir = fresh_root / "data-sqlite"
    data_dir.mkdir(parents=True)
    (data_dir / "master-key").write_text(master_key)
    (data_dir / "master-key").chmod(0o600)
    done = opensts("restore", "--from", str(target), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    restored = json.loads(done.stdout)
    assert restored["Counts"] == last["Counts"] and restored["MasterKey"]["Opens"] is True
    assert restored["Replaced"] is False

    again = start_server(fresh_root, "sqlite")
    try:
        assert again.data_dir == data_dir
        again.account_id = server.account_id  # the restored store's default account
        assert_authenticates(again, before)
        assert again.client("sts", original_root).get_caller_identity()["Account"] == server.account_id
    finally:
        stop_server(again)


def test_restore_refuses_a_store_a_server_holds(tmp_path: Path) -> None:
    server = start_server(tmp_path, "sqlite")
    backup = tmp_path / "b.db"
    try:
        assert opensts("backup", "--to", str(backup), env=server.env()).returncode == 0
        user = server.client("iam").create_user(UserName="after-backup")["User"]["UserName"]
        done = opensts("restore", "--from", str(backup), "--force", env=server.env())
        assert done.returncode != 0
        assert "is using" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert server.client("iam").get_user(UserName=user)["User"]["UserName"] == user  # untouched
    finally:
        stop_server(server)
    # Stopped: the restore goes through and the later user is gone.
    done = opensts("restore", "--from", str(backup), "--force", env=server.env())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Replaced"] is True
    assert not any(Path(f"{server.data_dir / 'opensts.db'}{s}").exists() for s in ("-wal", "-shm", "-journal"))
    again = start_server(tmp_path, "sqlite")  # the same data dir
    try:
        with pytest.raises(Exception, match="NoSuchEntity"):
            again.client("iam", server.root).get_user(UserName="after-backup")
    finally:
        stop_server(again)


def test_serve_refuses_to_start_during_a_restore(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with open(data_dir / "opensts.db.serve-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # what a running restore holds
        done = opensts("serve", "--data-dir", str(data_dir), "--port", str(free_port()))
    assert done.returncode != 0 and "restore" in done.stderr
    assert not (data_dir / "opensts.db").exists()


@pytest.fixture
def stopped_store(tmp_path: Path) -> tuple[Path, Path]:
    """A store made by a first start (no server left running) and a backup of it."""
    from opensts.config import Settings
    from opensts.runtime import open_runtime

    data_dir = tmp_path / "data"
    open_runtime(Settings(data_dir=data_dir)).close()
    backup = tmp_path / "backup.db"
    done = opensts("backup", "--to", str(backup), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    return data_dir, backup


def test_backup_refuses_to_overwrite_without_force(stopped_store: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, _ = stopped_store
    target = tmp_path / "keep.db"
    target.write_text("precious")
    done = opensts("backup", "--to", str(target), "--data-dir", str(data_dir))
    assert done.returncode != 0 and "--force" in done.stderr
    assert target.read_text() == "precious"
    done = opensts("backup", "--to", str(target), "--data-dir", str(data_dir), "--force")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp file left


def test_backup_of_a_missing_store_fails(tmp_path: Path) -> None:
    done = opensts("backup", "--to", str(tmp_path / "b.db"), "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode != 0 and "no OpenSTS store" in done.stderr
    assert not (tmp_path / "b.db").exists() and not (tmp_path / "nothing").exists()


def restore_refused(source: Path, data_dir: Path, *words: str) -> None:
    done = opensts("restore", "--from", str(source), "--data-dir", str(data_dir))
    assert done.returncode != 0, done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for word in words:
        assert word in done.stderr
    assert not (data_dir / "opensts.db").exists()
    assert [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_restore_refuses_files_that_are_not_a_usable_store(stopped_store: tuple[Path, Path], tmp_path: Path) -> None:
    _, backup = stopped_store
    target = tmp_path / "target"
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 500)
    restore_refused(text, target, "not a usable OpenSTS SQLite store", "not a SQLite database")

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE things (x)")
    restore_refused(other, target, "not an OpenSTS store")

    corrupt = tmp_path / "corrupt.db"
    data = bytearray(backup.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[2 * page:5 * page] = b"\xa5" * (3 * page)  # three pages of the tables' b-trees
    corrupt.write_bytes(bytes(data))
    restore_refused(corrupt, target, "not a usable OpenSTS SQLite store")

    newer = tmp_path / "newer.db"
    shutil.copy(backup, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    restore_refused(newer, target, "9999_from_the_future", "newer version")


def test_restore_refuses_an_existing_store_without_force_and_another_master_key(
        stopped_store: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, backup = stopped_store
    before = (data_dir / "opensts.db").read_bytes()
    done = opensts("restore", "--from", str(backup), "--data-dir", str(data_dir))
    assert done.returncode != 0 and "--force" in done.stderr
    assert (data_dir / "opensts.db").read_bytes() == before

    elsewhere = tmp_path / "elsewhere"
    done = opensts("restore", "--from", str(backup), "--data-dir", str(elsewhere),
                   env=clean_env(OPENSTS_MASTER_KEY="a" * 64))
    assert done.returncode != 0 and "another master key" in done.stderr
    assert not (elsewhere / "opensts.db").exists()


def test_postgresql_urls_name_pg_dump_and_pg_restore(tmp_path: Path) -> None:
    url = "postgresql://opensts:hunter2@db.example:5432/opensts"
    done = opensts("backup", "--to", str(tmp_path / "b"), "--database-url", url)
    assert done.returncode != 0
    assert "pg_dump --format=custom" in done.stderr and "pg_restore --clean --if-exists" in done.stderr
    assert "hunter2" not in done.stderr and "postgresql://opensts@db.example:5432/opensts" in done.stderr
    done = opensts("restore", "--from", __file__, "--database-url", url)
    assert done.returncode != 0 and "pg_restore --clean --if-exists" in done.stderr and "hunter2" not in done.stderr
    assert not (tmp_path / "b").exists()


def postgres_tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/lib/postgresql/15/bin")
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.mark.skipif(not POSTGRES_URL, reason="needs OPENSTS_TEST_POSTGRES_URL")
def test_postgresql_pg_dump_under_load_and_pg_restore(tmp_path: Path) -> None:
    pg_dump, pg_restore = postgres_tool("pg_dump"), postgres_tool("pg_restore")
    server = start_server(tmp_path / "live", "postgres")
    dumps: list[Path] = []

    def backup(i: int) -> None:
        dumps.append(tmp_path / f"dump-{i}")
        done = subprocess.run([pg_dump, "--format=custom", f"--file={dumps[-1]}", f"--dbname={server.database_url}"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    try:
        before = backups_under_load(server, backup)
        master_key = (server.data_dir / "master-key").read_text().strip()
    finally:
        stop_server(server)

    url = fresh_postgres_database()
    done = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner", f"--dbname={url}", str(dumps[-1])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Another node: an empty data dir, the restored database and the same master key.
    again = start_server(tmp_path / "restored", "postgres",
                         extra_env={"OPENSTS_DATABASE_URL": url, "OPENSTS_MASTER_KEY": master_key})
    try:
        again.account_id = server.account_id
        assert_authenticates(again, before)
        assert again.client("sts", server.root).get_caller_identity()["Account"] == server.account_id
    finally:
        stop_server(again)


def test_restore_waits_for_any_command_using_the_store(tmp_path: Path) -> None:
    """Not only servers: a backup still copying, or any command with the store open, holds the lock
    shared, and a restore refuses rather than replace the file under it."""
    from opensts.commands.store_lock import hold_shared_lock
    from opensts.config import Settings

    data = tmp_path / "data"
    data.mkdir()
    database = data / "opensts.db"
    database.write_bytes(b"")
    settings = Settings.from_env({}, data_dir=str(data))
    (tmp_path / "backup.db").write_bytes(b"")  # refused before it is even read
    lock = hold_shared_lock(settings, create=True)
    try:
        done = opensts("restore", "--from", str(tmp_path / "backup.db"), "--force", env={**os.environ, "OPENSTS_DATA_DIR": str(data)})
        assert done.returncode != 0 and "is using" in done.stderr
    finally:
        assert lock is not None
        lock.close()


def test_tool_urls_never_carry_a_password() -> None:
    from opensts.commands.backup import _postgres_url_for_tools

    url = _postgres_url_for_tools("postgresql+psycopg://u:pw@db.example/opensts?password=SECRET&sslmode=require")
    assert "SECRET" not in url and "pw" not in url and "sslmode=require" in url
