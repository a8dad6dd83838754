"""Planning and applying a file: read each declared account's state, compute the changes
(:mod:`opensts.iac.plan`), and make exactly those calls, in order, as the chosen principal.

An account the file declares that the store does not hold is created first (as ``opensts account
create`` does, recorded as a ``CreateAccount`` service event; with no root access key: declare a
user with ``access_key: true`` to reach it). Only the operator creates accounts: with ``--as`` a
missing account is an error.

Apply stops at the first failing call and reports it (``Action: Code: message``); what was applied
before it stays applied (IAM has no transactions), and running apply again continues from there.
New access keys are returned to the caller (the command prints them once or writes them to files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from opensts.iac.calls import SOURCE, Invoker, principal
from opensts.iac.format import Account, Document, IacError, bind_account
from opensts.iac.plan import AccountPlan, Change, plan_account
from opensts.iac.state import read_account

if TYPE_CHECKING:
    from opensts.audit.trail import AuditTrail
    from opensts.runtime import Runtime


@dataclass(frozen=True)
class NewKey:
    account_id: str
    user_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass
class Prepared:
    plan: AccountPlan
    invoker: Invoker


def open_trail(runtime: "Runtime") -> "AuditTrail | None":
    """The audit trail in-process calls are recorded in (None when the audit trail is off)."""
    settings = runtime.settings
    if settings.audit != "on":
        return None
    from opensts.audit.streams import streams_for
    from opensts.audit.trail import AuditTrail

    audit_log = settings.audit_log if settings.audit_log != "-" else None  # stdout is the command's own
    return AuditTrail(runtime.store, runtime.default_account_id, streams_for(audit_log, settings.audit_dir))


def prepare(
    runtime: "Runtime", document: Document, *, as_arn: str | None, prune: bool, command: str,
    trail: "AuditTrail | None", os_user: str | None,
) -> list[Prepared]:
    """The plan of every account the file declares (reading each account's state as the principal)."""
    out = []
    for account in document.accounts:
        if not account.account_id:
            bind_account(account, runtime.default_account_id)
        exists = runtime.store.accounts.get(account.account_id) is not None
        if not exists and as_arn is not None:
            raise IacError(
                f"account {account.account_id} does not exist (only the operator creates accounts: apply without --as)",
                f"{account.where}id" if account.where else "account",
            )
        caller = principal(runtime, account.account_id, as_arn) if exists else principal(runtime, account.account_id, None)
        invoker = Invoker(runtime, caller, command, os_user, trail)
        if exists:
            current = read_account(invoker, account.account_id, instance_profiles=invoker.has("GetInstanceProfile"))
            changes = plan_account(account, current, invoker, prune=prune, has=invoker.has)
        else:
            changes = plan_account(account, Account(account.account_id), None, prune=prune, has=invoker.has)
        out.append(Prepared(AccountPlan(account.account_id, changes, create_account=not exists), invoker))
    return out


def execute(
    runtime: "Runtime", prepared: list[Prepared], on_change: Callable[[str, Change | None], None] | None = None,
) -> list[NewKey]:
    """Make every planned call, in order. ``on_change(account, change)`` before each change."""
    keys: list[NewKey] = []
    for item in prepared:
        plan = item.plan
        if plan.create_account:
            if on_change is not None:
                on_change(plan.account_id, None)
            _create_account(runtime, plan.account_id, item.invoker)
        for change in plan.changes:
            if on_change is not None:
                on_change(plan.account_id, change)
            for step in change.steps:
                result = item.invoker(step.action, step.params)
                if step.user is not None:
                    key = result.access_key
                    keys.append(NewKey(plan.account_id, step.user, key.access_key_id, key.secret_access_key))
    return keys


def _create_account(runtime: "Runtime", account_id: str, invoker: Invoker) -> None:
    from opensts.store import AccountExists

    try:
        runtime.store.accounts.create(account_id, account_id)
    except AccountExists:
        return  # created meanwhile (another apply): nothing of ours to record
    except Exception as exc:  # noqa: BLE001 - e.g. its id is taken as another account's name
        raise IacError(f"cannot create account {account_id}: {exc}") from None
    if invoker.trail is None:
        return
    from opensts.audit.record import service_event

    event = service_event(
        account_id=runtime.default_account_id, event_name="CreateAccount", event_time=datetime.now(timezone.utc),
        parameters={"accountId": account_id, "accountName": account_id}, response={"accountId": account_id},
        invoked_by=SOURCE, username=invoker.os_user,
    )
    invoker.trail.record_now([event])


def has_changes(prepared: list[Prepared]) -> bool:
    return any(p.plan.changes or p.plan.create_account for p in prepared)


def run(
    runtime: "Runtime", document: Document, *, as_arn: str | None = None, prune: bool = False, command: str = "apply",
    os_user: str | None = None, on_change: Callable[[str, Change | None], None] | None = None,
) -> tuple[list[Prepared], list[NewKey]]:
    """Plan and apply ``document`` (``opensts serve --bootstrap`` and ``opensts apply``)."""
    trail = open_trail(runtime)
    try:
        prepared = prepare(runtime, document, as_arn=as_arn, prune=prune, command=command, trail=trail, os_user=os_user)
        keys = execute(runtime, prepared, on_change)
    finally:
        if trail is not None:
            trail.close()
    return prepared, keys


def key_record(key: NewKey) -> dict[str, Any]:
    return {
        "AccountId": key.account_id, "UserName": key.user_name, "AccessKeyId": key.access_key_id,
        "SecretAccessKey": key.secret_access_key,
    }
