"""``opensts audit verify`` and ``opensts audit tail``.

``opensts audit verify [--data-dir DIR] [--database-url URL] [--json]`` checks every account's audit
chain and its signed checkpoints (``audit/verify.py``) and prints one line per account. It needs
the master key (the data dir's ``master-key`` or ``OPENSTS_MASTER_KEY``): the checkpoints are signed
with a key derived from it. Exit status: **0** every chain is intact, **1** a chain was tampered
with (the first problem of each such account is printed: kind, seq, event id), **2** the check
could not be made (no store, no master key, unreachable database). Errors are one line on stderr.

``opensts audit tail [-n N] [-f] [--account ACCT]`` prints the last ``N`` events (default 10) as
CloudTrail JSON records, one per line, oldest first; with ``-f`` it then prints new events as they
commit (the store is polled every half second) until interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, NoReturn

import click

from opensts.commands.common import fail, open_existing_store_or_fail, store_options

if TYPE_CHECKING:
    from opensts.runtime import Runtime
    from opensts.store.audit import StoredEvent

EXIT_INTACT = 0
EXIT_TAMPERED = 1
EXIT_ERROR = 2
TAIL_POLL_SECONDS = 0.5
MAX_TAIL_LINES = 10_000


def _error(message: str) -> NoReturn:
    fail(" ".join(message.split()), EXIT_ERROR)


def _open(data_dir: str | None, database_url: str | None) -> "Runtime":
    return open_existing_store_or_fail(data_dir, database_url, status=EXIT_ERROR)


@click.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
@store_options
def verify(as_json: bool, data_dir: str | None, database_url: str | None) -> None:
    """Check every account's audit chain and signed checkpoints.

    Exit status: 0 intact, 1 tampered with (the first problem of each account is printed),
    2 the check could not be made.
    """
    from opensts.audit.verify import verify as verify_chains

    runtime = _open(data_dir, database_url)
    try:
        report = verify_chains(runtime)
    except Exception as exc:  # noqa: BLE001 - the database went away mid-check
        _error(f"could not read the audit trail: {type(exc).__name__}: {exc}")
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps({"Intact": report.intact, "Accounts": [
            {"AccountId": r.account_id, "Intact": r.intact, "Events": r.events, "FirstSeq": r.first_seq,
             "LastSeq": r.last_seq, "Checkpoints": r.checkpoints,
             "Problem": None if r.problem is None else {
                 "Kind": r.problem.kind, "Seq": r.problem.seq, "EventId": r.problem.event_id,
                 "Message": r.problem.message}}
            for r in report.accounts]}))
    else:
        for r in report.accounts:
            if r.problem is None:
                span = f"seq {r.first_seq}..{r.last_seq}" if r.events else "no events"
                click.echo(f"{r.account_id}  intact    {r.events} events ({span}), {r.checkpoints} checkpoints")
            else:
                p = r.problem
                where = f" at seq {p.seq}" if p.seq is not None else ""
                event = f", event {p.event_id}" if p.event_id else ""
                click.echo(f"{r.account_id}  TAMPERED  {p.kind}{where}{event}: {p.message}")
        if not report.accounts:
            click.echo("no audit events recorded yet")
    sys.exit(EXIT_INTACT if report.intact else EXIT_TAMPERED)


@click.command("tail")
@click.option("-n", "--lines", default=10, show_default=True, type=click.IntRange(0, MAX_TAIL_LINES),
              help="How many of the newest events to print first.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events as they are recorded.")
@click.option("--account", "account_id", default=None, help="Only this account's events (12 digits).")
@store_options
def tail(lines: int, follow: bool, account_id: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Print the newest audit events as JSON lines; with -f, follow new ones."""
    from opensts.identity import ids

    if account_id is not None and not ids.is_account_id(account_id):
        _error(f"invalid account id {account_id!r}: an account id is exactly 12 digits")
    runtime = _open(data_dir, database_url)
    audit = runtime.store.audit
    try:
        heads = {h.account_id: h.seq for h in audit.heads()}
        newest: list[StoredEvent] = []
        if lines:
            for account, seq in heads.items():
                if account_id is None or account == account_id:
                    newest.extend(audit.lookup(account, before_seq=seq + 1, limit=lines))
        newest.sort(key=lambda e: (e.event_time, e.account_id, e.seq))
        _print(newest[len(newest) - lines:] if lines else [])
        while follow:
            time.sleep(TAIL_POLL_SECONDS)
            new = audit.after(after=heads)
            for event in new:
                heads[event.account_id] = max(heads.get(event.account_id, 0), event.seq)
            _print([e for e in new if account_id is None or e.account_id == account_id])
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - the database went away
        _error(f"could not read the audit trail: {type(exc).__name__}: {exc}")
    finally:
        runtime.close()


def _print(events: "list[StoredEvent]") -> None:
    for event in events:
        click.echo(event.record)
    if events:
        sys.stdout.flush()
