"""The /v1/authorize body checks answer any JSON with a value or a 400, never an exception of another kind.

A body is whatever a service (or an attacker holding a key allowed ``opensts:Authorize``) sends:
every field may hold any JSON type. A Python error escaping these checks would be a 500.
"""
from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opensts.cache import Caches
from opensts.server.authorize_endpoint import AuthorizeBody, HttpProblem

CACHES = Caches()  # the memos of actions and context keys seen, shared by the examples as in a server

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=8,
)
# Mostly well-formed values, so that the checks further down are reached too.
fields = {
    "action": st.sampled_from(["ec2:StopInstances", "s3:Get*"]) | json_values,
    "resource": st.just("*") | json_values,
    "context": st.dictionaries(st.sampled_from(["ec2:Region", "EC2:region", "aws:SourceIp", "aws:TagKeys", "x"]),
                               json_values, max_size=3) | json_values,
    "sourceIp": st.sampled_from(["203.0.113.7", "::1"]) | json_values,
    "secureTransport": st.booleans() | json_values,
    "resourceAccount": st.just("123456789012") | json_values,
    "service": st.just("ec2") | json_values,
    "request": st.fixed_dictionaries({}, optional={
        "method": st.sampled_from(["POST", "GET"]) | json_values,
        "path": st.sampled_from(["/", "/?a=b"]) | json_values,
        "headers": st.dictionaries(st.sampled_from(["Host", "host", "Authorization", "X-Amz-Date"]),
                                   st.text(max_size=20) | json_values, max_size=3) | json_values,
        "body": st.sampled_from(["", "QUJD"]) | json_values,
        "bodySha256": st.just("a" * 64) | json_values,
    }) | json_values,
}


bodies = (
    st.fixed_dictionaries({}, optional=fields)
    # A valid action and one other field, so that every later check is reached often.
    | st.sampled_from(sorted(set(fields) - {"action"})).flatmap(
        lambda name: st.fixed_dictionaries({"action": st.just("ec2:StopInstances"), name: fields[name]}))
    | json_values
)


@settings(max_examples=600, deadline=None, database=None)
@given(bodies)
def test_any_json_body_is_accepted_or_a_400(data: Any) -> None:
    try:
        AuthorizeBody(data, CACHES)
    except HttpProblem as problem:
        assert problem.status == 400 and problem.message
