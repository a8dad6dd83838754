"""Role trust-policy evaluation for sts:AssumeRole* (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html).

Same account: a trust policy naming the caller's ARN suffices on its own; one naming the account
(``"AWS": "ACCT"`` or ``arn:aws:iam::ACCT:root``) delegates to the caller's identity policies,
which must then allow the action on the role. Cross account: both always. Explicit denies
anywhere win. The root user may not assume roles.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

from .decision import Decision, Outcome
from .evaluate import ScpLevel, evaluate
from .policyset import PolicyLike, PolicySet, as_policy
from .model import Policy, PolicyKind
from .request import PrincipalType, Request

TRUST_ACTIONS_LC = frozenset(
    {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession", "sts:setsourceidentity"}
)


def _identity_policies(policies: Iterable[PolicyLike]) -> "PolicySet | list[Policy]":
    # A PolicySet is passed on as it is: it memoises which statements apply per action.
    if type(policies) is PolicySet:
        return policies
    return [as_policy(p, PolicyKind.IDENTITY) for p in policies]


def evaluate_trust(
    request: Request,
    trust_policy: PolicyLike,
    identity_policies: Iterable[PolicyLike] = (),
    permissions_boundaries: Iterable[PolicyLike] = (),
    session_policies: Iterable[PolicyLike] = (),
    scps: Sequence[ScpLevel] = (),
    *,
    extra_actions: Sequence[str] = (),
    scope_policies: Sequence[PolicyLike] = (),
) -> Decision:
    """Decide whether ``request.principal`` may assume the role ``request.resource``.

    ``request.action`` is the AssumeRole* action; ``extra_actions`` are further actions the call
    needs on the same trust policy (``sts:TagSession`` when tags are passed,
    ``sts:SetSourceIdentity`` when a source identity is set). All must be allowed; the first
    refusal is returned. ``identity_policies`` etc. are the *caller's* (unused for web-identity and
    SAML callers, who have none); ``scope_policies`` the calling session's scope-down policies.
    """
    trust = as_policy(trust_policy, PolicyKind.TRUST)
    identity = _identity_policies(identity_policies)
    boundaries = _identity_policies(permissions_boundaries)
    sessions = _identity_policies(session_policies)
    if request.principal.type is PrincipalType.ACCOUNT:
        return Decision(Outcome.IMPLICIT_DENY, reasons=("Roles may not be assumed by root accounts.",), blocked_by=("root",))
    allowed: list[Decision] = []
    for action in (request.action, *extra_actions):
        if action.lower() not in TRUST_ACTIONS_LC:
            return Decision(Outcome.IMPLICIT_DENY, reasons=(f"{action} is not a role trust action",), blocked_by=("resource",))
        req = request if action == request.action else replace(request, action=action)
        if req.resource_policy_required is not True:
            req = replace(req, resource_policy_required=True)
        decision = evaluate(req, identity, trust, boundaries, sessions, scps, scope_policies=scope_policies)
        if not decision.allowed:
            return decision
        allowed.append(decision)
    if len(allowed) == 1:  # the common case: its matched statements stay unbuilt until someone asks
        return allowed[0]
    return Decision(Outcome.ALLOW, tuple(m for d in allowed for m in d.matched), allowed[-1].reasons, ())
