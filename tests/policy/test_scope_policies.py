"""Scope-down policies (GetScopedCredentials layers): each must allow, a Deny in any denies, they
bound resource-policy grants too, and their condition keys count for remembered decisions."""
from __future__ import annotations

from opensts.policy import Outcome, context_keys, evaluate, evaluate_trust, parse_policy

from .helpers import ACCT, allow, deny, doc, pol, req, session

A, E, I = Outcome.ALLOW, Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY
BUCKET = "arn:aws:s3:::bucket/key"


def run(request, identity, scopes, resource_policy=None):
    return evaluate(request, identity, resource_policy, scope_policies=scopes)


def test_every_layer_must_allow():
    request = req(session(), resource=BUCKET, resource_account=ACCT)
    everything = [pol(allow())]
    assert run(request, everything, []).outcome is A
    assert run(request, everything, [pol(allow("s3:*")), pol(allow("s3:GetObject"))]).outcome is A
    d = run(request, everything, [pol(allow("s3:*")), pol(allow("s3:PutObject"))])
    assert d.outcome is I and d.blocked_by == ("scope",) and "scope-down" in d.reasons[0]
    # A layer grants nothing by itself.
    assert run(request, [], [pol(allow())]).outcome is I


def test_a_deny_in_a_layer_denies():
    request = req(session(), resource=BUCKET, resource_account=ACCT)
    d = run(request, [pol(allow())], [pol(allow(), deny("s3:GetObject", Sid="NoGet"))])
    assert d.outcome is E and d.blocked_by == ("scope",) and any(m.source == "scope" for m in d.matched)


def test_layers_bound_a_resource_policy_naming_the_session():
    principal = session()
    request = req(principal, resource=BUCKET, resource_account=ACCT)
    grant = parse_policy(doc(allow("s3:GetObject", BUCKET, Principal={"AWS": principal.arn})), "resource")
    assert run(request, [], [], grant).outcome is A
    assert run(request, [], [pol(allow("s3:PutObject"))], grant).outcome is I


def test_trust_decisions_apply_the_layers():
    principal = session()
    role = f"arn:aws:iam::{ACCT}:role/target"
    trust = parse_policy(doc({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"}), "trust")
    request = req(principal, action="sts:AssumeRole", resource=role, resource_account=ACCT)
    assert evaluate_trust(request, trust, [pol(allow())]).outcome is A
    narrowed = evaluate_trust(request, trust, [pol(allow())], scope_policies=[pol(allow("s3:*"))])
    assert narrowed.outcome is I and narrowed.blocked_by == ("scope",)


def test_context_keys_include_the_layers():
    layer = pol(allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert context_keys("s3:GetObject", [pol(allow())]) == frozenset()
    assert "aws:sourceip" in context_keys("s3:GetObject", [pol(allow())], scope_policies=[layer])
