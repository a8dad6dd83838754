"""The catalogue of condition operators and the parsing of an operator name.

Kept apart from the evaluation code (``conditions.py``) so the parser can validate names without
pulling in comparison logic.
"""
from __future__ import annotations

from typing import NamedTuple

STRING_OPS = (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike",
)
NUMERIC_OPS = (
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
)
DATE_OPS = (
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
    "DateGreaterThan", "DateGreaterThanEquals",
)
ARN_OPS = ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")
OTHER_OPS = ("Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "Null")

ALL_OPS = STRING_OPS + NUMERIC_OPS + DATE_OPS + ARN_OPS + OTHER_OPS
_BY_LOWER = {op.lower(): op for op in ALL_OPS}

# Negated operators: true when the request value matches none of the policy values, and true
# when the key is missing (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
NEGATED = frozenset(
    {
        "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
        "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike",
    }
)

SET_OPERATORS = ("ForAllValues", "ForAnyValue")


class ParsedOperator(NamedTuple):
    base: str
    set_operator: str | None
    if_exists: bool


def parse_operator(name: str) -> ParsedOperator | None:
    """Split ``ForAnyValue:StringLikeIfExists`` into its parts; None if not an operator."""
    set_op: str | None = None
    rest = name
    if ":" in name:
        prefix, rest = name.split(":", 1)
        match = [s for s in SET_OPERATORS if s.lower() == prefix.lower()]
        if not match:
            return None
        set_op = match[0]
    if_exists = False
    if rest.lower().endswith("ifexists"):
        if_exists = True
        rest = rest[: -len("ifexists")]
    base = _BY_LOWER.get(rest.lower())
    if base is None:
        return None
    if base == "Null" and (if_exists or set_op):
        return None
    return ParsedOperator(base, set_op, if_exists)
