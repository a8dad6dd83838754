"""GetFederationToken: temporary credentials for a federated user, on behalf of an IAM user (or root).

https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html

The caller needs ``sts:GetFederationToken`` on ``arn:aws:sts::ACCT:federated-user/NAME``. The
federated user's permissions are the intersection of the caller's identity policies and the
session policies passed here; without a session policy the federated user has no permissions.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.access.authorize import authorize
from opensts.actions import ActionContext, action
from opensts.errors import AccessDenied
from opensts.fields import custom, integer, text
from opensts.identity import arn as arns
from opensts.identity.principal import PrincipalKind
from opensts.sts import session_params as sp
from opensts.sts.credentials import Credentials, FederatedUser, issue, packed_size, token_size_fields

NAME_PATTERN = r"[\w+=,.@-]*"
DEFAULT_DURATION = 43200
ROOT_MAX_DURATION = 3600
SESSION_CREDENTIALS_MESSAGE = "Cannot call GetFederationToken with session credentials"


@dataclass(frozen=True, slots=True, kw_only=True)
class GetFederationTokenRequest:
    name: str = text("Name", required=True, min_len=2, max_len=32, pattern=NAME_PATTERN)
    duration_seconds: int | None = integer("DurationSeconds", min_value=900, max_value=129600)
    policies: sp.SessionPolicies = custom(sp.read_session_policies, default=sp.NO_SESSION_POLICIES)
    tags: sp.SessionTags = custom(sp.read_session_tags, default=sp.NO_SESSION_TAGS)
    minimum_session_token_size: int | None = sp.minimum_session_token_size()


@dataclass(frozen=True, slots=True)
class GetFederationTokenResult:
    credentials: Credentials
    federated_user: FederatedUser
    packed_policy_size: int | None = None
    session_token_utilization: int | None = None
    session_token_size: int | None = None


@action("sts", "GetFederationToken", request=GetFederationTokenRequest, cache_first=True)
def get_federation_token(ctx: ActionContext, request: GetFederationTokenRequest) -> GetFederationTokenResult:
    caller = ctx.caller
    assert caller is not None
    if caller.is_temporary:
        raise AccessDenied(SESSION_CREDENTIALS_MESSAGE)
    account = caller.account_id
    federated_arn = arns.federated_user_arn(account, request.name)
    sp.validate_session_policy(request.policies.policy)
    tags = sp.check_session_tags(request.tags)
    authorize(ctx, "sts:GetFederationToken", federated_arn)
    if tags.tags:
        authorize(ctx, "sts:TagSession", federated_arn, context=_tag_context(tags))
    packed = packed_size(request.policies.policy, request.policies.policy_arns, tags.tags)
    duration = request.duration_seconds or DEFAULT_DURATION
    if caller.kind is PrincipalKind.ROOT:
        duration = min(duration, ROOT_MAX_DURATION)
        source_arn, source_id = arns.root_arn(account), ""
    else:
        source_arn, source_id = caller.arn, caller.entity_id or ""
    federated_id = f"{account}:{request.name}"
    credentials = issue(
        ctx.runtime,
        account_id=account,
        kind="federated-user",
        principal_arn=federated_arn,
        principal_id=federated_id,
        source_arn=source_arn,
        source_id=source_id,
        issued_at=ctx.request_time,
        duration_seconds=duration,
        tags=tags.tags,
        transitive_tag_keys=tags.transitive_keys,
        session_policy=request.policies.policy,
        policy_arns=request.policies.policy_arns,
        min_token_size=request.minimum_session_token_size,
    )
    return GetFederationTokenResult(
        credentials, FederatedUser(federated_id, federated_arn), packed, *token_size_fields(credentials)
    )


def _tag_context(tags: sp.SessionTags) -> dict[str, object]:
    context: dict[str, object] = {"aws:TagKeys": [k for k, _ in tags.tags]}
    for key, value in tags.tags:
        context[f"aws:RequestTag/{key}"] = value
    return context
