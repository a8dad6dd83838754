"""reads_context / context_keys: which parts of the request context a decision can depend on.

``opensts.access.authorize.decision_for`` remembers every decision for which ``reads_context`` is
False and serves it to later requests of the same caller whatever their context (source IP, MFA,
region, ...). A False answer for a statement that does read the context would therefore let one
request's decision leak into another's: these tests pin both the unit rules and the promise that
``evaluate`` is context-independent whenever ``reads_context`` says so. ``decision_for`` also
remembers conditional decisions keyed by the values of ``context_keys``: two contexts that agree on
those keys must get the same decision.
"""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.policy import (
    Decision, PolicySet, Principal, Request, context_keys, evaluate, parse_policy, reads_context,
)

from .helpers import allow, deny, doc, session, user

SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

IP_CONDITION = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
MFA_CONDITION = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
REGION_CONDITION = {"StringEquals": {"ec2:Region": "us-east-1"}}
HOME = "arn:aws:s3:::b/${aws:username}/*"


def _pol(*statements: dict[str, Any]) -> Any:
    return parse_policy(doc(*statements))


# --- unit rules ---------------------------------------------------------------------------------
def test_no_policies_read_nothing() -> None:
    assert reads_context("s3:GetObject") is False
    assert reads_context("s3:GetObject", [], [], []) is False


def test_unconditional_statements_read_nothing() -> None:
    policy = _pol(allow("s3:GetObject", "arn:aws:s3:::b/*"), deny("s3:GetObject", "arn:aws:s3:::b/secret"))
    assert reads_context("s3:GetObject", [policy]) is False


def test_a_condition_on_the_action_reads_the_context() -> None:
    policy = _pol(allow("s3:GetObject", Condition=IP_CONDITION))
    assert reads_context("s3:GetObject", [policy]) is True


def test_action_matching_follows_wildcards_and_ignores_case() -> None:
    policy = _pol(allow("s3:Get*", Condition=IP_CONDITION))
    assert reads_context("s3:GetObject", [policy]) is True
    assert reads_context("S3:GETOBJECT", [policy]) is True
    assert reads_context("s3:PutObject", [policy]) is False


def test_a_policy_variable_in_resource_reads_the_context() -> None:
    assert reads_context("s3:GetObject", [_pol(allow("s3:GetObject", HOME))]) is True


def test_a_policy_variable_in_not_resource_reads_the_context() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": HOME}
    assert reads_context("s3:GetObject", [_pol(statement)]) is True


def test_a_conditional_statement_for_another_action_only_does_not_count() -> None:
    policy = _pol(
        allow("s3:GetObject"),
        allow("s3:PutObject", Condition=IP_CONDITION),
        deny("ec2:*", HOME),
    )
    assert reads_context("s3:GetObject", [policy]) is False
    assert reads_context("s3:PutObject", [policy]) is True
    assert reads_context("ec2:StopInstances", [policy]) is True


def test_not_action_statements_count_when_they_match() -> None:
    statement = {"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*", "Condition": MFA_CONDITION}
    policy = _pol(statement)
    assert reads_context("s3:GetObject", [policy]) is True  # NotAction s3:PutObject covers s3:GetObject
    assert reads_context("s3:PutObject", [policy]) is False  # the only action it excludes


def test_deny_statements_count() -> None:
    no_mfa = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    policy = _pol(allow("s3:*"), deny("s3:GetObject", Condition=no_mfa))
    assert reads_context("s3:GetObject", [policy]) is True


def test_permissions_boundaries_are_looked_at() -> None:
    plain = [_pol(allow("s3:*"))]
    boundary = [_pol(allow("s3:GetObject", Condition=IP_CONDITION))]
    assert reads_context("s3:GetObject", plain) is False
    assert reads_context("s3:GetObject", plain, boundary) is True
    assert reads_context("s3:GetObject", plain, permissions_boundaries=[_pol(allow("s3:GetObject", HOME))]) is True


def test_session_policies_are_looked_at() -> None:
    plain = [_pol(allow("s3:*"))]
    session_policy = [_pol(deny("s3:GetObject", Condition={"StringNotEquals": {"ec2:Region": "us-east-1"}}))]
    assert reads_context("s3:GetObject", plain, session_policies=session_policy) is True
    assert reads_context("s3:GetObject", plain, [], session_policy) is True


def test_policy_sets_and_documents_are_accepted() -> None:
    conditional = doc(allow("s3:GetObject", Condition=IP_CONDITION))
    assert reads_context("s3:GetObject", PolicySet([conditional])) is True
    assert reads_context("s3:GetObject", [conditional]) is True
    assert reads_context("s3:GetObject", PolicySet([doc(allow("s3:GetObject"))])) is False


# --- reads_context True is meaningful: the context does change these decisions --------------------
def _outcome(context: dict[str, Any], principal: Principal | None = None, **policies: Any) -> Any:
    """The outcome for s3:GetObject on alice's home object under ``policies`` (evaluate's keywords)."""
    request = Request(principal or user(), "s3:GetObject", "arn:aws:s3:::b/alice/k", context=context)
    return evaluate(request, **policies).outcome


def test_a_context_reading_decision_does_change_with_the_context() -> None:
    """The converse of the property below: these are exactly the decisions that must not be remembered."""
    cases: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
        ({"identity_policies": [_pol(allow("s3:GetObject", Condition=IP_CONDITION))]},
         {"aws:SourceIp": "10.1.2.3"}, {"aws:SourceIp": "192.0.2.1"}),
        ({"identity_policies": [_pol(allow("s3:*"), deny("s3:GetObject", Condition=MFA_CONDITION))]},
         {"aws:MultiFactorAuthPresent": False}, {"aws:MultiFactorAuthPresent": True}),
        ({"identity_policies": [_pol(allow("s3:GetObject", HOME))]},
         {}, {"aws:username": "bob"}),  # explicit context overrides the derived aws:username
        ({"identity_policies": [_pol(allow("s3:*"))],
          "permissions_boundaries": [_pol(allow("s3:GetObject", Condition=REGION_CONDITION))]},
         {"ec2:Region": "us-east-1"}, {"ec2:Region": "eu-west-1"}),
    ]
    for policies, first, second in cases:
        assert reads_context("s3:GetObject", **policies) is True, policies
        assert _outcome(first, **policies) != _outcome(second, **policies), policies


def test_session_policy_with_a_condition_changes_a_session_decision() -> None:
    identity = [_pol(allow("s3:*"))]
    session_policies = [_pol(allow("s3:GetObject", Condition=IP_CONDITION))]
    assert reads_context("s3:GetObject", identity, session_policies=session_policies) is True
    who = session()
    both = {"identity_policies": identity, "session_policies": session_policies}
    inside = _outcome({"aws:SourceIp": "10.0.0.1"}, principal=who, **both)
    outside = _outcome({"aws:SourceIp": "192.0.2.1"}, principal=who, **both)
    assert inside != outside


# --- property: reads_context False means evaluate ignores the context -----------------------------
ACTIONS = ["s3:GetObject", "s3:PutObject", "ec2:StopInstances", "iam:CreateUser"]
ACTION_PATTERNS = ["s3:GetObject", "s3:Get*", "s3:*", "*", "ec2:StopInstances", "ec2:*Instances", "iam:CreateUser",
                   "S3:getobject"]
RESOURCES = ["arn:aws:s3:::b/alice/k", "arn:aws:s3:::b/bob/k", "arn:aws:s3:::b/k",
             "arn:aws:ec2:us-east-1:111111111111:instance/i-1"]
RESOURCE_PATTERNS = ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
                     HOME, "arn:aws:s3:::b/${aws:username}*"]
CONDITIONS = [
    {"StringEquals": {"aws:SourceIp": "10.0.0.1"}},
    {"StringEquals": {"aws:username": "alice"}},
    {"StringEquals": {"ec2:Region": "us-east-1"}},
    {"StringNotEqualsIfExists": {"ec2:Region": "eu-west-1"}},
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/64"]}},
    {"NotIpAddress": {"aws:SourceIp": "192.168.0.0/16"}},
    {"StringLike": {"aws:username": "${aws:username}"}},
    {"Null": {"ec2:Region": "true"}},
]


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Effect": draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "Action", "NotAction"])):
            draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3)),
        draw(st.sampled_from(["Resource", "Resource", "NotResource"])):
            draw(st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2)),
    }
    if draw(st.integers(0, 2)) == 0:
        stmt["Condition"] = draw(st.sampled_from(CONDITIONS))
    return stmt


policies = st.lists(statements(), min_size=1, max_size=4).map(lambda s: parse_policy(doc(*s)))
optional_policies = st.one_of(st.just([]), st.lists(policies, min_size=1, max_size=2))
# Often allow everything on the identity side, so that boundaries and session policies decide.
identities = st.one_of(st.just([parse_policy(doc(allow()))]), st.lists(policies, min_size=1, max_size=2))
contexts = st.fixed_dictionaries(
    {},
    optional={
        "aws:SourceIp": st.sampled_from(["10.0.0.1", "10.9.9.9", "192.168.1.1", "2001:db8::1"]),
        "aws:username": st.sampled_from(["alice", "bob"]),
        "ec2:Region": st.sampled_from(["us-east-1", "eu-west-1"]),
        "aws:MultiFactorAuthPresent": st.booleans(),
    },
)
principals = st.sampled_from([user(), user("bob"), session()])


def _same(a: Decision, b: Decision) -> bool:
    return (a.outcome, a.matched, a.blocked_by, a.reasons) == (b.outcome, b.matched, b.blocked_by, b.reasons)


@SETTINGS
@given(identity=identities, boundaries=optional_policies, sessions=optional_policies,
       action=st.sampled_from(ACTIONS), resource=st.sampled_from(RESOURCES), first=contexts, second=contexts)
def test_decisions_that_differ_by_context_are_flagged(
    identity: list[Any], boundaries: list[Any], sessions: list[Any], action: str, resource: str,
    first: dict[str, Any], second: dict[str, Any],
) -> None:
    """The contrapositive, phrased as a service sees it: two contexts, two answers -> not rememberable.
    Through PolicySets, as the caller cache holds them."""
    sets = {"identity_policies": PolicySet(identity), "permissions_boundaries": PolicySet(boundaries),
            "session_policies": PolicySet(sessions)}
    one = evaluate(Request(session(), action, resource, context=first), **sets)
    two = evaluate(Request(session(), action, resource, context=second), **sets)
    if not _same(one, two):
        assert reads_context(action, **sets) is True


# Extra keys the policies never mention: they must never be reported, and never change a decision.
noisy_contexts = st.builds(
    lambda base, extra: {**base, **extra},
    contexts,
    st.fixed_dictionaries({}, optional={"s3:prefix": st.sampled_from(["a", "b"]), "aws:SourceVpc": st.just("vpc-1")}),
)


@SETTINGS
@given(identity=identities, boundaries=optional_policies, sessions=optional_policies,
       principal=principals, action=st.sampled_from(ACTIONS), resource=st.sampled_from(RESOURCES),
       first=noisy_contexts, second=noisy_contexts)
def test_contexts_that_agree_on_the_keys_read_get_the_same_decision(
    identity: list[Any], boundaries: list[Any], sessions: list[Any], principal: Principal, action: str,
    resource: str, first: dict[str, Any], second: dict[str, Any],
) -> None:
    """When no key is read (reads_context is False) every pair of contexts agrees: one decision for all."""
    keys = context_keys(action, identity, boundaries, sessions)
    assert "s3:prefix" not in keys and "aws:sourcevpc" not in keys
    one_request = Request(principal, action, resource, context=first)
    two_request = Request(principal, action, resource, context=second)
    if any(one_request.ctx.get(k) != two_request.ctx.get(k) for k in keys):
        return
    one = evaluate(one_request, identity, permissions_boundaries=boundaries, session_policies=sessions)
    two = evaluate(two_request, identity, permissions_boundaries=boundaries, session_policies=sessions)
    assert _same(one, two), (keys, one, two)


def test_context_keys_name_condition_keys_and_variables() -> None:
    policy = _pol(
        allow("s3:GetObject", HOME, Condition={"StringEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}}),
        allow("s3:GetObject", Condition=MFA_CONDITION),
        allow("s3:PutObject", Condition=IP_CONDITION),
    )
    assert context_keys("s3:GetObject", [policy]) == {
        "aws:username", "s3:prefix", "aws:principaltag/team", "aws:multifactorauthpresent",
    }
    assert context_keys("s3:PutObject", [policy]) == {"aws:sourceip"}
    assert context_keys("s3:DeleteObject", [policy]) == frozenset()


# context_values reads the memo key's values without building a Request: it must read them as a Request would.
raw_values = st.one_of(
    st.none(), st.text(max_size=5), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, width=16),
    st.lists(st.text(max_size=3) | st.integers(0, 3), max_size=3),
)
raw_contexts = st.dictionaries(
    st.sampled_from(["aws:SourceIp", "AWS:SOURCEIP", "aws:username", "aws:PrincipalTag/team", "ec2:Region",
                     "EC2:region", "aws:userid"]), raw_values, max_size=5)
read_keys = st.lists(st.sampled_from(["aws:sourceip", "aws:username", "aws:principaltag/team", "ec2:region",
                                      "aws:userid", "aws:principaltype", "s3:prefix"]), unique=True)


@SETTINGS
@given(principal=principals, context=raw_contexts, keys=read_keys)
def test_context_values_are_what_the_request_holds(principal: Principal, context: dict[str, Any], keys: list[str]) -> None:
    from opensts.policy.request import context_values

    request = Request(principal, "s3:GetObject", "*", context=context)
    assert context_values(principal, context, keys) == [request.ctx.get(key) for key in keys]
