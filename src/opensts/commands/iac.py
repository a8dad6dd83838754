"""``opensts plan``, ``opensts apply`` and ``opensts export``: IAM as code (docs/IAM-AS-CODE.md).

Exit status: 0 done (``plan``: whether or not there are changes; ``plan --detailed-exitcode``: 2
when there are), 1 any error, as one line on stderr naming the file's field or the failing call
(never a traceback). ``serve --bootstrap`` calls :func:`bootstrap`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opensts.commands.audit_events import os_user
from opensts.commands.common import fail, open_existing_store_or_fail, store_options
from opensts.iac.errors import IacError

if TYPE_CHECKING:
    from opensts.iac.apply import NewKey
    from opensts.iac.format import Document
    from opensts.iac.plan import Change
    from opensts.runtime import Runtime

_as_option = click.option(
    "--as", "as_arn", default=None, metavar="ARN",
    help="Call IAM as this IAM user or role of the account (its permissions apply) [default: the account's root].",
)
_prune_option = click.option("--prune", is_flag=True, help="Also delete what the account holds and the file does not declare.")


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False))
@_prune_option
@_as_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when there are none.")
@store_options
def plan(file: str, prune: bool, as_arn: str | None, detailed_exitcode: bool, data_dir: str | None, database_url: str | None) -> None:
    """Print what `opensts apply FILE` would change (+ create, ~ update, - delete with --prune).

    Reads the current state through IAM's read actions, as the principal (root by default).
    """
    from opensts.iac.apply import has_changes, open_trail, prepare
    from opensts.iac.plan import render

    document = _load_or_fail(file)
    runtime = open_existing_store_or_fail(data_dir, database_url)
    trail = open_trail(runtime)
    try:
        prepared = prepare(runtime, document, as_arn=as_arn, prune=prune, command="plan", trail=trail, os_user=os_user())
    except IacError as exc:
        fail(str(exc))
    finally:
        if trail is not None:
            trail.close()
        runtime.close()
    click.echo(render([p.plan for p in prepared]))
    if detailed_exitcode and has_changes(prepared):
        sys.exit(2)


@click.command("apply")
@click.argument("file", type=click.Path(dir_okay=False))
@_prune_option
@_as_option
@click.option(
    "--keys-dir", default=None, type=click.Path(file_okay=False), metavar="DIR",
    help="Write each new access key to DIR/ACCOUNT-USER.json (mode 0600) instead of printing it.",
)
@store_options
def apply(file: str, prune: bool, as_arn: str | None, keys_dir: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Make the changes `opensts plan FILE` shows, through IAM's actions as the principal.

    A second apply of the same file changes nothing. New access keys (users with `access_key: true`
    and no key) are printed once as JSON lines, or written to --keys-dir.
    """
    from opensts.iac.apply import run
    from opensts.iac.plan import render

    document = _load_or_fail(file)
    if keys_dir is not None:
        _keys_dir_or_fail(Path(keys_dir))
    runtime = open_existing_store_or_fail(data_dir, database_url)
    printed: list[str] = []

    def progress(account: str, change: "Change | None") -> None:
        if not printed or printed[-1] != account:
            click.echo(f"account {account}:")
            printed.append(account)
        click.echo(f"  + account {account}" if change is None else f"  {change.symbol} {change.kind} {change.name}")

    try:
        prepared, keys = run(runtime, document, as_arn=as_arn, prune=prune, command="apply", os_user=os_user(), on_change=progress)
    except IacError as exc:
        fail(str(exc))
    finally:
        runtime.close()
    plans = [p.plan for p in prepared]
    if render(plans) == "No changes.":
        click.echo("No changes.")
    else:
        counts = {s: sum(1 for p in plans for c in p.changes if c.symbol == s) for s in "+~-"}
        counts["+"] += sum(1 for p in plans if p.create_account)
        click.echo(f"Applied: {counts['+']} created, {counts['~']} updated, {counts['-']} deleted.")
    _hand_out(keys, Path(keys_dir) if keys_dir else None)


@click.command("export")
@click.option("--account", "account_id", default=None, metavar="ID", help="Only this account (default: every account).")
@click.option("--to", "to", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Write to FILE (.json: JSON, else YAML) instead of standard output (YAML).")
@store_options
def export(account_id: str | None, to: str | None, data_dir: str | None, database_url: str | None) -> None:
    """Write the current IAM state in the `opensts apply` format (never access keys or passwords)."""
    from opensts.iac.apply import open_trail
    from opensts.iac.calls import Invoker, principal
    from opensts.iac.export import content, render
    from opensts.iac.state import read_account

    runtime = open_existing_store_or_fail(data_dir, database_url)
    trail = open_trail(runtime)
    try:
        ids = [a.account_id for a in runtime.store.accounts.list()]
        if account_id is not None:
            if account_id not in ids:
                fail(f"no account {account_id}")
            ids = [account_id]
        accounts = []
        for one in ids:
            invoker = Invoker(runtime, principal(runtime, one, None), "export", os_user(), trail)
            accounts.append(read_account(invoker, one, instance_profiles=invoker.has("GetInstanceProfile")))
    except IacError as exc:
        fail(str(exc))
    finally:
        if trail is not None:
            trail.close()
        runtime.close()
    text = render(content(accounts, single=account_id is not None), as_json=bool(to and to.lower().endswith(".json")))
    if to is None:
        click.echo(text, nl=False)
        return
    try:
        Path(to).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {to}: {exc.strerror or exc}")


def bootstrap(runtime: "Runtime", file: str) -> None:
    """``serve --bootstrap FILE``: apply FILE once the store is open, before serving; an error
    refuses the start (one line). New access keys go to DATA_DIR/bootstrap-keys/ (0600)."""
    from opensts.iac.apply import run
    from opensts.iac.format import load

    try:
        document = load(file)
        _, keys = run(runtime, document, command="serve --bootstrap", os_user=os_user())
    except IacError as exc:
        runtime.close()
        fail(f"--bootstrap {file}: {exc}")
    if keys:
        directory = runtime.settings.data_dir / "bootstrap-keys"
        _keys_dir_or_fail(directory)
        _hand_out(keys, directory)


def _load_or_fail(file: str) -> "Document":
    from opensts.iac.format import load

    try:
        return load(file)
    except IacError as exc:
        fail(str(exc))


def _keys_dir_or_fail(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create {directory}: {exc.strerror or exc}")


def _hand_out(keys: "list[NewKey]", directory: Path | None) -> None:
    """Each new secret once: a JSON line on stdout, or a 0600 file that did not exist before."""
    from opensts.iac.apply import key_record
    from opensts.tokens.private_file import create_private_file

    for key in keys:
        data = (json.dumps(key_record(key), indent=2) + "\n").encode()
        if directory is None:
            click.echo(json.dumps(key_record(key)))
            continue
        for name in (f"{key.account_id}-{key.user_name}.json", f"{key.account_id}-{key.user_name}-{key.access_key_id}.json"):
            path = directory / name
            if create_private_file(path, data):
                click.echo(f"access key {key.access_key_id} of {key.user_name} written to {path}", err=True)
                break
        else:  # cannot happen (key ids are unique); never lose the secret silently
            click.echo(json.dumps(key_record(key)))
