"""Compile Condition clauses into predicates over a request context.

Semantics (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html): values of one key are ORed, and for a negated operator none may match; a
missing (or empty) key makes a positive operator false and a negated one true; ``IfExists`` makes
a missing key true; ``ForAllValues`` is true on a missing/empty key and needs every request value
to satisfy the operator; ``ForAnyValue`` is false on a missing/empty key and needs one request
value to; a plain operator on a multivalued key (more than one value) does not match. Request
values of the wrong type never satisfy a positive or a negated test. A policy value with an
unresolvable variable is dropped; if none is left the policy side is null: a positive operator
does not match and a negated one does (IAM User Guide, "Policy variables": "Inverted condition
operators like StringNotEquals or StringNotLike do match against a null value").
"""
from __future__ import annotations

import operator
import re
from typing import Any, Callable, Mapping

from .arn import split_arn
from .model import Condition
from .operators import NEGATED
from .values import read_address, read_binary, read_bool, read_date, read_network, read_number
from .variables import has_variables, parse_template, substitute, substitute_glob
from .wildcard import compile_glob, has_wildcard

Ctx = Mapping[str, tuple[str, ...]]
Predicate = Callable[[Ctx], bool]
# test(request_value, resolved_policy_values) -> True/False, or None if the request value is unreadable
Test = Callable[[str, object], "bool | None"]

_CMP = {
    "Equals": operator.eq,
    "NotEquals": operator.eq,  # negation applied by the clause
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}


def compile_condition(cond: Condition, variables: bool) -> Predicate:
    """A predicate for one (operator, key) clause. ``variables``: the policy is 2012-10-17."""
    key = cond.key.lower()
    if cond.base == "Null":
        wants_absent = tuple(read_bool(v) for v in cond.values)

        def null(ctx: Ctx) -> bool:
            absent = not ctx.get(key)
            return any(w == absent for w in wants_absent)

        return null

    resolve, test = _family(cond, variables)
    negated = cond.base in NEGATED
    set_op = cond.set_operator
    if_exists = cond.if_exists

    def clause(ctx: Ctx) -> bool:
        vals = ctx.get(key)
        if not vals:
            if if_exists:
                return True
            if set_op == "ForAllValues":
                return True
            if set_op == "ForAnyValue":
                return False
            return negated
        pvals = resolve(ctx)
        if pvals is None:
            # Every policy value had an unresolvable variable: a null value, which a negated
            # operator matches (IAM User Guide, reference_policies_variables: "Inverted condition
            # operators like StringNotEquals or StringNotLike do match against a null value").
            if set_op is None and len(vals) > 1:
                return False
            return negated
        if set_op is None:
            if len(vals) > 1:
                return False
            res = test(vals[0], pvals)
            if res is None:
                return False
            return (not res) if negated else res
        if set_op == "ForAnyValue":
            for r in vals:
                res = test(r, pvals)
                if res is not None and res != negated:
                    return True
            return False
        for r in vals:  # ForAllValues
            res = test(r, pvals)
            if res is None or res == negated:
                return False
        return True

    return clause


def _resolver(
    cond: Condition, variables: bool, convert: Callable[[str], object], finish: Callable[[list[Any]], object] = tuple
) -> Callable[[Ctx], object]:
    """ctx -> converted policy values (``finish``-ed), resolving variables when the policy has them.

    Values that do not convert are dropped; None means nothing usable is left (clause is false).
    Without variables the result is computed once, here.
    """
    if not (variables and any(has_variables(v) for v in cond.values)):
        converted = [c for c in (convert(v) for v in cond.values) if c is not None]
        static = finish(converted) if converted else None
        return lambda ctx: static
    templates = [parse_template(v) for v in cond.values]

    def resolve(ctx: Ctx) -> object:
        out = []
        for t in templates:
            text = substitute(t, ctx)
            if text is None:
                continue
            c = convert(text)
            if c is not None:
                out.append(c)
        return finish(out) if out else None

    return resolve


def _family(cond: Condition, variables: bool) -> tuple[Callable[[Ctx], object], Test]:
    base = cond.base
    if base in ("StringEquals", "StringNotEquals"):
        resolve = _resolver(cond, variables, lambda v: v, frozenset)
        return resolve, lambda r, p: r in p
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        resolve = _resolver(cond, variables, str.lower, frozenset)
        return resolve, lambda r, p: r.lower() in p
    if base in ("StringLike", "StringNotLike"):
        return _like_resolver(cond, variables), lambda r, p: p.fullmatch(r) is not None
    if base.startswith("Numeric"):
        cmp = _CMP[base[len("Numeric"):]]
        resolve = _resolver(cond, variables, read_number)

        def num(r: str, p: object) -> bool | None:
            x = read_number(r)
            if x is None:
                return None
            return any(cmp(x, v) for v in p)  # type: ignore[attr-defined]

        return resolve, num
    if base.startswith("Date"):
        cmp = _CMP[base[len("Date"):]]
        resolve = _resolver(cond, variables, read_date)

        def date(r: str, p: object) -> bool | None:
            x = read_date(r)
            if x is None:
                return None
            return any(cmp(x, v) for v in p)  # type: ignore[attr-defined]

        return resolve, date
    if base == "Bool":
        resolve = _resolver(cond, variables, read_bool)

        def boolean(r: str, p: object) -> bool | None:
            x = read_bool(r)
            if x is None:
                return None
            return x in p  # type: ignore[operator]

        return resolve, boolean
    if base == "BinaryEquals":
        resolve = _resolver(cond, variables, read_binary)

        def binary(r: str, p: object) -> bool | None:
            x = read_binary(r)
            if x is None:
                x = r.encode("utf-8", "surrogatepass")
            return x in p  # type: ignore[operator]

        return resolve, binary
    if base in ("IpAddress", "NotIpAddress"):
        resolve = _resolver(cond, variables, read_network)

        def ip(r: str, p: object) -> bool | None:
            addr = read_address(r)
            if addr is None:
                return None
            for n in p:  # type: ignore[attr-defined]
                if addr.version == n.version and addr in n:
                    return True
            return False

        return resolve, ip
    if base.startswith("Arn"):
        resolve = _resolver(cond, variables, compile_arn_pattern)

        def arn(r: str, p: object) -> bool | None:
            parts = split_arn(r)
            if parts is None:
                return None
            return any(arn_pattern_matches(pat, parts) for pat in p)  # type: ignore[attr-defined]

        return resolve, arn
    raise ValueError(f"unknown operator {base}")  # the parser only lets known operators through


def _like_resolver(cond: Condition, variables: bool) -> Callable[[Ctx], object]:
    templates = [parse_template(v) if variables and has_variables(v) else None for v in cond.values]
    if not any(templates):
        regex = re.compile("|".join(f"(?:{compile_glob(v).pattern})" for v in cond.values), re.DOTALL)
        return lambda ctx: regex

    def resolve(ctx: Ctx) -> object:
        pieces = []
        for raw, t in zip(cond.values, templates):
            if t is None:
                pieces.append(compile_glob(raw).pattern)
            else:
                rx = substitute_glob(t, ctx)
                if rx is not None:
                    pieces.append(rx.pattern)
        if not pieces:
            return None
        return _alternation("|".join(f"(?:{p})" for p in pieces))

    return resolve


_ALT_CACHE: dict[str, re.Pattern[str]] = {}


def _alternation(text: str) -> re.Pattern[str]:
    rx = _ALT_CACHE.get(text)
    if rx is None:
        if len(_ALT_CACHE) > 4096:
            _ALT_CACHE.clear()
        rx = _ALT_CACHE[text] = re.compile(text, re.DOTALL)
    return rx


ArnPattern = tuple["str | re.Pattern[str]", ...]


def compile_arn_pattern(value: str) -> ArnPattern | None:
    """Six per-part matchers (exact string or glob regex); None if the value is not ARN-shaped."""
    parts = split_arn(value)
    if parts is None:
        return None
    return tuple(compile_glob(p) if has_wildcard(p) else p for p in parts)


def arn_pattern_matches(pattern: ArnPattern, parts: tuple[str, ...]) -> bool:
    for pat, part in zip(pattern, parts):
        if isinstance(pat, str):
            if pat != part:
                return False
        elif pat.fullmatch(part) is None:
            return False
    return True


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals of one value: each of the six ARN parts matched separately."""
    pat = compile_arn_pattern(pattern)
    parts = split_arn(value)
    return pat is not None and parts is not None and arn_pattern_matches(pat, parts)
