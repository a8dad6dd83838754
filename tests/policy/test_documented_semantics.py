"""Where the engine follows the IAM User Guide over intuition: negated operators against a null
(unresolvable) policy variable, NotPrincipal exempting only what it names, the W3C date profiles,
and numbers of any length."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.policy import Outcome, Principal, PrincipalType, Request, context_keys, evaluate, parse_policy
from opensts.policy.errors import PolicyValidationError
from opensts.policy.values import read_date, read_number

from .helpers import ACCT, OTHER, USER, allow, cond_allows, deny, doc, pol, req, session, user

SETTINGS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
TEAM = "${aws:PrincipalTag/Team}"


# ------------------------------------------------------------------ 13: negated operators vs null
NEGATED_CASES = [
    ("StringNotEquals", "aws:ResourceTag/Team", "web"),
    ("StringNotEqualsIgnoreCase", "aws:ResourceTag/Team", "web"),
    ("StringNotLike", "aws:ResourceTag/Team", "web"),
    ("ArnNotEquals", "aws:SourceArn", "arn:aws:s3:::web"),
    ("ArnNotLike", "aws:SourceArn", "arn:aws:s3:::web"),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.1"),
    ("NumericNotEquals", "s3:max-keys", "10"),
    ("DateNotEquals", "aws:CurrentTime", "2024-01-01T00:00:00Z"),
]


@pytest.mark.parametrize("op, key, value", NEGATED_CASES)
def test_negated_operator_matches_unresolvable_variable(op: str, key: str, value: str) -> None:
    untagged = user()
    assert cond_allows({op: {key: TEAM}}, {key: value}, principal=untagged)
    assert cond_allows({f"ForAnyValue:{op}": {key: TEAM}}, {key: [value]}, principal=untagged)
    assert cond_allows({f"ForAllValues:{op}": {key: TEAM}}, {key: [value]}, principal=untagged)
    # The positive operator still does not match a null value.
    positive = op.replace("Not", "", 1) if op != "NotIpAddress" else "IpAddress"
    assert not cond_allows({positive: {key: TEAM}}, {key: value}, principal=untagged)
    # A resolvable variable is compared as before.
    tagged = user(tags={"Team": value})
    assert not cond_allows({op: {key: TEAM}}, {key: value}, principal=tagged)


def test_deny_unless_teams_match_denies_untagged_principal() -> None:
    """The User Guide's example: access is specifically denied when aws:PrincipalTag/Team is not set."""
    policies = [pol(allow("s3:*"), deny("s3:*", Condition={"StringNotEquals": {"aws:ResourceTag/Team": TEAM}}))]
    ctx = {"aws:ResourceTag/Team": "web"}
    assert evaluate(req(user(), context=ctx), policies).outcome is Outcome.EXPLICIT_DENY
    assert evaluate(req(user(tags={"Team": "web"}), context=ctx), policies).outcome is Outcome.ALLOW
    assert evaluate(req(user(tags={"Team": "db"}), context=ctx), policies).outcome is Outcome.EXPLICIT_DENY
    # The decision depends on the principal tag, so a remembered decision must key on it.
    assert "aws:principaltag/team" in context_keys("s3:GetObject", policies)


def test_partly_resolvable_values_compare_the_resolved_ones() -> None:
    values = [TEAM, "db"]
    assert not cond_allows({"StringNotEquals": {"aws:ResourceTag/Team": values}}, {"aws:ResourceTag/Team": "db"})
    assert cond_allows({"StringNotEquals": {"aws:ResourceTag/Team": values}}, {"aws:ResourceTag/Team": "web"})


# ------------------------------------------------------------------ 14: NotPrincipal
def _guard(*names: str) -> object:
    return parse_policy(doc({"Effect": "Deny", "NotPrincipal": {"AWS": list(names)}, "Action": "s3:*", "Resource": "*"}),
                        "resource")


def _outcome(principal: Principal, guard: object) -> Outcome:
    return evaluate(Request(principal, "s3:GetObject", "arn:aws:s3:::bucket/key", resource_account=ACCT),
                    [pol(allow())], guard).outcome


ROOT = f"arn:aws:iam::{ACCT}:root"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/app/Worker"
SESSION_ARN = f"arn:aws:sts::{ACCT}:assumed-role/Worker/s1"


def test_not_principal_account_root_exempts_only_the_root() -> None:
    guard = _guard(ROOT)
    assert _outcome(Principal(ROOT, PrincipalType.ACCOUNT), guard) is Outcome.ALLOW
    assert _outcome(user(), guard) is Outcome.EXPLICIT_DENY
    assert _outcome(session(), guard) is Outcome.EXPLICIT_DENY
    assert _outcome(user(), _guard(ACCT)) is Outcome.EXPLICIT_DENY  # bare account id: the same


def test_not_principal_user_and_account() -> None:
    guard = _guard(USER, ROOT)
    assert _outcome(user(), guard) is Outcome.ALLOW
    assert _outcome(user("bob"), guard) is Outcome.EXPLICIT_DENY
    assert _outcome(user("bob", OTHER), guard) is Outcome.EXPLICIT_DENY


def test_not_principal_role_session_needs_the_session_named() -> None:
    assert _outcome(session(), _guard(ROLE_ARN, ROOT)) is Outcome.EXPLICIT_DENY
    assert _outcome(session(), _guard(SESSION_ARN, ROLE_ARN, ROOT)) is Outcome.ALLOW
    assert _outcome(session(name="other"), _guard(SESSION_ARN, ROLE_ARN, ROOT)) is Outcome.EXPLICIT_DENY
    role = Principal(ROLE_ARN, PrincipalType.ROLE)
    assert _outcome(role, _guard(ROLE_ARN)) is Outcome.ALLOW


# ------------------------------------------------------------------ 15: dates
def _epoch(*args: int, tz: timezone = timezone.utc) -> float:
    return datetime(*args, tzinfo=tz).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2024", _epoch(2024, 1, 1)),
        ("2024-05", _epoch(2024, 5, 1)),
        ("2024-05-06", _epoch(2024, 5, 6)),
        ("2024-05-06T10:20Z", _epoch(2024, 5, 6, 10, 20)),
        ("2024-05-06T10:20+02:00", _epoch(2024, 5, 6, 8, 20)),
        ("2024-05-06T10:20:30Z", _epoch(2024, 5, 6, 10, 20, 30)),
        ("2024-05-06T10:20:30-01:30", _epoch(2024, 5, 6, 11, 50, 30)),
        ("2024-05-06T10:20:30.25Z", _epoch(2024, 5, 6, 10, 20, 30) + 0.25),
        ("2024-05-06T10:20:30", _epoch(2024, 5, 6, 10, 20, 30)),  # no zone: UTC
        ("1700000000", 1700000000.0),
        ("1700000000.5", 1700000000.5),
        ("2024-13", None),
        ("2024-02-30", None),
        ("2024-05-06T25:00Z", None),
        ("2024-05-06T10:20+24:00", None),
        ("yesterday", None),
        ("9" * 5000, None),
        ("2024-05-06T10:20:30." + "1" * 5000 + "Z", None),
    ],
    ids=lambda v: str(v)[:32],
)
def test_w3c_date_profiles(text: str, expected: float | None) -> None:
    assert read_date(text) == expected


def test_date_profiles_in_policies() -> None:
    for value in ("2024", "2024-05", "2024-05-06", "2024-05-06T10:20Z", "2024-05-06T10:20:30.5+01:00"):
        assert cond_allows({"DateGreaterThan": {"aws:CurrentTime": value}}, {"aws:CurrentTime": "2030-01-01T00:00:00Z"})
        assert not cond_allows({"DateLessThan": {"aws:CurrentTime": value}}, {"aws:CurrentTime": "2030-01-01T00:00:00Z"})


@SETTINGS
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)),
       st.integers(0, 5))
def test_every_w3c_profile_reads_as_its_instant(dt: datetime, profile: int) -> None:
    dt = dt.replace(microsecond=dt.microsecond // 10000 * 10000)
    texts = [
        (f"{dt.year:04d}", datetime(dt.year, 1, 1, tzinfo=timezone.utc)),
        (f"{dt.year:04d}-{dt.month:02d}", datetime(dt.year, dt.month, 1, tzinfo=timezone.utc)),
        (dt.strftime("%Y-%m-%d").rjust(10, "0"), datetime(dt.year, dt.month, dt.day, tzinfo=timezone.utc)),
        (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}Z", dt.replace(second=0, microsecond=0)),
        (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}+00:00", dt.replace(microsecond=0)),
        (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{dt.microsecond // 10000:02d}Z", dt),
    ]
    text, instant = texts[profile]
    assert read_date(text) == instant.timestamp()


@SETTINGS
@given(st.text("0123456789-:TZ.+", max_size=80))
def test_date_reader_never_raises(text: str) -> None:
    read_date(text)


# ------------------------------------------------------------------ 8: numbers of any length
@SETTINGS
@given(st.integers(1, 12000), st.sampled_from(["", "-", "+"]), st.sampled_from(["", ".5", "e3", "e-2"]))
def test_numbers_of_any_length_compare_exactly(digits: int, sign: str, tail: str) -> None:
    text = sign + "7" * digits + tail
    value = read_number(text)
    assert value is not None
    assert (value > 0) == (sign != "-")
    bigger = read_number("8" * digits + tail)
    assert bigger is not None and bigger > abs(value)


@SETTINGS
@given(st.text("0123456789eE+-.", max_size=60), st.integers(0, 6000))
def test_number_reader_never_raises(text: str, pad: int) -> None:
    read_number(text)
    read_number("1" * pad + text)


def test_huge_numbers_in_policy_and_context() -> None:
    huge = "9" * 5000
    policy = pol(allow(Condition={"NumericLessThan": {"s3:max-keys": huge}}))
    assert evaluate(req(context={"s3:max-keys": "10"}), [policy]).allowed
    assert not evaluate(req(context={"s3:max-keys": huge + "9"}), [policy]).allowed
    assert not evaluate(req(context={"s3:max-keys": 10 ** 5000}), [policy]).allowed
    small = pol(allow(Condition={"NumericGreaterThan": {"s3:max-keys": "10"}}))
    assert evaluate(req(context={"s3:max-keys": huge}), [small]).allowed
    # An exponent beyond any representable number is not a number: the policy is refused.
    with pytest.raises(PolicyValidationError):
        pol(allow(Condition={"NumericLessThan": {"s3:max-keys": "1e999999999999999999999"}}))
    # ... and as a request value it never matches.
    assert not evaluate(req(context={"s3:max-keys": "1e999999999999999999999"}), [small]).allowed
