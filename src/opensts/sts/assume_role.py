"""AssumeRole: temporary credentials for a role, granted by the role's trust policy.

Same account: a trust policy naming the caller suffices; one naming the account delegates to the
caller's identity policies. Cross account: both must allow. A missing role and a refusing trust
policy give the same AccessDenied, so callers cannot probe for role names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensts.access.authorize import caller_policies, denial_message, request_context
from opensts.actions import ActionContext, Params, action
from opensts.errors import AccessDenied, ValidationError
from opensts.identity import arn as arns
from opensts.identity.principal import PrincipalKind
from opensts.params import ParamReader
from opensts.policy import Request, evaluate_trust
from opensts.sts import session_params as sp
from opensts.sts.credentials import AssumedRoleUser, Credentials, issue, packed_size
from opensts.sts.mfa import verify_mfa

ROLE_CHAINING_LIMIT = 3600
ROOT_MESSAGE = "Roles may not be assumed by root accounts."
CHAINING_MESSAGE = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
MAX_SESSION_MESSAGE = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


@dataclass(frozen=True, slots=True)
class AssumeRoleRequest:
    role_arn: str
    role_session_name: str
    duration_seconds: int | None
    external_id: str | None
    policies: sp.SessionPolicies
    tags: sp.SessionTags
    mfa: sp.MfaInput | None
    source_identity: str | None

    @classmethod
    def from_params(cls, params: Params) -> "AssumeRoleRequest":
        reader = ParamReader(params)
        role_arn = reader.string("RoleArn", required=True, min_len=20, max_len=2048)
        session_name = reader.string("RoleSessionName", required=True, min_len=2, max_len=64, pattern=sp.ROLE_SESSION_NAME_PATTERN)
        duration = reader.integer("DurationSeconds", min_value=900, max_value=43200)
        external_id = reader.string("ExternalId", min_len=2, max_len=1224, pattern=sp.EXTERNAL_ID_PATTERN)
        policies = sp.read_session_policies(reader)
        tags = sp.read_session_tags(reader)
        mfa = sp.read_mfa(reader)
        source_identity = sp.read_source_identity(reader)
        reader.done()
        assert role_arn is not None and session_name is not None
        return cls(role_arn, session_name, duration, external_id, policies, tags, mfa, source_identity)


@dataclass(frozen=True, slots=True)
class AssumeRoleResult:
    credentials: Credentials
    assumed_role_user: AssumedRoleUser
    packed_policy_size: int | None = None
    source_identity: str | None = None


def assume_role(ctx: ActionContext, request: AssumeRoleRequest) -> AssumeRoleResult:
    caller = ctx.caller
    assert caller is not None
    runtime = ctx.runtime
    denied = AccessDenied(f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {request.role_arn}")
    if caller.kind is PrincipalKind.ROOT:
        raise AccessDenied(ROOT_MESSAGE)
    claims = caller.session
    chained = caller.kind is PrincipalKind.ASSUMED_ROLE

    role = _find_role(ctx, request.role_arn)
    if role is None:
        raise denied
    duration = request.duration_seconds or 3600
    if chained and duration > ROLE_CHAINING_LIMIT:
        raise ValidationError(CHAINING_MESSAGE)
    if duration > role.max_session_duration:
        raise ValidationError(MAX_SESSION_MESSAGE)

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

    role_arn = arns.role_arn(role.account_id, role.name, role.path)
    context: dict[str, Any] = request_context(
        caller, ctx.request_time, source_ip=ctx.source_ip, secure_transport=ctx.secure_transport, region=ctx.region
    )
    if request.mfa is not None and mfa_at is not None:
        context["aws:MultiFactorAuthPresent"] = True
        context["aws:MultiFactorAuthAge"] = max(0, int(ctx.request_time.timestamp()) - mfa_at)
    context.update(_sts_context(request, tags, source_identity))
    policies = caller_policies(runtime, caller)
    if not policies.exists:
        raise denied
    extra = []
    if tags.tags:
        extra.append("sts:TagSession")
    if request.source_identity is not None:
        extra.append("sts:SetSourceIdentity")
    decision = evaluate_trust(
        Request(policies.principal, "sts:AssumeRole", role_arn, role.account_id, context),
        role.assume_role_policy,
        policies.identity,
        policies.boundaries,
        policies.session,
        extra_actions=extra,
    )
    if not decision.allowed:
        raise AccessDenied(denial_message(caller.arn, "sts:AssumeRole", role_arn, decision))

    packed = packed_size(request.policies.policy, request.policies.policy_arns, tags.tags)
    session_arn = arns.assumed_role_arn(role.account_id, role.name, request.role_session_name)
    principal_id = f"{role.role_id}:{request.role_session_name}"
    credentials = issue(
        runtime,
        account_id=role.account_id,
        kind="assumed-role",
        principal_arn=session_arn,
        principal_id=principal_id,
        source_arn=role_arn,
        source_id=role.role_id,
        issued_at=ctx.request_time,
        duration_seconds=duration,
        mfa_authenticated_at=mfa_at,
        source_identity=source_identity,
        tags=tags.tags,
        transitive_tag_keys=tags.transitive_keys,
        session_policy=request.policies.policy,
        policy_arns=request.policies.policy_arns,
        role_chained=chained,
    )
    return AssumeRoleResult(credentials, AssumedRoleUser(principal_id, session_arn), packed, source_identity)


def _find_role(ctx: ActionContext, role_arn: str):  # type: ignore[no-untyped-def]
    """The role an ARN names, if it exists with exactly that path; None otherwise."""
    try:
        parsed = arns.Arn.parse(role_arn)
    except ValueError:
        return None
    if parsed.service != "iam" or parsed.resource_type != "role" or parsed.region:
        return None
    role = ctx.runtime.policies.role(parsed.account, parsed.resource_name)
    if role is None or role.path != parsed.resource_path or role.name != parsed.resource_name:
        return None
    return role


def _sts_context(request: AssumeRoleRequest, tags: sp.SessionTags, source_identity: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {"sts:RoleSessionName": request.role_session_name}
    if request.external_id is not None:
        context["sts:ExternalId"] = request.external_id
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    if tags.transitive_keys:
        context["sts:TransitiveTagKeys"] = list(tags.transitive_keys)
    if tags.tags:
        context["aws:TagKeys"] = [k for k, _ in tags.tags]
        for key, value in tags.tags:
            context[f"aws:RequestTag/{key}"] = value
    return context


@action("sts", "AssumeRole")
def handle(ctx: ActionContext, params: Params) -> AssumeRoleResult:
    return assume_role(ctx, AssumeRoleRequest.from_params(params))
