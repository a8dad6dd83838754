"""``opensts backup`` and ``opensts restore``: copies of a SQLite store, and the lock that keeps a
restore away from a running server.

Backup (``opensts backup --to FILE``)
    A consistent copy of the SQLite store while servers keep serving it. The copy is made with
    SQLite's online backup API from one read transaction: in WAL mode (``store.db``) a reader never
    blocks writers, and the open transaction pins one snapshot, so the copy holds exactly the
    transactions committed before it began, every write acknowledged before the backup started
    included. Pages are copied in steps with a short pause between them so the copy never takes a
    disk's whole bandwidth from the server. While it runs the server's WAL cannot be checkpointed
    past the snapshot and grows; it shrinks again at the next checkpoint.

    The copy is written to a private temporary file beside FILE (mode 0600), switched to a
    self-contained rollback-journal file, checked (``integrity_check``, tables, schema revision),
    fsynced, and only then published as FILE: FILE is never half written. An existing FILE is
    never replaced without ``--force``. Standard output gets one JSON object: the file, its size,
    schema revision, counts of accounts, users, roles and access keys, and where the master key is
    -- which the backup does not contain and which must be kept too (its fingerprint, never the
    key). A PostgreSQL store is refused with the ``pg_dump`` command to use instead.

Restore (``opensts restore --from FILE``)
    FILE is copied to a private temporary file beside the store's database and checked there: a
    SQLite database (``integrity_check``), with OpenSTS's tables, an initialised default account,
    and a schema revision this code knows (not newer). When the master key of the target
    (``OPENSTS_MASTER_KEY`` or ``DATA_DIR/master-key``) is available it must open the backup's
    signing keys, else the restored store could not start. The copy then replaces the store by
    ``rename``, after the old store's ``-wal``, ``-shm`` and ``-journal`` files are removed (they
    belong to the old database and must never be applied to the new one). An existing store is
    replaced only with ``--force``; a store a running server holds, never. The next ``serve`` runs
    migrations as usual.

The serve lock
    ``opensts serve`` holds a shared ``flock`` on ``DATABASE.serve-lock`` (beside the SQLite
    database file, so every data dir and URL that names one database names one lock) for its whole
    life; the parent process holds it, workers need not. Several servers may share it. ``restore``
    takes it exclusively without waiting and stops with one line when any server holds it; a
    server starting during a restore stops likewise (:func:`open_serving_runtime`). PostgreSQL
    stores take no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import click

from opensts.commands.common import fail, open_runtime_or_fail, store_options
from opensts.commands.store_lock import StoreLocked, hold_shared_lock, lock_path, open_lock_file
from opensts.config import Settings

if TYPE_CHECKING:
    from opensts.runtime import Runtime

# Pages per backup step (4 MiB at SQLite's default 4 KiB page) and the pause between steps.
BACKUP_STEP_PAGES = 1024
BACKUP_STEP_PAUSE = 0.005
# Tables every OpenSTS store has had since its first schema revision.
REQUIRED_TABLES = frozenset({"alembic_version", "meta", "accounts", "users", "access_keys", "signing_keys"})
# Sidecar files SQLite keeps beside a database; a restore removes the old store's.
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
COUNTED_TABLES = (("Accounts", "accounts"), ("Users", "users"), ("Roles", "roles"), ("AccessKeys", "access_keys"))
MAX_INTEGRITY_ERRORS = 5


class NotAStore(Exception):
    """The file is not a usable OpenSTS SQLite store (the message says why)."""


@dataclass(frozen=True)
class StoreSummary:
    schema_revision: str
    default_account_id: str
    counts: dict[str, int]
    sealed_signing_keys: tuple[bytes, ...]


# -- the serve lock (commands/store_lock.py) --------------------------------------------------------
def hold_serve_lock(settings: Settings, *, create: bool) -> IO[bytes] | None:
    """:func:`~opensts.commands.store_lock.hold_shared_lock`, or one line and exit."""
    try:
        return hold_shared_lock(settings, create=create)
    except StoreLocked as exc:
        fail(str(exc))


def open_serving_runtime(settings: Settings) -> "tuple[Runtime, IO[bytes] | None]":
    """For ``serve``: the runtime (first-start work included) and the serve lock, which the caller
    keeps open for the process's life so that ``opensts restore`` cannot replace the store under it.

    The lock is taken before the store is opened when its file exists. A refused start writes
    nothing, so a missing lock file is created only after the runtime opened; the store is then
    opened once more under the lock, in case a restore replaced it in between (the second opening
    migrates what is there now)."""
    lock = hold_serve_lock(settings, create=False)
    runtime = open_runtime_or_fail(settings)
    if lock is None:
        lock = hold_serve_lock(settings, create=True)
        if lock is not None:
            runtime.close()
            runtime = open_runtime_or_fail(settings)
    return runtime, lock


# -- checking a SQLite file ------------------------------------------------------------------------
def known_revisions() -> list[str]:
    """This code's schema revisions, oldest first."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from opensts.store.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return [rev.revision for rev in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]


def inspect_store_file(path: Path) -> StoreSummary:
    """Check a SQLite file that no one else has open and make it self-contained (rollback journal,
    no ``-wal`` beside it). Raises :class:`NotAStore`."""
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise NotAStore(f"cannot open it ({exc})") from None
    try:
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            problems = [row[0] for row in conn.execute(f"PRAGMA integrity_check({MAX_INTEGRITY_ERRORS})")]
        except sqlite3.DatabaseError as exc:
            raise NotAStore(f"not a SQLite database or damaged ({exc})") from None
        if problems != ["ok"]:
            raise NotAStore(f"the integrity check failed: {'; '.join(str(p) for p in problems)[:500]}")
        if mode is None or str(mode[0]).lower() != "delete":
            raise NotAStore(f"cannot switch it to a rollback journal (journal mode {mode})")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = REQUIRED_TABLES - tables
        if missing:
            raise NotAStore(f"not an OpenSTS store (no table {', '.join(sorted(missing))})")
        revisions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version LIMIT 2")]
        known = known_revisions()
        if len(revisions) != 1:
            raise NotAStore("not an OpenSTS store (no single schema revision)")
        if revisions[0] not in known:
            raise NotAStore(
                f"its schema revision {revisions[0]!r} is unknown to this OpenSTS (newest known: {known[-1]}): "
                "it was probably made by a newer version; restore it with that version"
            )
        account = conn.execute("SELECT value FROM meta WHERE key = 'default_account_id'").fetchone()
        if account is None or conn.execute(
            "SELECT 1 FROM accounts WHERE account_id = ?", (account[0],)
        ).fetchone() is None:
            raise NotAStore("the store was never initialised (no default account)")
        counts = {
            label: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) if table in tables else 0
            for label, table in COUNTED_TABLES
        }
        sealed = tuple(bytes(row[0]) for row in conn.execute("SELECT key_sealed FROM signing_keys LIMIT 16"))
        return StoreSummary(revisions[0], str(account[0]), counts, sealed)
    except sqlite3.Error as exc:
        raise NotAStore(f"cannot read it ({exc})") from None
    finally:
        conn.close()


# -- the master key, described ---------------------------------------------------------------------
def master_key_note(settings: Settings) -> dict[str, Any]:
    """Where this store's master key lives, and its fingerprint when it can be read: never the key."""
    from opensts.tokens.master_key import MASTER_KEY_FILE, MasterKeyMissing, load_master_key

    note: dict[str, Any] = {"InBackup": False}
    if settings.master_key is not None and settings.master_key.strip():
        note["Source"] = "OPENSTS_MASTER_KEY"
    else:
        note["Source"] = "file"
        note["Path"] = str((settings.data_dir / MASTER_KEY_FILE).resolve())
    try:
        note["Fingerprint"] = load_master_key(settings.data_dir, settings.master_key).fingerprint()
    except (MasterKeyMissing, ValueError, OSError) as exc:
        note["Problem"] = " ".join(str(exc).split())
    return note


def _keep_message(note: dict[str, Any]) -> str:
    where = "the OPENSTS_MASTER_KEY value" if note["Source"] == "OPENSTS_MASTER_KEY" else note["Path"]
    return (
        f"keep the master key too ({where}): it is not in the backup, and the backup's secrets and "
        "signing keys are sealed with it; store it apart from the backup"
    )


# -- helpers ---------------------------------------------------------------------------------------
def _settings(data_dir: str | None, database_url: str | None) -> Settings:
    try:
        return Settings.from_env(data_dir=data_dir, database_url=database_url)
    except ValueError as exc:
        fail(" ".join(str(exc).split()))


_TOOL_URL_OPTIONS = frozenset({"sslmode", "sslrootcert", "connect_timeout", "application_name", "target_session_attrs"})


def _postgres_url_for_tools(url: str) -> str:
    """The URL for libpq tools: plain ``postgresql://`` and no password (give it by PGPASSWORD or ~/.pgpass)."""
    from sqlalchemy.engine import URL, make_url

    try:
        parsed = make_url(url)
        # Only connection options that are never secrets (a query may carry password=...).
        query = {key: value for key, value in parsed.query.items() if key in _TOOL_URL_OPTIONS}
        plain = URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                           database=parsed.database, query=query)
        return plain.render_as_string(hide_password=False)
    except Exception:  # noqa: BLE001
        return "postgresql://USER@HOST/DB"


def _sqlite_database_or_fail(settings: Settings, action: str) -> Path:
    from opensts.store.db import is_sqlite, normalise_url
    from opensts.store.probe import sqlite_path

    url = normalise_url(settings.resolved_database_url)
    if not is_sqlite(url):
        tool_url = _postgres_url_for_tools(url)
        if action == "backup":
            fail(
                "the store is PostgreSQL: back it up with `pg_dump --format=custom --file=FILE "
                f"--dbname='{tool_url}'` and restore it with `pg_restore --clean --if-exists "
                f"--no-owner --dbname='{tool_url}' FILE` (docs/BACKUP.md); keep OPENSTS_MASTER_KEY too"
            )
        fail(
            f"the store is PostgreSQL: restore a pg_dump archive with `pg_restore --clean --if-exists "
            f"--no-owner --dbname='{tool_url}' FILE` while no server runs (docs/BACKUP.md)"
        )
    database = sqlite_path(url)
    if database is None:
        fail("the store is not a SQLite file (an in-memory or URI database cannot be backed up or restored)")
    return database.resolve()


def _match_owner(path: Path, reference: Path) -> None:
    """Run as root (``sudo opensts restore``), give ``path`` the owner of ``reference`` (the store it
    replaces, or its directory), so that the service's own user can open what was restored."""
    if os.geteuid() != 0:
        return
    owner = reference.stat()
    os.chown(path, owner.st_uid, owner.st_gid)


def _temp_beside(path: Path) -> Path:
    """A new private (0600) empty file in ``path``'s directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)
    return tmp


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _remove_with_sidecars(path: Path) -> None:
    _remove(path)
    for suffix in SIDECAR_SUFFIXES:
        _remove(path.with_name(path.name + suffix))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        _fsync(directory)
    except OSError:
        pass  # some file systems cannot fsync a directory


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- backup ----------------------------------------------------------------------------------------
def copy_online(database: Path, destination: Path) -> None:
    """Copy ``database`` into the (empty) file ``destination`` with the online backup API, from one
    read snapshot, in steps of BACKUP_STEP_PAGES pages."""
    source = sqlite3.connect(
        f"file:{quote(str(database))}?mode=rw", uri=True, isolation_level=None, timeout=30
    )
    try:
        source.execute("PRAGMA busy_timeout=30000")
        # The snapshot starts at the first read, not at BEGIN: read at once. Holding it through every
        # step keeps the copy to one committed state (the backup never restarts for others' writes).
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        target = sqlite3.connect(str(destination), isolation_level=None)
        try:
            source.backup(target, pages=BACKUP_STEP_PAGES, sleep=BACKUP_STEP_PAUSE)
        finally:
            target.close()
        source.execute("COMMIT")
    finally:
        source.close()


@click.command("backup")
@click.option("--to", "to", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Where to write the copy (a new file; see --force).")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@store_options
def backup(to: str, force: bool, data_dir: str | None, database_url: str | None) -> None:
    """Copy a SQLite store to FILE while servers keep running (docs/BACKUP.md).

    Prints one JSON object: the file, its size, schema revision and counts, and where the master
    key is (it is not in the backup: keep it too). For PostgreSQL, names the pg_dump command.
    """
    from opensts.store.probe import probe_store

    settings = _settings(data_dir, database_url)
    database = _sqlite_database_or_fail(settings, "backup")
    if not database.is_file() or not probe_store(f"sqlite:///{database}").initialised:
        fail(f"no OpenSTS store at {database}")
    target = Path(to).absolute()
    if target.is_dir():
        fail(f"{target} is a directory; name a file")
    if not target.parent.is_dir():
        fail(f"the directory {target.parent} does not exist")
    if any(_same_file(target, database.with_name(database.name + s)) for s in ("", *SIDECAR_SUFFIXES)):
        fail(f"{target} is the store's own database file")
    if (target.exists() or target.is_symlink()) and not force:
        fail(f"{target} exists; pass --force to replace it")
    lock = hold_serve_lock(settings, create=False)  # a restore must not replace the store mid-copy
    started = _now()
    tmp = _temp_beside(target)
    try:
        try:
            copy_online(database, tmp)
        except sqlite3.Error as exc:
            fail(f"the backup of {database} failed: {exc}")
        try:
            summary = inspect_store_file(tmp)
        except NotAStore as exc:
            fail(f"the copy of {database} did not check out ({exc}); nothing written")
        _fsync(tmp)
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # never replaces a FILE that appeared meanwhile
            except FileExistsError:
                fail(f"{target} exists; pass --force to replace it")
    finally:
        _remove_with_sidecars(tmp)
        if lock is not None:
            lock.close()
    _fsync_dir(target.parent)
    note = master_key_note(settings)
    click.echo(json.dumps({
        "Backup": str(target),
        "Bytes": target.stat().st_size,
        "Store": str(database),
        "StartedAt": started,
        "SchemaRevision": summary.schema_revision,
        "DefaultAccountId": summary.default_account_id,
        "Counts": summary.counts,
        "MasterKey": note,
        "NotInBackup": ["the master key", "metrics files (OPENSTS_METRICS_DIR)",
                        "audit streams written to --audit-log / --audit-dir"],
    }))
    click.echo(f"opensts: {_keep_message(note)}", err=True)


# -- restore ---------------------------------------------------------------------------------------
def _check_master_key(settings: Settings, summary: StoreSummary) -> dict[str, Any]:
    """The target's master key must open the backup's signing keys; a missing key is only noted."""
    from opensts.tokens.master_key import PURPOSE_SIGNING_KEY, MasterKeyMissing, SealError, load_master_key

    note = master_key_note(settings)
    try:
        key = load_master_key(settings.data_dir, settings.master_key)
    except (MasterKeyMissing, ValueError, OSError):
        note["Opens"] = None
        return note
    for sealed in summary.sealed_signing_keys:
        try:
            key.open(sealed, PURPOSE_SIGNING_KEY)
        except SealError:
            continue
        note["Opens"] = True
        return note
    note["Opens"] = not summary.sealed_signing_keys
    return note


@click.command("restore")
@click.option("--from", "from_", required=True, type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="A file written by `opensts backup`.")
@click.option("--force", is_flag=True, help="Replace an existing store (never one a running server holds).")
@store_options
def restore(from_: str, force: bool, data_dir: str | None, database_url: str | None) -> None:
    """Make FILE (from `opensts backup`) the SQLite store of --data-dir (docs/BACKUP.md).

    Stop every server on the store first. The master key is not in the backup: the target needs the
    same one (DATA_DIR/master-key or OPENSTS_MASTER_KEY).
    """
    settings = _settings(data_dir, database_url)
    database = _sqlite_database_or_fail(settings, "restore")
    source = Path(from_).absolute()
    if _same_file(source, database):
        fail(f"{source} is the store itself")
    if database.exists() and not force:
        fail(f"a store exists at {database}; pass --force to replace it")
    database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = open_lock_file(database)
    assert lock is not None  # created
    _match_owner(lock_path(database), database.parent)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fail(f"a server or an opensts command is using {database} (it holds {lock_path(database)}); "
                 "stop it before restoring")
        summary, note, replaced = _restore_locked(source, database, settings, force)
    finally:
        lock.close()
    click.echo(json.dumps({
        "Restored": str(database),
        "From": str(source),
        "Bytes": database.stat().st_size,
        "Replaced": replaced,
        "SchemaRevision": summary.schema_revision,
        "DefaultAccountId": summary.default_account_id,
        "Counts": summary.counts,
        "MasterKey": note,
    }))
    if note["Opens"] is None:
        click.echo(
            "opensts: the master key is not here: put the original store's key in "
            f"{settings.data_dir.resolve() / 'master-key'} (mode 0600) or set OPENSTS_MASTER_KEY before `opensts serve`",
            err=True,
        )


def _restore_locked(source: Path, database: Path, settings: Settings,
                    force: bool) -> tuple[StoreSummary, dict[str, Any], bool]:
    tmp = _temp_beside(database)
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        try:
            summary = inspect_store_file(tmp)
        except NotAStore as exc:
            fail(f"{source} is not a usable OpenSTS SQLite store: {exc}")
        note = _check_master_key(settings, summary)
        if note["Opens"] is False:
            fail(
                f"the master key ({note.get('Path', 'OPENSTS_MASTER_KEY')}, fingerprint {note.get('Fingerprint')}) "
                f"does not open {source}: the backup was sealed with another master key; put that key in place first"
            )
        _fsync(tmp)
        _match_owner(tmp, database if database.exists() else database.parent)
        replaced = database.exists()
        if replaced and not force:  # appeared since the first check
            fail(f"a store exists at {database}; pass --force to replace it")
        # The old database's WAL and shared memory must not be applied to the new file: gone first.
        for suffix in SIDECAR_SUFFIXES:
            _remove(database.with_name(database.name + suffix))
        os.replace(tmp, database)
        _fsync_dir(database.parent)
        return summary, note, replaced
    finally:
        _remove_with_sidecars(tmp)
