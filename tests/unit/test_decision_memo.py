"""decision_for remembers decisions per caller: what it keys them on, and what it refuses to keep.

Remembered decisions are served to later requests of the same caller, so the key must hold every
context value the policies read; and since callers choose some of those values (and the number of
credentials), the memo must not grow with what they send: one budget for the whole process.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from opensts.access import authorize as authorize_module
from opensts.access.authorize import CallerPolicies, caller_policies, decide as decide_for, decision_for, memos_of
from opensts.cache import Caches
from opensts.identity.principal import Caller, PrincipalKind
from opensts.policy import PolicySet, Principal, PrincipalType, parse_policy
from opensts.runtime import Runtime

ALICE = Principal("arn:aws:iam::123456789012:user/alice", PrincipalType.USER, "123456789012", "AIDAALICE")


def policies(*statements: dict[str, Any], caches: Caches | None = None) -> CallerPolicies:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return CallerPolicies(ALICE, PolicySet([parse_policy(document)]), (), (), **memos_of(caches or Caches()))


def decide(caller: CallerPolicies, action: str, context: dict[str, Any]) -> bool:
    return decision_for(caller, action, "*", None, None, lambda: context)[0].allowed


def test_unconditional_decisions_need_no_context() -> None:
    caller = policies({"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "arn:aws:ec2:*:*:instance/*"})

    def no_context() -> dict[str, Any]:
        raise AssertionError("the context was built for a decision that reads none")

    for resource in ("arn:aws:ec2:us-east-1:123456789012:instance/i-1", "arn:aws:ec2:us-east-1:123456789012:volume/v"):
        for _ in range(2):  # decided, then remembered
            decision, request = decision_for(caller, "ec2:StopInstances", resource, None, None, no_context)
            assert decision.allowed is resource.endswith("i-1") and request is None
    assert len(caller.decisions) == 2


def test_conditional_decisions_are_kept_per_value_of_the_keys_read() -> None:
    caller = policies({"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*",
                       "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})
    answers = [decide(caller, "ec2:StopInstances", {"aws:SourceIp": ip, "aws:CurrentTime": f"t{n}"})
               for n, ip in enumerate(["10.1.1.1", "192.0.2.1", "10.1.1.1", "192.0.2.1"])]
    assert answers == [True, False, True, False]
    assert len(caller.decisions) == 2  # one per address: aws:CurrentTime is not read, so not in the key


def test_large_caller_supplied_values_are_not_kept() -> None:
    caller = policies({"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                       "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": ["team-*"]}}})
    big = [f"team-{n}-" + "x" * 100 for n in range(20)]
    assert decide(caller, "ec2:CreateTags", {"aws:TagKeys": big}) is True
    assert decide(caller, "ec2:CreateTags", {"aws:TagKeys": big + ["owner"]}) is False
    assert len(caller.decisions) == 0
    assert decide(caller, "ec2:CreateTags", {"aws:TagKeys": ["team-a"]}) is True
    assert len(caller.decisions) == 1


def test_trust_decisions_are_kept_per_value_of_the_keys_the_trust_policy_reads() -> None:
    from opensts.access.authorize import trust_decision_for

    caller = policies({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "right"}}}]})
    role = "arn:aws:iam::123456789012:role/deployer"

    def assume(external_id: str, extra: tuple[str, ...] = ()) -> bool:
        context = {"sts:ExternalId": external_id, "aws:CurrentTime": external_id}
        return trust_decision_for(caller, trust, role, "123456789012", extra, context).allowed

    assert [assume(e) for e in ("right", "wrong", "right", "wrong")] == [True, False, True, False]
    assert len(caller.decisions) == 2  # one per external id (aws:CurrentTime is not read)
    assert assume("right", ("sts:TagSession",)) is False  # another question: the trust policy allows no tagging


def test_a_new_trust_policy_for_the_same_role_is_decided_afresh() -> None:
    # The role record (and its trust policy) may be read under a newer IAM version than the caller's
    # cached policies: a remembered answer must never outlive the trust policy it was made under.
    from opensts.access.authorize import trust_decision_for

    caller = policies({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    role = "arn:aws:iam::123456789012:role/deployer"
    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
                 "Action": "sts:AssumeRole"}
    open_trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    network_trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {**statement, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]})
    context = {"aws:SourceIp": "192.0.2.1"}
    assert trust_decision_for(caller, open_trust, role, "123456789012", (), context).allowed is True
    assert trust_decision_for(caller, network_trust, role, "123456789012", (), context).allowed is False


def test_one_shot_iterators_are_read_by_the_engine_not_by_the_memo() -> None:
    caller = policies({"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                       "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}})
    assert decide(caller, "ec2:CreateTags", {"aws:TagKeys": iter(["owner", "team"])}) is True
    assert len(caller.decisions) == 0


# --- one budget for the whole process --------------------------------------------------------------
# The caches' bound: a worker holds at most this many remembered decisions, whatever the callers.
DECISIONS_MAX = 100_000


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    from opensts.config import Settings
    from opensts.runtime import open_runtime

    opened = open_runtime(Settings(data_dir=tmp_path))
    try:
        yield opened
    finally:
        opened.close()


def credential(runtime: Runtime, n: int) -> Caller:
    """The n-th of many credentials (each access key id has its own CallerPolicies, as each session does)."""
    account = runtime.default_account_id
    return Caller(PrincipalKind.ROOT, account, f"arn:aws:iam::{account}:root", account, f"AKIATEST{n:012d}")


def no_context() -> dict[str, Any]:
    return {}


def test_remembered_decisions_have_one_bound_per_process_not_per_credential(runtime: Runtime) -> None:
    # 150 credentials x 800 resources: each credential's share is under the old per-credential bound
    # (1,024), so memos per credential would hold all 120,000.
    callers = [credential(runtime, n) for n in range(150)]
    account = runtime.default_account_id
    resources = [f"arn:aws:ec2:us-east-1:{account}:instance/i-{n:017x}" for n in range(800)]
    for caller in callers:
        for resource in resources:
            assert decide_for(runtime, caller, "ec2:StopInstances", resource, no_context).allowed
    held = {id(c.decisions): c.decisions for c in (caller_policies(runtime, caller) for caller in callers)}
    assert sum(len(memo) for memo in held.values()) <= DECISIONS_MAX
    assert list(held.values()) == [runtime.caches.decisions]  # the one process-wide cache
    assert len(runtime.caches.decisions) == runtime.caches.decisions.max_entries == DECISIONS_MAX
    assert len(runtime.caches.decision_keys) == len(callers)  # one set of keys per credential and action
    assert runtime.caches.decision_keys.max_entries == DECISIONS_MAX


def test_decisions_on_long_resources_are_not_remembered(runtime: Runtime) -> None:
    caller = credential(runtime, 1)
    prefix = f"arn:aws:s3:::bucket/{'k' * 300}"
    for n in range(50):  # /v1/authorize takes resources of up to 2,048 characters
        assert decide_for(runtime, caller, "s3:GetObject", f"{prefix}{n}", no_context).allowed
    assert len(runtime.caches.decisions) == 0
    short = "arn:aws:s3:::bucket/" + "k" * (256 - len("arn:aws:s3:::bucket/"))
    assert len(short) == 256
    decide_for(runtime, caller, "s3:GetObject", short, no_context)
    decide_for(runtime, caller, "s3:GetObject", short + "k", no_context)
    assert len(runtime.caches.decisions) == 1


def test_a_remembered_decision_is_used_until_the_next_iam_change(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluated: list[str] = []
    engine = authorize_module.evaluate

    def counted(request: Any, *args: Any, **kwargs: Any) -> Any:
        evaluated.append(request.resource)
        return engine(request, *args, **kwargs)

    monkeypatch.setattr(authorize_module, "evaluate", counted)
    caller = credential(runtime, 1)
    resource = f"arn:aws:ec2:us-east-1:{runtime.default_account_id}:instance/i-1"
    for _ in range(3):
        assert decide_for(runtime, caller, "ec2:StopInstances", resource, no_context).allowed
    assert evaluated == [resource]  # decided once, then remembered
    assert len(runtime.caches.decisions) == 1 and len(runtime.caches.decision_keys) == 1

    runtime.store.users.create(runtime.default_account_id, "AIDAEXAMPLEUSER0001", "bob")  # an IAM write
    assert len(runtime.caches.decisions) == 0 and len(runtime.caches.decision_keys) == 0
    assert decide_for(runtime, caller, "ec2:StopInstances", resource, no_context).allowed
    assert decide_for(runtime, caller, "ec2:StopInstances", resource, no_context).allowed
    assert evaluated == [resource, resource]  # decided afresh after the change, then remembered again


def test_callers_that_share_the_memo_never_get_each_others_decisions() -> None:
    # Two CallerPolicies alike but for their policies, as a caller's before and after an IAM change
    # (a request still holding the old one may remember a decision after the memo was cleared).
    caches = Caches()
    allowed = policies({"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*"}, caches=caches)
    denied = policies({"Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*"}, caches=caches)
    for _ in range(2):
        assert decide(allowed, "ec2:StopInstances", {}) is True
        assert decide(denied, "ec2:StopInstances", {}) is False
    assert len(caches.decisions) == 2
