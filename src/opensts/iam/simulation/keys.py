"""The context keys simulated policies read, as the policy engine knows them.

A statement reads its condition keys and, in a policy of Version 2012-10-17, the keys of the policy
variables in its Resource or NotResource and condition values (``${aws:username}``); the compiled
statement lists them as written (``CompiledStatement.keys``). Keys are reported as written in the
policy: condition keys are case-insensitive, so each is reported once, under its first spelling.
"""

from __future__ import annotations

from typing import Iterable

from opensts.policy import Policy, Request


def unique_keys(keys: Iterable[str]) -> list[str]:
    """``keys`` without case-insensitive repeats, first spelling kept, in order."""
    out: list[str] = []
    seen: set[str] = set()
    for key in keys:
        low = key.lower()
        if low not in seen:
            seen.add(low)
            out.append(key)
    return out


def policy_keys(policies: Iterable[Policy]) -> list[str]:
    """Every context key the policies' statements read, in document order."""
    return unique_keys(key for policy in policies for cs in policy.compiled.statements for key in cs.keys)


def missing_keys(request: Request, policies: Iterable[Policy]) -> list[str]:
    """The keys absent from the request context that are read by statements that apply to its
    action and resource, or whose resource depends on a variable (an absent variable is why such a
    statement does not match), sorted case-insensitively."""
    keys = (
        key
        for policy in policies
        for cs in policy.compiled.candidates(request.action_lc)
        if cs.r_templates or cs.resource_matches(request.resource, request.ctx, request.resource_is_pattern)
        for key in cs.keys
        if key.lower() not in request.ctx
    )
    return sorted(unique_keys(keys), key=str.lower)
