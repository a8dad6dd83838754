"""The glob matchers agree with a plain dynamic-programming reference and stay linear-time on the
patterns that made a backtracking matcher run for minutes (ReDoS)."""
from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.policy import Principal, PrincipalType, Request, evaluate, parse_policy
from opensts.policy.variables import parse_template, substitute_glob
from opensts.policy.wildcard import PatternSet, glob_covers, glob_intersects, glob_match

SETTINGS = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
ALPHABET = "ab?*"
globs = st.text(ALPHABET, max_size=9)
texts = st.text("ab", max_size=10)


# ------------------------------------------------------------------ reference implementations
def ref_match(pattern: str, text: str) -> bool:
    """Classic O(n*m) table: m[i][j] = pattern[:i] matches text[:j]."""
    n = len(text)
    row = [True] + [False] * n
    for p in pattern:
        if p == "*":
            new = [row[0]] + [False] * n
            for j in range(1, n + 1):
                new[j] = row[j] or new[j - 1]
        else:
            new = [False] * (n + 1)
            for j in range(1, n + 1):
                new[j] = row[j - 1] and (p == "?" or p == text[j - 1])
        row = new
    return row[n]


def ref_covers(general: str, specific: str) -> bool:
    """``general`` matched against the text of ``specific``: * any run, ? one non-star, literal itself."""
    n = len(specific)
    row = [True] + [False] * n
    for p in general:
        if p == "*":
            new = [row[0]] + [False] * n
            for j in range(1, n + 1):
                new[j] = row[j] or new[j - 1]
        else:
            new = [False] * (n + 1)
            for j in range(1, n + 1):
                c = specific[j - 1]
                new[j] = row[j - 1] and ((p == "?" and c != "*") or p == c)
        row = new
    return row[n]


def ref_intersects(a: str, b: str) -> bool:
    """Reachability over (i, j) with the transitions the engine has always used."""
    la, lb = len(a), len(b)
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) == (la, lb):
            return True
        nxt = []
        if i < la and a[i] == "*":
            nxt.append((i + 1, j))
            if j < lb:
                nxt.append((i, j + 1))
        elif j < lb and b[j] == "*":
            nxt.append((i, j + 1))
            if i < la:
                nxt.append((i + 1, j))
        elif i < la and j < lb and (a[i] == "?" or b[j] == "?" or a[i] == b[j]):
            nxt.append((i + 1, j + 1))
        for s in nxt:
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return False


# ------------------------------------------------------------------ agreement
@SETTINGS
@given(globs, texts)
def test_glob_match_agrees_with_reference(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == ref_match(pattern, text)
    assert glob_match(pattern.upper(), text, ignore_case=True) == ref_match(pattern, text)


@SETTINGS
@given(st.lists(globs, max_size=4), texts)
def test_pattern_set_agrees_with_reference(patterns: list[str], text: str) -> None:
    assert PatternSet(patterns).matches(text) == any(ref_match(p, text) for p in patterns)


@SETTINGS
@given(globs, globs)
def test_glob_covers_agrees_with_reference(general: str, specific: str) -> None:
    assert glob_covers(general, specific) == ref_covers(general, specific)


@SETTINGS
@given(globs, globs)
def test_glob_intersects_agrees_with_reference(a: str, b: str) -> None:
    assert glob_intersects(a, b) == ref_intersects(a, b)


@SETTINGS
@given(globs, st.text("ab*?", max_size=4), texts)
def test_variable_glob_matches_value_literally(before: str, value: str, text: str) -> None:
    template = parse_template(before + "${aws:username}*")
    rx = substitute_glob(template, {"aws:username": (value,)})
    assert rx is not None
    # The substituted value is literal text: its * and ? match only themselves.
    expect = any(
        ref_match(before, text[:k]) and text[k:].startswith(value) for k in range(len(text) + 1)
    )
    assert (rx.fullmatch(text) is not None) == expect


# ------------------------------------------------------------------ worst cases (ReDoS)
EVIL = "arn:aws:s3:::*a*a*a*a*a*a*a*a*b"
MANY = "*" + "a*" * 60 + "b"


def _within(seconds: float, fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args)
    assert time.perf_counter() - start < seconds, fn
    return result


def test_many_stars_match_in_linear_time() -> None:
    for n in (64, 4000):
        text = "arn:aws:s3:::" + "a" * n
        for pattern in (EVIL, MANY, "*?a" * 40 + "b", "*" + "?" * 30 + "*b"):
            assert _within(2, glob_match, pattern, text) is False
            assert _within(2, PatternSet([pattern, pattern + "c"]).matches, text) is False
            assert _within(2, glob_covers, pattern, text) is False
        assert _within(2, glob_match, EVIL, text + "b") is True


def test_long_globs_intersect_without_recursion() -> None:
    a = "*a" * 700 + "b"
    assert _within(2, glob_intersects, a, "*a" * 800) is False
    assert _within(2, glob_intersects, a, "a" * 1500 + "*") is True
    assert _within(2, glob_intersects, "?" * 1300, "*" + "x" * 1299) is True


def test_string_like_and_resource_with_variables_are_linear() -> None:
    policy = parse_policy({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": EVIL,
             "Condition": {"StringLike": {"aws:UserAgent": ["*a*a*a*a*a*a*a*a*b", "${aws:username}*a*a*a*a*a*a*b"]}}},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::${aws:username}*a*a*a*a*a*a*a*b"},
        ],
    })
    principal = Principal(arn="arn:aws:iam::111111111111:user/a", type=PrincipalType.USER)
    ctx = {"aws:UserAgent": "a" * 4000, "aws:username": "a"}
    request = Request(principal=principal, action="s3:GetObject", resource="arn:aws:s3:::" + "a" * 4000, context=ctx)
    decision = _within(2, evaluate, request, [policy])
    assert not decision.allowed
