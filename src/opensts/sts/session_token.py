"""GetSessionToken: temporary credentials for an IAM user (or the root), optionally with MFA.

https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html

Needs no permission. MFA sessions carry ``aws:MultiFactorAuthPresent=true`` and
``aws:MultiFactorAuthAge``; sessions without MFA carry ``false``. Root sessions are capped at
one hour, silently, as AWS does.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import AccessDenied
from opensts.fields import custom, integer
from opensts.identity import arn as arns
from opensts.identity.principal import PrincipalKind
from opensts.sts import session_params as sp
from opensts.sts.credentials import Credentials, issue, token_size_fields
from opensts.sts.mfa import verify_mfa

DEFAULT_DURATION = 43200
ROOT_MAX_DURATION = 3600
SESSION_CREDENTIALS_MESSAGE = "Cannot call GetSessionToken with session credentials"


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSessionTokenRequest:
    duration_seconds: int | None = integer("DurationSeconds", min_value=900, max_value=129600)
    mfa: sp.MfaInput | None = custom(sp.read_mfa, default=None)  # its token code is marked secret
    minimum_session_token_size: int | None = sp.minimum_session_token_size()


@dataclass(frozen=True, slots=True)
class GetSessionTokenResult:
    credentials: Credentials
    session_token_utilization: int | None = None
    session_token_size: int | None = None


@action("sts", "GetSessionToken", request=GetSessionTokenRequest, cache_first=True)
def get_session_token(ctx: ActionContext, request: GetSessionTokenRequest) -> GetSessionTokenResult:
    caller = ctx.caller
    assert caller is not None
    if caller.is_temporary:
        raise AccessDenied(SESSION_CREDENTIALS_MESSAGE)
    duration = request.duration_seconds or DEFAULT_DURATION
    mfa_at = verify_mfa(ctx, caller, request.mfa) if request.mfa is not None else None
    account = caller.account_id
    if caller.kind is PrincipalKind.ROOT:
        duration = min(duration, ROOT_MAX_DURATION)
        kind, source_arn, source_id = "root-session", arns.root_arn(account), ""
    else:
        kind, source_arn, source_id = "session", caller.arn, caller.entity_id or ""
    credentials = issue(
        ctx.runtime,
        account_id=account,
        kind=kind,
        principal_arn=caller.arn,
        principal_id=caller.user_id,
        source_arn=source_arn,
        source_id=source_id,
        issued_at=ctx.request_time,
        duration_seconds=duration,
        mfa_authenticated_at=mfa_at,
        min_token_size=request.minimum_session_token_size,
    )
    return GetSessionTokenResult(credentials, *token_size_fields(credentials))
