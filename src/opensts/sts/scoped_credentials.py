"""GetScopedCredentials: the calling session's own credentials again, with fewer permissions, a
shorter life, or both.

https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getscopedcredentials.html

* Only temporary credentials may call it (a role session, a federated user, a GetSessionToken
  session); long-term keys get ``InvalidSubjectCredentials`` (400).
* ``Policy`` (1-2,048 characters, a valid identity policy: ``MalformedPolicyDocument`` otherwise;
  packed like a session policy: ``PackedPolicyTooLarge`` over the budget) and/or ``DurationSeconds``
  (1-129,600): at least one of the two (``ValidationError`` without either).
* The identity does not change: same ARN, principal id, session name, tags, MFA facts and source
  identity; ``SessionInfo`` names it (``ScopedSessionId`` is the principal id, ``AROA...:name``
  for a role session). Only the key pair, the issue time, the expiry and the layers are new.
* Each ``Policy`` adds a scope-down layer, carried in the session token (format version 2). Every
  later request of the new credentials -- any STS or IAM action, AssumeRole's trust decision,
  ``/v1/authorize`` -- is allowed only if the session's own policies allow it *and* every layer
  allows it (an explicit Deny in a layer denies): ``access.authorize`` hands the layers to the
  engine as ``scope_policies``. At most 3 layers: a call with a ``Policy`` on a session that has 3
  is refused with ``AccessDenied``; a call with only ``DurationSeconds`` adds none and is allowed.
* Without ``DurationSeconds`` the credentials expire with the calling session; a
  ``DurationSeconds`` beyond that expiry is ``InsufficientSessionLifetime`` (400): a session is
  never extended.
* ``ScopedSessionDescription`` (2-256 characters) is recorded in the audit trail's
  ``requestParameters`` (CloudTrail's place for it), as every parameter of the request is.
* No permission is checked (as for GetSessionToken): the call can only narrow what the session
  already may do. ``ScopedPoliciesCount`` is the number of layers of the new credentials.
* ``MinimumSessionTokenSize``, ``SessionTokenSize`` and ``SessionTokenUtilization`` as on every
  issuing action (``sts/credentials.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import AccessDenied, InsufficientSessionLifetime, InvalidSubjectCredentials, ValidationError
from opensts.fields import integer, text
from opensts.params import POLICY_TEXT_PATTERN
from opensts.sts import session_params as sp
from opensts.sts.credentials import Credentials, packed_size, reissue, token_size_fields
from opensts.tokens.session_token import MAX_SCOPE_POLICIES

DESCRIPTION_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"
NOT_A_SESSION = (
    "GetScopedCredentials must be called with temporary security credentials (a role session, a federated "
    "user or a GetSessionToken session), not with long-term access keys."
)
NOTHING_TO_SCOPE = "A request must provide at least one of Policy or DurationSeconds."
TOO_MANY_LAYERS = (
    f"The session already has {MAX_SCOPE_POLICIES} scope down policies, the maximum: "
    "GetScopedCredentials cannot add another Policy to it."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetScopedCredentialsRequest:
    policy: str | None = text("Policy", min_len=1, max_len=2048, pattern=POLICY_TEXT_PATTERN)
    duration_seconds: int | None = integer("DurationSeconds", min_value=1, max_value=129600)
    minimum_session_token_size: int | None = sp.minimum_session_token_size()
    scoped_session_description: str | None = text(
        "ScopedSessionDescription", min_len=2, max_len=256, pattern=DESCRIPTION_PATTERN
    )


@dataclass(frozen=True, slots=True)
class SessionInfo:
    scoped_session_id: str
    arn: str


@dataclass(frozen=True, slots=True)
class GetScopedCredentialsResult:
    credentials: Credentials
    session_info: SessionInfo
    session_token_utilization: int
    session_token_size: int
    scoped_policies_count: int
    source_identity: str | None = None


@action("sts", "GetScopedCredentials", request=GetScopedCredentialsRequest, cache_first=True)
def get_scoped_credentials(ctx: ActionContext, request: GetScopedCredentialsRequest) -> GetScopedCredentialsResult:
    caller = ctx.caller
    assert caller is not None
    claims = caller.session
    if claims is None:
        raise InvalidSubjectCredentials(NOT_A_SESSION)
    if request.policy is None and request.duration_seconds is None:
        raise ValidationError(NOTHING_TO_SCOPE)
    layers = claims.scope_policies
    if request.policy is not None:
        if len(layers) >= MAX_SCOPE_POLICIES:
            raise AccessDenied(TOO_MANY_LAYERS)
        sp.validate_session_policy(request.policy)
        packed_size(request.policy, (), ())  # PackedPolicyTooLarge over the budget, as a session policy
        layers = (*layers, request.policy)
    now = int(ctx.request_time.timestamp())
    expires_at = claims.expires_at
    if request.duration_seconds is not None:
        if now + request.duration_seconds > claims.expires_at:
            raise InsufficientSessionLifetime(
                f"The requested DurationSeconds ({request.duration_seconds}) is greater than the remaining lifetime "
                f"of the calling session ({max(0, claims.expires_at - now)} seconds): GetScopedCredentials cannot "
                "extend a session beyond its original expiration."
            )
        expires_at = now + request.duration_seconds
    credentials = reissue(
        ctx.runtime, claims, expires_at=expires_at, scope_policies=layers,
        min_token_size=request.minimum_session_token_size,
    )
    utilization, size = token_size_fields(credentials)
    return GetScopedCredentialsResult(
        credentials,
        SessionInfo(claims.principal_id, claims.principal_arn),
        utilization,
        size,
        len(layers),
        claims.source_identity,
    )
