"""AssumeRole: temporary credentials for a role, granted by the role's trust policy.

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html

Same account: a trust policy naming the caller suffices; one naming the account delegates to the
caller's identity policies. Cross account: both must allow. A missing role and a refusing trust
policy give the same AccessDenied, so callers cannot probe for role names. Role chaining (a role
session assuming a role) carries the session's transitive tags and source identity, which cannot be
changed once set (AccessDenied), and is limited to one hour:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensts.access.authorize import caller_policies, denial_message, request_context, trust_decision_for
from opensts.access.trust_principals import effective_trust_policy
from opensts.actions import ActionContext, action
from opensts.errors import AccessDenied
from opensts.fields import custom, integer, text
from opensts.identity.principal import PrincipalKind
from opensts.sts import session_params as sp
from opensts.sts.credentials import AssumedRoleUser, Credentials, token_size_fields
from opensts.sts.role_sessions import (
    find_role,
    issue_role_session,
    session_duration,
    trust_context,
    trust_extra_actions,
)
from opensts.sts.mfa import verify_mfa

ROOT_MESSAGE = "Roles may not be assumed by root accounts."


def _not_authorized(caller_arn: str, role_arn: str) -> AccessDenied:
    return AccessDenied(f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")


@dataclass(frozen=True, slots=True, kw_only=True)
class AssumeRoleRequest:
    role_arn: str = text("RoleArn", required=True, min_len=20, max_len=2048)
    role_session_name: str = text(
        "RoleSessionName", required=True, min_len=2, max_len=64, pattern=sp.ROLE_SESSION_NAME_PATTERN
    )
    duration_seconds: int | None = integer("DurationSeconds", min_value=900, max_value=43200)
    external_id: str | None = text("ExternalId", min_len=2, max_len=1224, pattern=sp.EXTERNAL_ID_PATTERN)
    policies: sp.SessionPolicies = custom(sp.read_session_policies, default=sp.NO_SESSION_POLICIES)
    tags: sp.SessionTags = custom(sp.read_session_tags, default=sp.NO_SESSION_TAGS)
    mfa: sp.MfaInput | None = custom(sp.read_mfa, default=None)  # its token code is marked secret
    source_identity: str | None = custom(sp.read_source_identity, default=None)
    minimum_session_token_size: int | None = sp.minimum_session_token_size()


@dataclass(frozen=True, slots=True)
class AssumeRoleResult:
    credentials: Credentials
    assumed_role_user: AssumedRoleUser
    packed_policy_size: int | None = None
    source_identity: str | None = None
    session_token_utilization: int | None = None
    session_token_size: int | None = None


@action("sts", "AssumeRole", request=AssumeRoleRequest, cache_first=True)
def assume_role(ctx: ActionContext, request: AssumeRoleRequest) -> AssumeRoleResult:
    caller = ctx.caller
    assert caller is not None
    runtime = ctx.runtime
    if caller.kind is PrincipalKind.ROOT:
        raise AccessDenied(ROOT_MESSAGE)
    claims = caller.session
    chained = caller.kind is PrincipalKind.ASSUMED_ROLE

    role = find_role(runtime, request.role_arn)
    if role is None:
        raise _not_authorized(caller.arn, request.role_arn)
    duration = session_duration(role, request.duration_seconds, chained=chained)
    sp.validate_session_policy(request.policies.policy)
    inherited = sp.SessionTags(claims.tags, claims.transitive_tag_keys) if claims is not None else None
    tags = sp.check_session_tags(request.tags, inherited)

    inherited_identity = claims.source_identity if claims is not None else None
    if inherited_identity and request.source_identity and request.source_identity != inherited_identity:
        raise AccessDenied("SourceIdentity cannot be changed once set: it is carried through role chaining.")
    source_identity = inherited_identity or request.source_identity

    mfa_at = claims.mfa_authenticated_at if claims is not None else None
    if request.mfa is not None:
        mfa_at = verify_mfa(ctx, caller, request.mfa)

    role_arn = role.arn
    context: dict[str, Any] = request_context(
        caller, ctx.request_time, source_ip=ctx.source_ip, secure_transport=ctx.secure_transport, region=ctx.region
    )
    if request.mfa is not None and mfa_at is not None:
        context["aws:MultiFactorAuthPresent"] = True
        context["aws:MultiFactorAuthAge"] = max(0, int(ctx.request_time.timestamp()) - mfa_at)
    context.update(trust_context(request.role_session_name, tags, source_identity, request.external_id))
    policies = caller_policies(runtime, caller)
    if not policies.exists:
        raise _not_authorized(caller.arn, request.role_arn)
    decision = trust_decision_for(
        policies, effective_trust_policy(ctx.runtime, role), role_arn, role.account_id,
        tuple(trust_extra_actions(tags, request.source_identity is not None)), context,
    )
    if not decision.allowed:
        raise AccessDenied(denial_message(caller.arn, "sts:AssumeRole", role_arn, decision))
    credentials, assumed_role_user, packed = issue_role_session(
        runtime, role, request.role_session_name, ctx.request_time, duration,
        policies=request.policies, tags=tags, source_identity=source_identity, mfa_authenticated_at=mfa_at,
        chained=chained, region=ctx.region, min_token_size=request.minimum_session_token_size,
    )
    return AssumeRoleResult(credentials, assumed_role_user, packed, source_identity, *token_size_fields(credentials))
