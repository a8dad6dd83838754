"""decision_for remembers decisions per caller: what it keys them on, and what it refuses to keep.

Remembered decisions are served to later requests of the same caller, so the key must hold every
context value the policies read; and since callers choose some of those values, the memo must not
grow with what they send.
"""
from __future__ import annotations

import json
from typing import Any

from opensts.access.authorize import CallerPolicies, decision_for
from opensts.policy import PolicySet, Principal, PrincipalType, parse_policy

ALICE = Principal("arn:aws:iam::123456789012:user/alice", PrincipalType.USER, "123456789012", "AIDAALICE")


def policies(*statements: dict[str, Any]) -> CallerPolicies:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return CallerPolicies(ALICE, PolicySet([parse_policy(document)]), (), ())


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
