"""OpenSTS's IAM policy engine: parse, validate, compile and evaluate AWS IAM policies.

Pure: imports nothing else from OpenSTS and does no I/O. See docs/POLICY-ENGINE.md.

    from opensts.policy import parse_policy, Principal, Request, evaluate

    policy = parse_policy(text, "identity", name="arn:aws:iam::123456789012:policy/Read")
    req = Request(Principal.from_arn("arn:aws:iam::123456789012:user/alice"),
                  "s3:GetObject", "arn:aws:s3:::bucket/key", context={"aws:SourceIp": "10.0.0.1"})
    decision = evaluate(req, [policy])          # or PolicySet([...]) built once per principal
    decision.allowed, decision.outcome, decision.matched
"""
from .decision import Decision, MatchedStatement, Outcome
from .errors import PolicyValidationError
from .evaluate import context_keys, evaluate, reads_context, requires_resource_policy, resource_policy_verdict
from .model import Condition, Effect, Policy, PolicyKind, PrincipalSpec, Statement, VERSION_2008, VERSION_2012
from .parse import (
    GROUP_INLINE_POLICIES_MAX_SIZE,
    MANAGED_POLICY_MAX_SIZE,
    ROLE_INLINE_POLICIES_MAX_SIZE,
    SESSION_POLICY_MAX_LENGTH,
    TRUST_POLICY_MAX_SIZE,
    USER_INLINE_POLICIES_MAX_SIZE,
    clear_cache,
    parse_policy,
    policy_size,
    validate_policy,
)
from .policyset import PolicySet
from .request import Principal, PrincipalType, Request, principal_type_of
from .trust import evaluate_trust

__all__ = [
    "Condition", "Decision", "Effect", "GROUP_INLINE_POLICIES_MAX_SIZE", "MANAGED_POLICY_MAX_SIZE",
    "MatchedStatement", "Outcome", "Policy", "PolicyKind", "PolicySet", "PolicyValidationError", "Principal",
    "PrincipalSpec", "PrincipalType", "ROLE_INLINE_POLICIES_MAX_SIZE", "Request",
    "SESSION_POLICY_MAX_LENGTH", "Statement", "TRUST_POLICY_MAX_SIZE", "USER_INLINE_POLICIES_MAX_SIZE",
    "VERSION_2008", "VERSION_2012", "clear_cache", "context_keys", "evaluate", "evaluate_trust", "parse_policy",
    "policy_size", "principal_type_of", "reads_context", "requires_resource_policy", "resource_policy_verdict", "validate_policy",
]
