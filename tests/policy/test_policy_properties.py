"""Property tests (hypothesis) for the policy engine."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.policy import Outcome, PolicyValidationError, Request, evaluate, parse_policy

from .helpers import doc, user

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

SERVICES = ["s3", "ec2", "iam", "sts"]
VERBS = ["GetObject", "PutObject", "ListBucket", "RunInstances", "CreateUser", "AssumeRole", "Get"]
actions = st.builds(lambda s, v: f"{s}:{v}", st.sampled_from(SERVICES), st.sampled_from(VERBS))


def _wildcard(text: str, draw_positions: list[int], chars: list[str]) -> str:
    service, _, verb = text.partition(":")
    out = list(verb)
    for pos, ch in zip(draw_positions, chars):
        out[pos % len(out)] = ch
    return service + ":" + "".join(out)


action_patterns = st.one_of(
    actions,
    st.just("*"),
    st.builds(lambda a, ps, cs: _wildcard(a, ps, cs), actions, st.lists(st.integers(0, 30), max_size=2),
              st.lists(st.sampled_from(["*", "?"]), max_size=2)),
    st.builds(lambda a: a.upper(), actions),
)
RESOURCES = ["arn:aws:s3:::b/k", "arn:aws:s3:::b/other", "arn:aws:ec2:us-east-1:111111111111:instance/i-1", "*"]
resource_patterns = st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", "arn:aws:ec2:*", "arn:aws:s3:::?/*"])
conditions = st.one_of(
    st.none(),
    st.sampled_from([
        {"Bool": {"aws:SecureTransport": "true"}},
        {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
        {"ForAnyValue:StringLike": {"aws:TagKeys": "env*"}},
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "owner"]}},
        {"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "600"}},
        {"Null": {"aws:TokenIssueTime": "true"}},
    ]),
)


@st.composite
def statements(draw, effect=None):
    stmt = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "NotAction"])): draw(st.lists(action_patterns, min_size=1, max_size=3)),
        draw(st.sampled_from(["Resource", "NotResource"])): draw(st.lists(resource_patterns, min_size=1, max_size=2)),
    }
    cond = draw(conditions)
    if cond:
        stmt["Condition"] = cond
    return stmt


contexts = st.fixed_dictionaries(
    {},
    optional={
        "aws:SecureTransport": st.booleans(),
        "aws:RequestedRegion": st.sampled_from(["us-east-1", "eu-west-1"]),
        "aws:TagKeys": st.lists(st.sampled_from(["env", "owner", "cost"]), max_size=3),
        "aws:MultiFactorAuthAge": st.integers(0, 1000),
    },
)


def _request(action, resource, context):
    return Request(user(), action, resource, context=context)


@SETTINGS
@given(st.lists(statements(), min_size=1, max_size=4), st.lists(statements(), min_size=1, max_size=4),
       actions, st.sampled_from(RESOURCES), contexts)
def test_adding_statements_never_turns_an_explicit_deny_into_allow(base, extra, action, resource, context):
    rq = _request(action, resource, context)
    before = evaluate(rq, [parse_policy(doc(*base))])
    after = evaluate(rq, [parse_policy(doc(*base, *extra))])
    if before.outcome is Outcome.EXPLICIT_DENY:
        assert after.outcome is Outcome.EXPLICIT_DENY


@SETTINGS
@given(st.lists(statements(), min_size=1, max_size=4), st.lists(statements(effect="Deny"), min_size=1, max_size=3),
       actions, st.sampled_from(RESOURCES), contexts)
def test_adding_denies_never_grants_and_adding_policies_never_revokes_allow_without_deny(base, denies, action, resource, context):
    rq = _request(action, resource, context)
    before = evaluate(rq, [parse_policy(doc(*base))])
    with_denies = evaluate(rq, [parse_policy(doc(*base)), parse_policy(doc(*denies))])
    if not before.allowed:
        assert not with_denies.allowed
    allows = [dict(s, Effect="Allow") for s in denies]
    with_allows = evaluate(rq, [parse_policy(doc(*base)), parse_policy(doc(*allows))])
    if before.allowed:
        assert with_allows.allowed


@SETTINGS
@given(st.lists(action_patterns, min_size=1, max_size=4), st.lists(actions, min_size=1, max_size=8))
def test_not_action_is_the_complement_of_action(patterns, sample):
    pos = parse_policy(doc({"Effect": "Allow", "Action": patterns, "Resource": "*"}))
    neg = parse_policy(doc({"Effect": "Allow", "NotAction": patterns, "Resource": "*"}))
    for action in sample:
        rq = _request(action, "arn:aws:s3:::b/k", {})
        assert evaluate(rq, [pos]).allowed != evaluate(rq, [neg]).allowed


@SETTINGS
@given(st.lists(resource_patterns, min_size=1, max_size=3), st.sampled_from(RESOURCES))
def test_not_resource_is_the_complement_of_resource(patterns, resource):
    pos = parse_policy(doc({"Effect": "Allow", "Action": "*", "Resource": patterns}))
    neg = parse_policy(doc({"Effect": "Allow", "Action": "*", "NotResource": patterns}))
    rq = _request("s3:GetObject", resource, {})
    assert evaluate(rq, [pos]).allowed != evaluate(rq, [neg]).allowed


NEGATIONS = [
    ("StringEquals", "StringNotEquals", st.sampled_from(["a", "b", "c"])),
    ("StringLike", "StringNotLike", st.sampled_from(["a", "ab", "b*"])),
    ("NumericEquals", "NumericNotEquals", st.integers(-3, 3).map(str)),
    ("ArnLike", "ArnNotLike", st.sampled_from(["arn:aws:s3:::x", "arn:aws:s3:::y", "arn:aws:iam::1:role/r"])),
    ("IpAddress", "NotIpAddress", st.sampled_from(["10.0.0.1", "192.168.1.1", "2001:db8::1"])),
]


@SETTINGS
@given(st.sampled_from(range(len(NEGATIONS))), st.data())
def test_negated_operator_is_the_complement_for_a_present_single_value(i, data):
    pos_op, neg_op, values = NEGATIONS[i]
    policy_vals = data.draw(st.lists(values, min_size=1, max_size=3))
    if pos_op == "StringLike":
        policy_vals = [v.replace("b", "?") if v == "ab" else v for v in policy_vals]
    if pos_op == "IpAddress":
        policy_vals = [{"10.0.0.1": "10.0.0.0/8", "192.168.1.1": "192.168.0.0/16", "2001:db8::1": "2001:db8::/64"}[v] for v in policy_vals]
    request_val = data.draw(values)
    key = "aws:SourceIp" if pos_op == "IpAddress" else "aws:x"
    p = parse_policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {pos_op: {key: policy_vals}}}))
    n = parse_policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {neg_op: {key: policy_vals}}}))
    rq = _request("s3:GetObject", "*", {key: request_val})
    assert evaluate(rq, [p]).allowed != evaluate(rq, [n]).allowed


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
policyish_keys = st.sampled_from(["Version", "Statement", "Id", "Effect", "Action", "NotAction", "Resource", "NotResource",
                                  "Principal", "NotPrincipal", "Condition", "Sid", "AWS", "StringEquals", "aws:x", "*"])
policyish = st.recursive(
    st.sampled_from(["2012-10-17", "2008-10-17", "Allow", "Deny", "*", "s3:*", "arn:aws:s3:::b", "111111111111", "",
                     "${aws:username}", "10.0.0.0/8", True, 1, None]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(policyish_keys, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(json_values, policyish), st.sampled_from(["identity", "resource", "trust", "scp", "rcp", "endpoint"]))
def test_parser_raises_only_policy_validation_error(value, kind):
    for document in (value, json.dumps(value)):
        try:
            parse_policy(document, kind)  # type: ignore[arg-type]
        except PolicyValidationError as exc:
            assert exc.message


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=60))
def test_parser_survives_arbitrary_text(text):
    try:
        parse_policy(text)
    except PolicyValidationError:
        pass


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(statements(), min_size=1, max_size=5), actions, st.sampled_from(RESOURCES), contexts)
def test_valid_policies_evaluate_without_error_and_serialise(stmts, action, resource, context):
    rq = _request(action, resource, context)
    d = evaluate(rq, [parse_policy(doc(*stmts))])
    assert json.dumps(d.to_dict()) and json.dumps(d.authorization_message(rq))
