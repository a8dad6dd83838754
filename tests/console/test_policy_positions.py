"""Where the policy editor says an error is (opensts.server.console.policy_positions): exact positions
for each kind of problem, and properties: whatever the text, every reported line and column lie
inside it, and a syntax error is where Python's JSON decoder says it is."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.server.console.policy_positions import KINDS, Problem, check_policy, position, scan

TRUST = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Principal": {"AWS": "arn:aws:iam::123456789012:root"},\n      "Action": "sts:AssumeRole"\n    }\n  ]\n}'


def at(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """(line, column) of the nth occurrence of needle in text."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    return position(text, offset)


def only(problems: list[Problem]) -> tuple[int, int, str]:
    assert len(problems) == 1, problems
    return problems[0].line, problems[0].column, problems[0].message


def test_a_valid_document_has_no_problems() -> None:
    assert check_policy(TRUST, "trust") == []
    assert check_policy(TRUST.replace("sts:AssumeRole", "sts:TagSession"), "trust") == []


def test_syntax_errors_are_where_the_json_decoder_says() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow" "Action": "s3:*"}\n  ]\n}'
    assert only(check_policy(text, "identity")) == (4, 24, "Syntax errors in policy. Expecting ',' delimiter.")
    assert only(check_policy("", "identity"))[:2] == (1, 1)
    assert only(check_policy('{"a": 1}\r\n  x', "identity"))[:2] == (2, 3)  # \r ends the line it is on


@pytest.mark.parametrize(("replace", "by", "needle", "kind", "starts"), [
    ('"Effect": "Allow"', '"Effect": "Alow"', '"Alow"', "trust", "Invalid effect"),
    ('      "Principal": {"AWS": "arn:aws:iam::123456789012:root"},\n', "", "{\n      \"Effect", "trust",
     "Missing required field Principal"),
    ('"sts:AssumeRole"', '"s3:GetObject"', '"s3:GetObject"', "trust", "Trust policies may only allow"),
    ('"arn:aws:iam::123456789012:root"', '"nobody"', '"nobody"', "trust", "Invalid principal"),
    ('"Action"', '"Resource": "*", "Action"', '"Resource"', "trust", "Has prohibited field Resource"),
    ('"Action"', '"Colour": 1, "Action"', '"Colour"', "trust", 'Syntax errors in policy. Unknown field "Colour"'),
    ('"Action": "sts:AssumeRole"', '"Action": ["sts:AssumeRole", "AssumeRole"]', '"AssumeRole"]', "trust",
     "Actions/Conditions must be prefaced by a vendor"),
    ('"Version": "2012-10-17"', '"Version": "2012-10-18"', '"2012-10-18"', "trust", "The policy failed legacy parsing"),
    ('"Version": "2012-10-17"', '"Version": "2012-10-17", "Version": "2012-10-17"', '"Version"', "trust",
     'Syntax errors in policy. Duplicate key "Version"'),
    ('"Effect": "Allow"', '"Effect": NaN', "NaN", "trust", "Syntax errors in policy. Invalid number NaN"),
    ('"Effect": "Allow",', '"Effect": "Allow", "Sid": "not-alnum",', '"not-alnum"', "trust", "Statement IDs (SID)"),
    ('"Principal": {"AWS": "arn:aws:iam::123456789012:root"},', '"Principal": {"AWS": "arn:aws:iam::123456789012:root"}, '
     '"Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "soon"}},', '"soon"', "trust", 'Invalid value "soon"'),
    ('"Principal": {"AWS": "arn:aws:iam::123456789012:root"},', '"Principal": {"AWS": "arn:aws:iam::123456789012:root"}, '
     '"Condition": {"StringEquals": {"nokey": "x"}},', '"nokey"', "trust", "Actions/Conditions must be prefaced"),
    ('"Principal": {"AWS": "arn:aws:iam::123456789012:root"},', '"Resource": "bucket",', '"bucket"', "resource",
     "Resource bucket must be in ARN format"),
])
def test_engine_errors_point_at_their_statement_and_field(replace: str, by: str, needle: str, kind: str, starts: str) -> None:
    text = TRUST.replace(replace, by, 1)
    assert text != TRUST
    line, column, message = only(check_policy(text, kind))
    assert message.startswith(starts)
    nth = 1 if "Duplicate" in starts else 0
    assert (line, column) == at(text, needle, nth)


def test_the_statement_of_several_is_the_one_named() -> None:
    text = ('{"Version": "2012-10-17", "Statement": [\n {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
            ' {"Effect": "Allow", "Action": "s3:*"}\n]}')
    assert only(check_policy(text, "identity")) == (3, 2, "Policy statement must contain resources. [Statement 2]")


def test_whole_document_problems() -> None:
    assert only(check_policy("[1, 2]", "identity"))[:2] == (1, 1)
    assert only(check_policy('  {"Version": "2012-10-17"}', "identity")) == (1, 3, "Missing required field Statement.")
    assert only(check_policy('{"Version": "2012-10-17", "Statement": 3}', "identity"))[:2] == at(
        '{"Version": "2012-10-17", "Statement": 3}', "3}")
    managed = '{"Version": "2008-10-17", "Statement": []}'
    assert check_policy(managed, "identity") == []
    assert only(check_policy(managed, "managed"))[:2] == (1, 13)  # managed policies need 2012-10-17
    deep = "[" * 5000 + "]" * 5000
    line, column, message = only(check_policy(deep, "identity"))
    assert line == 1 and 1 <= column <= len(deep) and "nested too deeply" in message


def test_the_size_quota_of_trust_policies() -> None:
    big = TRUST.replace('"sts:AssumeRole"', json.dumps(["sts:AssumeRole"] * 200))
    assert only(check_policy(big, "trust"))[2].startswith("Cannot exceed quota for ACLSizePerRole: 2048")


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        check_policy("{}", "scp")


def test_scan_keeps_offsets() -> None:
    text = '{"a": [1, "x", {"b": true}], "c": -Infinity}'
    root = scan(text)
    assert root is not None and root.kind == "object"
    assert [(key, offset) for key, offset, _ in root.members] == [("a", 1), ("c", 29)]
    assert [node.start for node in root.members[0][2].items] == [7, 10, 15]
    assert root.members[1][2].kind == "constant" and root.members[1][2].start == 34


# --------------------------------------------------------------------------------- properties
def inside(text: str, problem: Problem) -> bool:
    lines = text.split("\n")
    return 1 <= problem.line <= len(lines) and 1 <= problem.column <= len(lines[problem.line - 1]) + 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["Allow", "Deny", "*", "s3:GetObject", "sts:AssumeRole", "arn:aws:s3:::b", "2012-10-17"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["Effect", "Action", "NotAction", "Resource", "Principal", "AWS", "Service", "Condition",
                         "StringEquals", "aws:username", "Sid", "x"]) | st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
statements = st.dictionaries(
    st.sampled_from(["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal",
                     "Condition", "Other"]),
    json_values | st.sampled_from(["Allow", "Deny", "*", "s3:GetObject", "sts:AssumeRole"]), max_size=6,
)
documents = st.fixed_dictionaries(
    {"Version": st.sampled_from(["2012-10-17", "2008-10-17", "2012"]),
     "Statement": st.lists(statements, max_size=3) | statements},
    optional={"Id": json_values, "Extra": json_values},
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON texts: a policy-shaped document or any value, laid out one way or another, maybe cut or spliced."""
    value = draw(documents | json_values)
    text = json.dumps(value, indent=draw(st.sampled_from([None, 1, 2, "\t"])), ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", ",", "\n", "}", '"', "\r\n", "é"])) + text[cut + 1:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=json_texts(), kind=st.sampled_from(KINDS))
def test_positions_lie_inside_any_json_text(text: str, kind: str) -> None:
    for problem in check_policy(text, kind):
        assert inside(text, problem), (text, problem)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80), kind=st.sampled_from(KINDS))
def test_positions_lie_inside_any_text(text: str, kind: str) -> None:
    for problem in check_policy(text, kind):
        assert inside(text, problem), (text, problem)


@settings(max_examples=300, deadline=None)
@given(text=json_texts())
def test_syntax_errors_agree_with_the_json_decoder(text: str) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        assert position(text, error.pos) == (error.lineno, error.colno)
        assert (check_policy(text, "identity")[0].line, check_policy(text, "identity")[0].column) == (error.lineno, error.colno)


@settings(max_examples=300, deadline=None)
@given(text=json_texts())
def test_scan_reads_whatever_the_decoder_accepts(text: str) -> None:
    try:
        value = json.loads(text)
    except ValueError:
        return
    root = scan(text)
    assert root is not None
    assert root.start == len(text) - len(text.lstrip(" \t\n\r"))
    assert root.kind == ("object" if isinstance(value, dict) else "array" if isinstance(value, list) else root.kind)
