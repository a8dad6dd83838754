"""Decide one request: AWS's policy evaluation logic (IAM User Guide, "Policy evaluation logic";
OpenSTS reference §10).

Order: GetCallerIdentity is always allowed; an explicit Deny in any applicable policy denies;
AWS guardrails on reserved resources deny; then the grant rules:

* Anonymous callers and service principals are granted only by a resource policy naming them.
* Same account: identity policies (∧ boundary ∧ session policies) grant, or the resource policy
  grants on its own when it names the exact caller (user, session, federated user, ``*``), or —
  limited by boundary and session policies — the caller's role. Naming only the account delegates
  to identity policies. When the resource policy is authoritative (role trust policies, KMS key
  policies) the identity side alone never grants.
* Cross account: both the identity side and the resource policy (any match kind) must allow.
* SCPs (every level must allow; not for anonymous/service callers), RCPs (deny only: AWS attaches
  RCPFullAWSAccess everywhere) and VPC endpoint policies (must allow) constrain all of the above.
* A federated user (GetFederationToken) with no session policy gets nothing from identity policies.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence, Union

from .compile import CompiledPolicy
from .decision import Decision, MatchedStatement, Outcome
from .guardrails import reserved_resource_reason
from .model import Policy, PolicyKind
from .parse import parse_policy
from .principals import ACCOUNT_MATCH, DIRECT_MATCH, NO_MATCH, ROLE_MATCH
from .request import PrincipalType, Request

PolicyLike = Union[Policy, Mapping[str, Any], str]
ScpLevel = Union[PolicyLike, Sequence[PolicyLike]]

_AWS_TYPES = frozenset(
    {PrincipalType.ACCOUNT, PrincipalType.USER, PrincipalType.ROLE, PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER}
)
_SCP_EXEMPT = frozenset({PrincipalType.ANONYMOUS, PrincipalType.SERVICE, PrincipalType.WEB_IDENTITY, PrincipalType.SAML})
_ASSUME_ACTIONS = frozenset(
    {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession", "sts:setsourceidentity"}
)
_CALLER_IDENTITY = Decision(Outcome.ALLOW, reasons=("sts:GetCallerIdentity requires no permission",))

ALLOW_BIT = 1
DENY_BIT = 2


def requires_resource_policy(action_lc: str, resource: str) -> bool:
    """Whether the resource's own policy must allow (it is authoritative, AWS §10 item 3)."""
    if action_lc in _ASSUME_ACTIONS:
        return ":role/" in resource or resource == "*"
    if action_lc.startswith("kms:"):
        return ":key/" in resource
    return False


def as_policy(p: PolicyLike, kind: PolicyKind) -> Policy:
    return p if isinstance(p, Policy) else parse_policy(p, kind)


def _scan(
    policies: Iterable[Policy], source: str, request: Request, matched: list[MatchedStatement] | None
) -> int:
    """Allow/deny bits of the statements that apply; appends them to ``matched``."""
    action_lc = request.action_lc
    resource = request.resource
    ctx = request.ctx
    pattern_mode = request.resource_is_pattern
    bits = 0
    for policy in policies:
        compiled: CompiledPolicy = policy.compiled
        for cs in compiled.candidates(action_lc):
            rm = cs.resources
            if rm is not None:
                if pattern_mode:
                    if not cs.resource_matches(resource, ctx, True):
                        continue
                elif (rm.matches(resource, ctx)) == cs.not_resource:
                    continue
            if cs.conditions and not cs.conditions_hold(ctx):
                continue
            bits |= ALLOW_BIT if cs.allow else DENY_BIT
            if matched is not None:
                st = cs.statement
                matched.append(MatchedStatement(policy.name, source, st.index, st.sid, st.effect.value))
    return bits


def _scan_resource(
    policy: Policy, source: str, request: Request, matched: list[MatchedStatement], has_boundary: bool = False
) -> tuple[int, bool]:
    """Best principal-match kind among applying Allow statements, and whether a Deny applies.

    A Deny with NotPrincipal always applies to a principal that has a permissions boundary (IAM
    User Guide, NotPrincipal: "will always deny any IAM principal that has a permissions boundary
    policy attached, regardless of the values specified in the NotPrincipal element").
    """
    action_lc = request.action_lc
    ctx = request.ctx
    principal = request.principal
    best = NO_MATCH
    denied = False
    for cs in policy.compiled.candidates(action_lc):
        if not cs.resource_matches(request.resource, ctx, request.resource_is_pattern):
            continue
        kind = cs.principal_kind(principal)
        if kind == NO_MATCH and not (has_boundary and not cs.allow and cs.not_principal is not None):
            continue
        if cs.conditions and not cs.conditions_hold(ctx):
            continue
        st = cs.statement
        matched.append(MatchedStatement(policy.name, source, st.index, st.sid, st.effect.value))
        if cs.allow:
            if kind > best:
                best = kind
        else:
            denied = True
    return best, denied


def _levels(scps: Sequence[ScpLevel], kind: PolicyKind) -> list[list[Policy]]:
    """SCPs/RCPs come as organisation levels (root, OUs, account); a bare policy is a level of one."""
    out = []
    for level in scps:
        if isinstance(level, (Policy, Mapping, str)):
            out.append([as_policy(level, kind)])
        else:
            out.append([as_policy(p, kind) for p in level])
    return out


def evaluate(
    request: Request,
    identity_policies: Iterable[PolicyLike] = (),
    resource_policy: PolicyLike | None = None,
    permissions_boundaries: Iterable[PolicyLike] = (),
    session_policies: Iterable[PolicyLike] = (),
    scps: Sequence[ScpLevel] = (),
    *,
    rcps: Sequence[ScpLevel] = (),
    endpoint_policies: Iterable[PolicyLike] = (),
) -> Decision:
    """Decide ``request``.

    Policies may be :class:`Policy` objects (fast path) or documents (parsed and cached here; a
    bad one raises PolicyValidationError). ``scps``/``rcps`` are organisation levels, each a policy
    or a sequence of policies; every SCP level must allow.
    """
    action_lc = request.action_lc
    if action_lc == "sts:getcalleridentity":
        return _CALLER_IDENTITY

    identity = [as_policy(p, PolicyKind.IDENTITY) for p in identity_policies]
    boundaries = [as_policy(p, PolicyKind.IDENTITY) for p in permissions_boundaries]
    sessions = [as_policy(p, PolicyKind.IDENTITY) for p in session_policies]
    endpoints = [as_policy(p, PolicyKind.ENDPOINT) for p in endpoint_policies]
    rpolicy = as_policy(resource_policy, PolicyKind.RESOURCE) if resource_policy is not None else None

    principal = request.principal
    ptype = principal.type
    aws_principal = ptype in _AWS_TYPES
    matched: list[MatchedStatement] = []
    denied: list[str] = []

    # --- every applicable policy, explicit denies first in the verdict ----------------------------
    id_bits = _scan(identity, "identity", request, matched) if aws_principal else 0
    b_bits = _scan(boundaries, "boundary", request, matched) if boundaries and aws_principal else 0
    s_bits = _scan(sessions, "session", request, matched) if sessions and aws_principal else 0
    rp_kind, rp_deny = _scan_resource(rpolicy, "resource", request, matched, bool(boundaries)) if rpolicy is not None else (NO_MATCH, False)
    scp_ok = True
    if scps and ptype not in _SCP_EXEMPT:
        for level in _levels(scps, PolicyKind.SCP):
            bits = _scan(level, "scp", request, matched)
            if bits & DENY_BIT and "scp" not in denied:
                denied.append("scp")
            if not bits & ALLOW_BIT:
                scp_ok = False
    if rcps and ptype is not PrincipalType.SERVICE:
        for level in _levels(rcps, PolicyKind.RCP):
            for p in level:
                if _scan_resource(p, "rcp", request, matched)[1] and "rcp" not in denied:
                    denied.append("rcp")
    endpoint_allow = endpoint_deny = False
    for p in endpoints:
        best, deny = _scan_resource(p, "endpoint", request, matched)
        endpoint_allow = endpoint_allow or best != NO_MATCH
        endpoint_deny = endpoint_deny or deny
    if id_bits & DENY_BIT:
        denied.append("identity")
    if rp_deny:
        denied.append("resource")
    if b_bits & DENY_BIT:
        denied.append("boundary")
    if s_bits & DENY_BIT:
        denied.append("session")
    if endpoint_deny:
        denied.append("endpoint")
    if denied:
        return Decision(
            Outcome.EXPLICIT_DENY, tuple(matched), tuple(f"explicit deny in {s} policy" for s in denied), tuple(denied)
        )

    guard = reserved_resource_reason(action_lc, request.resource)
    if guard:
        return Decision(Outcome.IMPLICIT_DENY, tuple(matched), (guard,), ("guardrail",))

    # --- grants ------------------------------------------------------------------------------------
    blocked: list[str] = []
    if aws_principal:
        is_root = ptype is PrincipalType.ACCOUNT
        identity_allow = is_root or bool(id_bits & ALLOW_BIT)
        boundary_ok = is_root or not boundaries or bool(b_bits & ALLOW_BIT)
        if sessions:
            session_ok = bool(s_bits & ALLOW_BIT)
        else:
            session_ok = ptype is not PrincipalType.FEDERATED_USER
        identity_chain = identity_allow and boundary_ok and session_ok
        required = request.resource_policy_required
        if required is None:
            required = requires_resource_policy(action_lc, request.resource)
        if request.resource_account == principal.account:
            rp_grant = rp_kind == DIRECT_MATCH or (rp_kind == ROLE_MATCH and boundary_ok and session_ok)
            if required:
                allowed = rp_grant or (rp_kind == ACCOUNT_MATCH and identity_chain)
            else:
                allowed = identity_chain or rp_grant
        else:
            allowed = identity_chain and rp_kind >= ACCOUNT_MATCH
        if not allowed:
            if not identity_allow and rp_kind < ROLE_MATCH:
                blocked.append("identity")
            if not boundary_ok:
                blocked.append("boundary")
            if not session_ok:
                blocked.append("session")
            if rp_kind == NO_MATCH and (required or request.resource_account != principal.account):
                blocked.append("resource")
    else:
        allowed = rp_kind == DIRECT_MATCH
        if not allowed:
            blocked.append("resource")
    if not scp_ok:
        allowed = False
        blocked.append("scp")
    if endpoints and not endpoint_allow:
        allowed = False
        blocked.append("endpoint")
    if allowed:
        return Decision(Outcome.ALLOW, tuple(matched), (), ())
    reasons = tuple(_REASONS.get(b, b) for b in blocked) or ("no policy allows the request",)
    return Decision(Outcome.IMPLICIT_DENY, tuple(matched), reasons, tuple(blocked))


_REASONS = {
    "identity": "no identity-based policy allows the action",
    "boundary": "the permissions boundary does not allow the action",
    "session": "the session policies do not allow the action",
    "resource": "the resource-based policy does not allow the principal",
    "scp": "a service control policy does not allow the action",
    "endpoint": "the VPC endpoint policy does not allow the action",
}
