"""Condition operators: missing keys, IfExists, set operators, negation, multivalued keys, types."""
from __future__ import annotations

import pytest

from opensts.policy import Principal, PrincipalType

from .helpers import cond_allows

K = "aws:PrincipalTag/team"


# ------------------------------------------------------------------------- strings
@pytest.mark.parametrize(
    "op, policy, value, expected",
    [
        ("StringEquals", ["a", "b"], "b", True),
        ("StringEquals", "a", "A", False),
        ("StringNotEquals", ["a", "b"], "c", True),
        ("StringNotEquals", ["a", "b"], "b", False),  # none may match
        ("StringEqualsIgnoreCase", "Dev", "dEV", True),
        ("StringNotEqualsIgnoreCase", ["Dev", "prod"], "PROD", False),
        ("StringLike", "data-*", "data-eng", True),
        ("StringLike", "d?ta", "data", True),
        ("StringLike", "d?ta", "dta", False),
        ("StringLike", "a*", "A1", False),  # case-sensitive
        ("StringNotLike", ["x*", "y*"], "zed", True),
        ("StringNotLike", ["x*", "y*"], "yes", False),
        ("StringEquals", "a*", "abc", False),  # wildcards only in Like operators
        ("StringEquals", "a*", "a*", True),
    ],
)
def test_string_operators(op, policy, value, expected):
    assert cond_allows({op: {K: policy}}, {K: value}) is expected


def test_missing_key_positive_false_negated_true_ifexists_true():
    for op in ("StringEquals", "StringLike", "NumericEquals", "DateEquals", "Bool", "IpAddress", "ArnLike", "BinaryEquals"):
        value = {"NumericEquals": "1", "DateEquals": "2020-01-01", "Bool": "true", "IpAddress": "10.0.0.0/8",
                 "ArnLike": "arn:aws:s3:::x", "BinaryEquals": "QUJD"}.get(op, "a")
        assert cond_allows({op: {"aws:Missing": value}}, {}) is False, op
        assert cond_allows({op + "IfExists": {"aws:Missing": value}}, {}) is True, op
    for op in ("StringNotEquals", "StringNotLike", "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotLike", "ArnNotEquals", "StringNotEqualsIgnoreCase"):
        value = {"NumericNotEquals": "1", "DateNotEquals": "2020-01-01", "NotIpAddress": "10.0.0.0/8"}.get(op, "arn:aws:s3:::x")
        assert cond_allows({op: {"aws:Missing": value}}, {}) is True, op
        assert cond_allows({op + "IfExists": {"aws:Missing": value}}, {}) is True, op


def test_ifexists_still_tests_a_present_key():
    assert cond_allows({"StringEqualsIfExists": {K: "a"}}, {K: "b"}) is False
    assert cond_allows({"StringEqualsIfExists": {K: "a"}}, {K: "a"}) is True
    assert cond_allows({"StringNotEqualsIfExists": {K: "a"}}, {K: "a"}) is False


def test_condition_key_names_are_case_insensitive_values_are_not():
    assert cond_allows({"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "x"}}, {"aws:principaltag/team": "x"})
    assert cond_allows({"StringEquals": {"aws:principaltag/team": "x"}}, {"Aws:PrincipalTag/Team": "X"}) is False


def test_keys_and_operators_are_anded():
    cond = {"StringEquals": {"aws:a": "1", "aws:b": "2"}, "Bool": {"aws:SecureTransport": "true"}}
    assert cond_allows(cond, {"aws:a": "1", "aws:b": "2", "aws:SecureTransport": True})
    assert not cond_allows(cond, {"aws:a": "1", "aws:b": "2", "aws:SecureTransport": False})
    assert not cond_allows(cond, {"aws:a": "1", "aws:SecureTransport": True})


# ------------------------------------------------------------------------- multivalued keys / set operators
TAGS = "aws:TagKeys"


def test_plain_operator_on_multivalued_key_does_not_match():
    assert cond_allows({"StringEquals": {TAGS: ["a", "b"]}}, {TAGS: ["a", "b"]}) is False
    assert cond_allows({"StringNotEquals": {TAGS: "z"}}, {TAGS: ["a", "b"]}) is False
    assert cond_allows({"StringEquals": {TAGS: "a"}}, {TAGS: ["a"]}) is True  # one value = single-valued


def test_for_any_value():
    assert cond_allows({"ForAnyValue:StringEquals": {TAGS: ["a", "x"]}}, {TAGS: ["a", "b"]})
    assert not cond_allows({"ForAnyValue:StringEquals": {TAGS: ["x", "y"]}}, {TAGS: ["a", "b"]})
    assert not cond_allows({"ForAnyValue:StringEquals": {TAGS: "a"}}, {})  # missing -> false
    assert not cond_allows({"ForAnyValue:StringEquals": {TAGS: "a"}}, {TAGS: []})  # empty -> false
    assert cond_allows({"ForAnyValue:StringEqualsIfExists": {TAGS: "a"}}, {})
    # negated: some request value matches none of the policy values
    assert cond_allows({"ForAnyValue:StringNotEquals": {TAGS: ["a"]}}, {TAGS: ["a", "b"]})
    assert not cond_allows({"ForAnyValue:StringNotEquals": {TAGS: ["a", "b"]}}, {TAGS: ["a", "b"]})


def test_for_all_values():
    assert cond_allows({"ForAllValues:StringEquals": {TAGS: ["a", "b", "c"]}}, {TAGS: ["a", "b"]})
    assert not cond_allows({"ForAllValues:StringEquals": {TAGS: ["a"]}}, {TAGS: ["a", "b"]})
    assert cond_allows({"ForAllValues:StringEquals": {TAGS: ["a"]}}, {})  # missing -> true
    assert cond_allows({"ForAllValues:StringEquals": {TAGS: ["a"]}}, {TAGS: []})  # empty -> true
    assert cond_allows({"ForAllValues:StringLike": {TAGS: ["env*", "cost-*"]}}, {TAGS: ["env", "cost-center"]})
    # negated: no request value matches any policy value
    assert cond_allows({"ForAllValues:StringNotEquals": {TAGS: ["x", "y"]}}, {TAGS: ["a", "b"]})
    assert not cond_allows({"ForAllValues:StringNotEquals": {TAGS: ["x", "b"]}}, {TAGS: ["a", "b"]})


def test_set_operator_with_single_valued_key():
    assert cond_allows({"ForAllValues:StringEquals": {K: ["a", "b"]}}, {K: "a"})
    assert not cond_allows({"ForAllValues:StringEquals": {K: ["a", "b"]}}, {K: "c"})


# ------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    "op, policy, value, expected",
    [
        ("NumericEquals", "10", "10", True),
        ("NumericEquals", "10", "10.0", True),
        ("NumericNotEquals", ["1", "2"], "3", True),
        ("NumericNotEquals", ["1", "2"], "2", False),
        ("NumericLessThan", "3600", "60", True),
        ("NumericLessThan", "3600", "3600", False),
        ("NumericLessThanEquals", "3600", "3600", True),
        ("NumericGreaterThan", "1.5", "2", True),
        ("NumericGreaterThanEquals", "-5", "-5", True),
        ("NumericGreaterThan", "10", "9", False),
        ("NumericEquals", 10, 10, True),
    ],
)
def test_numeric_operators(op, policy, value, expected):
    assert cond_allows({op: {"aws:MultiFactorAuthAge": policy}}, {"aws:MultiFactorAuthAge": value}) is expected


def test_bad_request_values_never_match_even_negated():
    assert not cond_allows({"NumericLessThan": {"aws:n": "5"}}, {"aws:n": "five"})
    assert not cond_allows({"NumericNotEquals": {"aws:n": "5"}}, {"aws:n": "five"})
    assert not cond_allows({"DateNotEquals": {"aws:d": "2020-01-01"}}, {"aws:d": "someday"})
    assert not cond_allows({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "not-an-ip"})
    assert not cond_allows({"Bool": {"aws:b": "true"}}, {"aws:b": "yes"})
    assert not cond_allows({"ArnNotEquals": {"aws:a": "arn:aws:s3:::x"}}, {"aws:a": "not-an-arn"})
    assert not cond_allows({"ForAllValues:NumericLessThan": {"aws:n": "5"}}, {"aws:n": ["1", "x"]})


# ------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    "op, policy, value, expected",
    [
        ("DateGreaterThan", "2020-01-01T00:00:00Z", "2024-06-01T12:00:00Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "2024-06-01T12:00:00Z", False),
        ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),  # epoch seconds
        ("DateEquals", "1577836800", "2020-01-01T01:00:00+01:00", True),  # offsets
        ("DateEquals", "2020-01-01", "2020-01-01T00:00:00Z", True),  # date only = midnight UTC
        ("DateLessThanEquals", "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThanEquals", "2020-01-01T00:00:01Z", "2020-01-01T00:00:00Z", False),
        ("DateNotEquals", ["2020-01-01", "2021-01-01"], "2021-01-01", False),
    ],
)
def test_date_operators(op, policy, value, expected):
    assert cond_allows({op: {"aws:CurrentTime": policy}}, {"aws:CurrentTime": value}) is expected


def test_datetime_context_values():
    from datetime import datetime, timezone

    assert cond_allows({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
                       {"aws:CurrentTime": datetime(2024, 1, 1, tzinfo=timezone.utc)})


# ------------------------------------------------------------------------- bool, binary, ip, arn, null
def test_bool():
    assert cond_allows({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True})
    assert cond_allows({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "TRUE"})
    assert not cond_allows({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"})
    # the MFA idiom: BoolIfExists false denies long-term keys only when the key is present
    assert cond_allows({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {})


def test_binary_equals():
    assert cond_allows({"BinaryEquals": {"aws:x": "QmluYXJ5"}}, {"aws:x": "QmluYXJ5"})
    assert cond_allows({"BinaryEquals": {"aws:x": "QmluYXJ5"}}, {"aws:x": "Binary"})
    assert not cond_allows({"BinaryEquals": {"aws:x": "QmluYXJ5"}}, {"aws:x": "QUJD"})


@pytest.mark.parametrize(
    "op, policy, ip, expected",
    [
        ("IpAddress", "203.0.113.0/24", "203.0.113.9", True),
        ("IpAddress", ["10.0.0.0/8", "203.0.113.0/24"], "10.9.9.9", True),
        ("IpAddress", "203.0.113.0/24", "203.0.114.1", False),
        ("IpAddress", "203.0.113.7", "203.0.113.7", True),  # a bare address is a /32
        ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
        ("IpAddress", "2001:db8::/32", "10.0.0.1", False),  # different family
        ("NotIpAddress", ["10.0.0.0/8", "2001:db8::/32"], "192.0.2.1", True),
        ("NotIpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::5", False),
    ],
)
def test_ip_operators(op, policy, ip, expected):
    assert cond_allows({op: {"aws:SourceIp": policy}}, {"aws:SourceIp": ip}) is expected


@pytest.mark.parametrize(
    "op, policy, value, expected",
    [
        ("ArnEquals", "arn:aws:iam::111111111111:role/R", "arn:aws:iam::111111111111:role/R", True),
        ("ArnLike", "arn:aws:iam::*:role/*", "arn:aws:iam::111111111111:role/path/R", True),
        ("ArnEquals", "arn:aws:iam::*:role/*", "arn:aws:iam::111111111111:role/R", True),  # ArnEquals = ArnLike
        ("ArnLike", "arn:aws:iam::111111111111:*", "arn:aws:iam::111111111111:role/R", True),
        # each of the six parts separately: '*' in the account part does not span ':'
        ("ArnLike", "arn:aws:iam::*", "arn:aws:iam::111111111111:role/R", False),
        ("ArnLike", "arn:aws:*:role/R", "arn:aws:iam::111111111111:role/R", False),
        ("ArnLike", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", True),  # resource part keeps ':'
        ("ArnLike", "arn:aws:iam::111111111111:role/R", "arn:aws:iam::111111111111:role/r", False),
        ("ArnNotLike", ["arn:aws:iam::*:role/Admin*", "arn:aws:iam::*:root"], "arn:aws:iam::1:role/Dev", True),
        ("ArnNotEquals", "arn:aws:iam::1:role/Dev", "arn:aws:iam::1:role/Dev", False),
    ],
)
def test_arn_operators(op, policy, value, expected):
    assert cond_allows({op: {"aws:SourceArn": policy}}, {"aws:SourceArn": value}) is expected


def test_null():
    assert cond_allows({"Null": {"aws:TokenIssueTime": "true"}}, {})
    assert not cond_allows({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"})
    assert cond_allows({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"})
    assert cond_allows({"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": []})


# ------------------------------------------------------------------------- policy variables in conditions
def test_variables_in_condition_values():
    alice = Principal(arn="arn:aws:iam::111111111111:user/alice", type=PrincipalType.USER, tags={"team": "web"})
    assert cond_allows({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/alice/"}, principal=alice)
    assert not cond_allows({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/bob/"}, principal=alice)
    assert cond_allows({"StringLike": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}*"}}, {"aws:ResourceTag/team": "web-1"}, principal=alice)
    # unresolvable -> no match; default used when given
    assert not cond_allows({"StringEquals": {"aws:x": "${aws:nope}"}}, {"aws:x": ""}, principal=alice)
    assert cond_allows({"StringEquals": {"aws:x": "${aws:nope, 'dflt'}"}}, {"aws:x": "dflt"}, principal=alice)
    # under 2008-10-17 the text is literal
    assert cond_allows({"StringEquals": {"aws:x": "${aws:username}"}}, {"aws:x": "${aws:username}"}, version="2008-10-17", principal=alice)
    # escapes
    assert cond_allows({"StringLike": {"aws:x": "a${*}b"}}, {"aws:x": "a*b"})
    assert not cond_allows({"StringLike": {"aws:x": "a${*}b"}}, {"aws:x": "aXb"})
    assert cond_allows({"StringEquals": {"aws:x": "${$}{x}"}}, {"aws:x": "${x}"})
    assert cond_allows({"StringLike": {"aws:x": "${?}"}}, {"aws:x": "?"})
