"""The store lock: a SQLite store is never replaced under someone using it.

``opensts serve`` and every command that opens a SQLite store hold a shared ``flock`` on a file
beside the database (``DATABASE.serve-lock``) for as long as they run; ``opensts restore`` takes it
exclusively, without waiting, and refuses while anyone holds it. (A backup still copying, or an
``account create`` still writing, would otherwise write into the old store's WAL after the new
file took its name.) PostgreSQL stores have no lock file: restore them with ``pg_restore`` while no
server runs (docs/BACKUP.md).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from opensts.config import Settings

LOCK_SUFFIX = ".serve-lock"


class StoreLocked(Exception):
    """Someone holds the lock the other way (the message is one line for the user)."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + LOCK_SUFFIX)


def open_lock_file(database: Path, *, create: bool = True) -> IO[bytes] | None:
    """The lock file of ``database`` (created if ``create``), or None when it does not exist."""
    flags = os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
    try:
        fd = os.open(lock_path(database), flags, 0o600)
    except FileNotFoundError:
        return None
    return os.fdopen(fd, "r+b")


def sqlite_database(settings: Settings) -> Path | None:
    """The SQLite file of the settings' store, symlinks resolved (every user of one file finds one
    lock), or None for PostgreSQL."""
    from opensts.store.probe import sqlite_path

    database = sqlite_path(settings.resolved_database_url)
    return database.resolve() if database is not None else None


def hold_shared_lock(settings: Settings, *, create: bool) -> IO[bytes] | None:
    """A shared lock on the store's lock file, held while the returned file stays open. None for
    PostgreSQL, or when there is no lock file and ``create`` is false. StoreLocked while a restore
    holds it."""
    database = sqlite_database(settings)
    if database is None:
        return None
    lock = open_lock_file(database, create=create)
    if lock is None:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StoreLocked(
            f"a restore into {database} is in progress (it holds {lock_path(database)}); try again when it ends"
        ) from None
    return lock
