"""What every ``opensts`` command that opens an existing store shares: the store options, one-line
failures (never a traceback), and opening the store."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from opensts.commands.store_lock import StoreLocked, hold_shared_lock
from opensts.config import DEFAULT_DATA_DIR, Settings

if TYPE_CHECKING:
    from opensts.runtime import Runtime


_store_options = [
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help=f"Directory for the SQLite store, master key and root credentials [env OPENSTS_DATA_DIR; default {DEFAULT_DATA_DIR}].",
    ),
    click.option(
        "--database-url",
        default=None,
        help="sqlite:///PATH or postgresql://USER:PASS@HOST/DB [env OPENSTS_DATABASE_URL; default SQLite in the data dir].",
    ),
]


def store_options(func: Any) -> Any:
    for option in reversed(_store_options):
        func = option(func)
    return func


def fail(message: str, status: int = 1) -> NoReturn:
    """One clear line on stderr and exit ``status``: never a traceback."""
    click.echo(f"opensts: error: {message}", err=True)
    sys.exit(status)


_HELD_LOCKS: list[IO[bytes]] = []


def open_runtime_or_fail(settings: Settings, *, create: bool = True, status: int = 1) -> "Runtime":
    """The runtime, or one line on stderr and exit ``status``.

    ``create=True`` only for ``serve``: every other command passes ``create=False`` and opens an
    existing store only (creating no directory, file, database or master key when there is none).
    """
    from sqlalchemy.exc import DBAPIError

    from opensts.runtime import BootstrapError, open_runtime
    from opensts.tokens.errors import TokenError

    if not create:  # not serve, which holds the lock itself (commands/backup.py open_serving_runtime)
        try:
            lock = hold_shared_lock(settings, create=False)
        except StoreLocked as exc:
            fail(str(exc), status)
        if lock is not None:
            _HELD_LOCKS.append(lock)  # until the command exits: a restore must wait for it
    try:
        return open_runtime(settings, create=create)
    except (BootstrapError, TokenError, ValueError) as exc:
        fail(_one_line(str(exc)), status)
    except Exception as exc:  # e.g. the database is unreachable
        detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        fail(_one_line(f"cannot open the store at {_safe_url(settings.resolved_database_url)}: {type(detail).__name__}: {detail}"), status)


def open_existing_store_or_fail(data_dir: str | None, database_url: str | None, *, status: int = 1) -> "Runtime":
    """For every command but ``serve``: the runtime of an existing store, or one line and exit ``status``."""
    try:
        settings = Settings.from_env(data_dir=data_dir, database_url=database_url)
    except ValueError as exc:  # an invalid OPENSTS_* variable
        fail(_one_line(str(exc)), status)
    return open_runtime_or_fail(settings, create=False, status=status)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        return parsed.set(query={}).render_as_string(hide_password=True)  # a query may carry password=...
    except Exception:  # noqa: BLE001
        return "(unparseable URL)"
