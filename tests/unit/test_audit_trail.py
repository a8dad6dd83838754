"""The trail's group commit (audit/trail.py) on every backend: hostile values do not take other
calls' events down with them, and a call whose record cannot be built is never answered as recorded."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from opensts.audit import committer as committer_module
from opensts.audit.record import ApiCall
from opensts.audit.trail import AuditTrail, AuditUnavailable
from opensts.fields import NoParameters
from opensts.identity.principal import Caller, PrincipalKind
from opensts.store import Store
from tests.unit.conftest import ACCOUNT

ROOT = Caller(PrincipalKind.ROOT, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "AKIAEXAMPLEEXAMPLE00")


def call(request_id: str, **overrides: object) -> ApiCall:
    values: dict[str, object] = dict(
        event_time=datetime.now(timezone.utc), request_id=request_id, service="sts", action="GetCallerIdentity",
        read_only=True, source_ip="127.0.0.1", user_agent="test", region="us-east-1", host=None, secure=False,
        caller=ROOT, request=NoParameters(),
    )
    values.update(overrides)
    return ApiCall(**values)  # type: ignore[arg-type]


def recorded(store: Store) -> dict[str, dict]:  # type: ignore[type-arg]
    return {json.loads(e.record)["requestID"]: json.loads(e.record) for e in store.audit.chain(ACCOUNT)}


def test_hostile_values_are_stored_cut_to_size_beside_their_neighbours(store: Store) -> None:
    """A claimed key id of 300 characters with a NUL and a lone surrogate (the signature parser
    accepts long ids; PostgreSQL refuses NUL and the column holds 128) is recorded, cut down, in the
    same group as an ordinary call, and both are durable."""
    trail = AuditTrail(store, ACCOUNT)
    hostile = "AKIA" + "\x00\udc80" + "X" * 300

    async def run() -> None:
        await asyncio.gather(
            trail.record_durably(call("ordinary")),
            trail.record_durably(call("hostile", caller=None, claimed_key_id=hostile,
                                      user_agent="ua\x00\udc80" * 50)),
        )

    asyncio.run(run())
    events = recorded(store)
    assert set(events) == {"ordinary", "hostile"}
    stored_key = next(e.access_key_id for e in store.audit.chain(ACCOUNT) if json.loads(e.record)["requestID"] == "hostile")
    assert stored_key is not None and len(stored_key) <= 128 and "\x00" not in stored_key
    assert events["hostile"]["userIdentity"]["type"] == "Unknown"


def test_a_call_whose_record_cannot_be_built_hears_audit_unavailable(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials are never released unrecorded: if building a call's record fails (a bug, or the
    store failing an account look-up), that caller gets AuditUnavailable and the others commit."""
    real = committer_module.api_call_events

    def failing(c: ApiCall, *args: object):  # type: ignore[no-untyped-def]
        if c.request_id == "broken":
            raise RuntimeError("store unavailable")
        return real(c, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(committer_module, "api_call_events", failing)
    trail = AuditTrail(store, ACCOUNT)

    async def run() -> list[object]:
        return await asyncio.gather(
            trail.record_durably(call("fine")), trail.record_durably(call("broken")), return_exceptions=True
        )

    outcomes = asyncio.run(run())
    assert outcomes[0] is None and isinstance(outcomes[1], AuditUnavailable)
    assert set(recorded(store)) == {"fine"}
    assert trail.counters()["opensts_audit_events_failed_total"] == 1


def test_an_arn_of_another_account_does_not_write_into_its_trail(store: Store) -> None:
    """Only assuming a role is recorded in the role's account too; any other call naming another
    account's ARN stays in the caller's trail."""
    store.accounts.create("210987654321", "b")

    @dataclass(frozen=True)
    class GetPolicyRequest:  # stands for any request that names a policy ARN
        policy_arn: str

    trail = AuditTrail(store, ACCOUNT)

    async def run() -> None:
        await trail.record_durably(call("get-policy", service="iam", action="GetPolicy",
                                        request=GetPolicyRequest("arn:aws:iam::210987654321:policy/p")))

    asyncio.run(run())
    assert set(recorded(store)) == {"get-policy"}
    assert list(store.audit.chain("210987654321")) == []
