"""Decide one request: AWS's policy evaluation logic (IAM User Guide, "Policy evaluation logic";
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).

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
* Scope-down policies (GetScopedCredentials: ``scope_policies``, one per layer) constrain all of
  the above for an AWS principal: an explicit Deny in any denies, and every one must allow.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence, Union

from .compile import CompiledStatement
from .decision import Decision, Outcome
from .guardrails import reserved_resource_reason
from .model import Policy, PolicyKind
from .policyset import Group, PolicyLike, PolicySet, as_policy, groups_of
from .principals import DIRECT_MATCH, NO_MATCH, ROLE_MATCH
from .request import PrincipalType, Request

Policies = Union[PolicySet, Iterable[PolicyLike]]
ScpLevel = Union[PolicyLike, PolicySet, Sequence[PolicyLike]]
Raw = list[Any]  # (policy name, source, CompiledStatement) triples

_AWS_TYPES = frozenset(
    {PrincipalType.ACCOUNT, PrincipalType.USER, PrincipalType.ROLE, PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER}
)
_SCP_EXEMPT = frozenset({PrincipalType.ANONYMOUS, PrincipalType.SERVICE, PrincipalType.WEB_IDENTITY, PrincipalType.SAML})
_ASSUME_ACTIONS = frozenset(
    {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession", "sts:setsourceidentity"}
)
_CALLER_IDENTITY = Decision(Outcome.ALLOW, reasons=("sts:GetCallerIdentity requires no permission",))

_REASONS = {
    "identity": "no identity-based policy allows the action",
    "boundary": "the permissions boundary does not allow the action",
    "session": "the session policies do not allow the action",
    "resource": "the resource-based policy does not allow the principal",
    "scp": "a service control policy does not allow the action",
    "endpoint": "the VPC endpoint policy does not allow the action",
    "scope": "a scope-down policy of the session (GetScopedCredentials) does not allow the action",
}


def requires_resource_policy(action_lc: str, resource: str) -> bool:
    """Whether the resource's own policy must allow (it is authoritative: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    if action_lc in _ASSUME_ACTIONS:
        return ":role/" in resource or resource == "*"
    if action_lc.startswith("kms:"):
        return ":key/" in resource
    return False


# --------------------------------------------------------------------------- statement checks
def _applies(cs: CompiledStatement, request: Request) -> bool:
    """Resource and conditions of a statement whose action already matched."""
    if request.resource_is_pattern:
        return cs.resource_matches(request.resource, request.ctx, True) and cs.conditions_hold(request.ctx)
    return cs.check(request.resource, request.ctx)


def _any_deny(groups: Sequence[Group], source: str, request: Request, raw: Raw) -> bool:
    if request.resource_is_pattern:
        return _any_deny_slow(groups, source, request, raw)
    resource, ctx = request.resource, request.ctx
    found = False
    for name, denies, _ in groups:
        for cs in denies:
            if cs.check(resource, ctx):
                raw.append((name, source, cs))
                found = True
    return found


def _any_deny_slow(groups: Sequence[Group], source: str, request: Request, raw: Raw) -> bool:
    found = False
    for name, denies, _ in groups:
        for cs in denies:
            if _applies(cs, request):
                raw.append((name, source, cs))
                found = True
    return found


def _first_allow(groups: Sequence[Group], source: str, request: Request, raw: Raw) -> bool:
    if request.resource_is_pattern:
        for name, _, allows in groups:
            for cs in allows:
                if _applies(cs, request):
                    raw.append((name, source, cs))
                    return True
        return False
    resource, ctx = request.resource, request.ctx
    for name, _, allows in groups:
        for cs in allows:
            if cs.check(resource, ctx):
                raw.append((name, source, cs))
                return True
    return False


def _resource_deny(groups: Sequence[Group], source: str, request: Request, raw: Raw, has_boundary: bool) -> bool:
    """Whether a Deny naming the caller applies.

    A Deny with NotPrincipal always applies to a principal that has a permissions boundary (IAM
    User Guide, NotPrincipal: it "will always deny any IAM principal that has a permissions
    boundary policy attached, regardless of the values specified in the NotPrincipal element").
    """
    principal = request.principal
    found = False
    for name, denies, _ in groups:
        for cs in denies:
            if cs.principal_kind(principal) == NO_MATCH and not (has_boundary and cs.not_principal is not None):
                continue
            if _applies(cs, request):
                raw.append((name, source, cs))
                found = True
    return found


def _resource_allow(groups: Sequence[Group], source: str, request: Request, raw: Raw) -> int:
    """The strongest way an applying Allow names the caller (see principals.py)."""
    principal = request.principal
    best = NO_MATCH
    best_entry = None
    for name, _, allows in groups:
        for cs in allows:
            kind = cs.principal_kind(principal)
            if kind > best and _applies(cs, request):
                best = kind
                best_entry = (name, source, cs)
                if kind == DIRECT_MATCH:
                    raw.append(best_entry)
                    return kind
    if best_entry is not None:
        raw.append(best_entry)
    return best


_SEQ_TYPES = (list, tuple, PolicySet)


def _levels(levels: Sequence[ScpLevel], action_lc: str, kind: PolicyKind) -> list[Sequence[Group]]:
    """SCPs/RCPs come as organisation levels (root, OUs, account); a bare policy is a level of one."""
    out: list[Sequence[Group]] = []
    for level in levels:
        if isinstance(level, (Policy, dict, str)):
            level = [level]
        out.append(groups_of(level, action_lc, kind))
    return out


# --------------------------------------------------------------------------- evaluation
def context_keys(
    action: str,
    identity_policies: Policies = (),
    permissions_boundaries: Policies = (),
    session_policies: Policies = (),
    resource_policy: PolicyLike | None = None,
    *,
    scope_policies: Sequence[PolicyLike] = (),
) -> frozenset[str]:
    """The (lower-case) context keys a decision on ``action`` under these policies can read.

    They are the condition keys of the statements whose Action matches, and the policy variables in
    their condition values and Resource/NotResource. :func:`evaluate` gives the same Decision for two
    contexts that agree on these keys (empty: for every context), given the principal, resource and
    resource account, so a caller may remember it. With ``resource_policy`` (a role's trust policy,
    say) its statements count too; not for requests with SCPs, RCPs or endpoint policies.
    """
    action_lc = action.lower()
    keys: set[str] = set()
    for policies, kind in ((identity_policies, PolicyKind.IDENTITY), (permissions_boundaries, PolicyKind.IDENTITY),
                           (session_policies, PolicyKind.IDENTITY), (scope_policies, PolicyKind.IDENTITY),
                           ((resource_policy,) if resource_policy is not None else (), PolicyKind.RESOURCE)):
        if not policies:
            continue
        for _, denies, allows in groups_of(policies, action_lc, kind):
            for statements in (denies, allows):
                for cs in statements:
                    keys |= cs.reads
    return frozenset(keys)


def reads_context(
    action: str,
    identity_policies: Policies = (),
    permissions_boundaries: Policies = (),
    session_policies: Policies = (),
) -> bool:
    """Whether a decision on ``action`` under these policies can depend on the context at all."""
    return bool(context_keys(action, identity_policies, permissions_boundaries, session_policies))


def resource_policy_verdict(request: Request, resource_policy: PolicyLike, *, has_boundary: bool = False) -> Outcome:
    """What a resource policy alone says about the caller: EXPLICIT_DENY when a Deny naming it
    applies, ALLOW when an Allow names it (directly, via its role or its account), else
    IMPLICIT_DENY. For explanations such as IAM's simulator; real decisions use :func:`evaluate`."""
    policy = as_policy(resource_policy, PolicyKind.RESOURCE)
    groups = groups_of((policy,), request.action_lc, PolicyKind.RESOURCE)
    raw: list[Any] = []
    if _resource_deny(groups, "resource", request, raw, has_boundary):
        return Outcome.EXPLICIT_DENY
    return Outcome.ALLOW if _resource_allow(groups, "resource", request, raw) != NO_MATCH else Outcome.IMPLICIT_DENY


def evaluate(
    request: Request,
    identity_policies: Policies = (),
    resource_policy: PolicyLike | None = None,
    permissions_boundaries: Policies = (),
    session_policies: Policies = (),
    scps: Sequence[ScpLevel] = (),
    *,
    rcps: Sequence[ScpLevel] = (),
    endpoint_policies: Policies = (),
    scope_policies: Sequence[PolicyLike] = (),
) -> Decision:
    """Decide ``request``.

    Each policy argument takes :class:`Policy` objects, documents (parsed and cached; a bad one
    raises PolicyValidationError) or a :class:`PolicySet` (fastest: build it once per principal).
    ``scps``/``rcps`` are organisation levels, each a policy or a sequence of policies; every SCP
    level must allow. RCPs only deny (AWS attaches RCPFullAWSAccess to every level).
    ``scope_policies``: a session's scope-down policies (identity policies), each of which must
    allow (AWS principals only).
    """
    action_lc = request.action_lc
    if action_lc == "sts:getcalleridentity":
        return _CALLER_IDENTITY
    principal = request.principal
    ptype = principal.type
    aws_principal = ptype in _AWS_TYPES
    if permissions_boundaries and type(permissions_boundaries) not in _SEQ_TYPES:
        permissions_boundaries = tuple(permissions_boundaries)
    if session_policies and type(session_policies) not in _SEQ_TYPES:
        session_policies = tuple(session_policies)
    if endpoint_policies and type(endpoint_policies) not in _SEQ_TYPES:
        endpoint_policies = tuple(endpoint_policies)

    g_id: Sequence[Group] = groups_of(identity_policies, action_lc, PolicyKind.IDENTITY) if aws_principal else ()
    g_b: Sequence[Group] = ()
    g_s: Sequence[Group] = ()
    g_rp: Sequence[Group] = ()
    g_ep: Sequence[Group] = ()
    g_scp: Sequence[Sequence[Group]] = ()
    g_rcp: Sequence[Sequence[Group]] = ()
    g_scope: Sequence[Sequence[Group]] = ()
    if aws_principal:
        if scope_policies:
            g_scope = [groups_of((p,), action_lc, PolicyKind.IDENTITY) for p in scope_policies]
        if permissions_boundaries:
            g_b = groups_of(permissions_boundaries, action_lc, PolicyKind.IDENTITY)
        if session_policies:
            g_s = groups_of(session_policies, action_lc, PolicyKind.IDENTITY)
    if resource_policy is not None:
        g_rp = groups_of((resource_policy,), action_lc, PolicyKind.RESOURCE)
    if scps and ptype not in _SCP_EXEMPT:
        g_scp = _levels(scps, action_lc, PolicyKind.SCP)
    if rcps and ptype is not PrincipalType.SERVICE:
        g_rcp = _levels(rcps, action_lc, PolicyKind.RCP)
    if endpoint_policies:
        g_ep = groups_of(endpoint_policies, action_lc, PolicyKind.ENDPOINT)

    # --- explicit denies anywhere ----------------------------------------------------------------
    raw: Raw = []
    denied: list[str] = []
    if g_id and _any_deny(g_id, "identity", request, raw):
        denied.append("identity")
    if g_rp and _resource_deny(g_rp, "resource", request, raw, bool(permissions_boundaries)):
        denied.append("resource")
    if g_b and _any_deny(g_b, "boundary", request, raw):
        denied.append("boundary")
    if g_s and _any_deny(g_s, "session", request, raw):
        denied.append("session")
    for level in g_scp:
        if _any_deny(level, "scp", request, raw) and "scp" not in denied:
            denied.append("scp")
    for level in g_rcp:
        if _resource_deny(level, "rcp", request, raw, False) and "rcp" not in denied:
            denied.append("rcp")
    if g_ep and _resource_deny(g_ep, "endpoint", request, raw, False):
        denied.append("endpoint")
    for layer in g_scope:
        if _any_deny(layer, "scope", request, raw) and "scope" not in denied:
            denied.append("scope")
    if denied:
        return Decision(Outcome.EXPLICIT_DENY, raw, tuple(f"explicit deny in {s} policy" for s in denied), tuple(denied))

    guard = reserved_resource_reason(action_lc, request.resource)
    if guard:
        return Decision(Outcome.IMPLICIT_DENY, raw, (guard,), ("guardrail",))

    # --- grants ------------------------------------------------------------------------------------
    blocked: list[str] = []
    rp_kind = _resource_allow(g_rp, "resource", request, raw) if g_rp else NO_MATCH
    if aws_principal:
        is_root = ptype is PrincipalType.ACCOUNT
        boundary_ok = is_root or not permissions_boundaries or _first_allow(g_b, "boundary", request, raw)
        if session_policies:
            session_ok = _first_allow(g_s, "session", request, raw)
        else:
            # A federated user (GetFederationToken) without a session policy has no permissions.
            session_ok = ptype is not PrincipalType.FEDERATED_USER
        same_account = request.resource_account == principal.account
        required = request.resource_policy_required
        if required is None:
            required = requires_resource_policy(action_lc, request.resource)
        rp_grant = same_account and (
            rp_kind == DIRECT_MATCH or (rp_kind == ROLE_MATCH and boundary_ok and session_ok)
        )
        if rp_grant:
            allowed = True
        elif (required or not same_account) and rp_kind == NO_MATCH:
            allowed = False
            blocked.append("resource")
        else:
            identity_allow = is_root or _first_allow(g_id, "identity", request, raw)
            allowed = identity_allow and boundary_ok and session_ok
            if not allowed:
                if not identity_allow:
                    blocked.append("identity")
                if not boundary_ok:
                    blocked.append("boundary")
                if not session_ok:
                    blocked.append("session")
    else:
        allowed = rp_kind == DIRECT_MATCH
        if not allowed:
            blocked.append("resource")
    for level in g_scp:
        if not _first_allow(level, "scp", request, raw):
            allowed = False
            blocked.append("scp")
            break
    if endpoint_policies and _resource_allow(g_ep, "endpoint", request, raw) == NO_MATCH:
        allowed = False
        blocked.append("endpoint")
    for layer in g_scope:
        if not _first_allow(layer, "scope", request, raw):
            allowed = False
            blocked.append("scope")
            break
    if allowed:
        return Decision(Outcome.ALLOW, raw)
    reasons = tuple(_REASONS.get(b, b) for b in blocked) or ("no policy allows the request",)
    return Decision(Outcome.IMPLICIT_DENY, raw, reasons, tuple(blocked))
