"""Files that hold a secret (the master key, root credentials): created once, mode 0600, never replaced."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_private_file(path: Path, content: bytes) -> bool:
    """Create ``path`` with ``content`` and mode 0600 iff it does not exist. True if this call created it.

    Written to a private temporary file (never readable by others, even briefly), then published
    with ``link()``, which fails when the file exists: an existing file is never replaced.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # file system without hard links: create the final file exclusively instead
            return _create_exclusive(path, content, flags)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    _fsync_dir(path.parent)
    return True


def _create_exclusive(path: Path, content: bytes, flags: int) -> bool:
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
