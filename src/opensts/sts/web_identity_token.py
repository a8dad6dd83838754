"""GetWebIdentityToken: a signed JWT that proves the caller's identity to anything that speaks OIDC.

https://docs.aws.amazon.com/STS/latest/APIReference/API_GetWebIdentityToken.html

The caller's account must have turned outbound identity federation on (IAM
EnableOutboundWebIdentityFederation; otherwise ``OutboundWebIdentityFederationDisabledException``,
403). The token is signed with the deployment's ``RS256`` or ``ES384`` key (``tokens/jwt_keys.py``)
and verifies against the JWKS of the account's issuer (``federation/outbound.py``). Its claims:

- ``iss`` (the account's issuer URL), ``sub`` (the caller's ARN; for a role session the role's ARN),
  ``aud`` (the one audience as a string, several as a list), ``iat``, ``exp`` (``iat`` +
  ``DurationSeconds``, 60..3600, default 300), ``jti`` (a random UUID);
- under ``https://sts.amazonaws.com/``: ``aws_account``, ``source_region`` (the request's SigV4
  region), ``principal_id`` (the ARN of the principal that asked; for a role session the role's ARN,
  as botocore's model says), ``principal_tags`` (the caller's tags: a user's or role's tags, with a
  role session's session tags over them), ``request_tags`` (the ``Tags`` passed: custom claims) and
  ``source_identity`` when the session has one. Empty tag maps are left out.

Authorization: ``sts:GetWebIdentityToken`` on ``*``, and ``sts:TagGetWebIdentityToken`` too when
``Tags`` are passed, both with the condition keys ``sts:IdentityTokenAudience`` (multivalued: every
audience), ``sts:DurationSeconds`` (the token's lifetime, the default included),
``sts:SigningAlgorithm``, ``aws:RequestTag/<key>`` and ``aws:TagKeys``.

Which credentials may call it (``access/restrictions.py``): root and IAM users with long-term keys,
and role sessions. GetSessionToken sessions and federated users get AccessDenied, as for every STS
action but AssumeRole and GetCallerIdentity.

Errors besides validation: ``SessionDurationEscalationException`` (403) when the token would outlive
the calling session; ``JWTPayloadSizeExceededException`` (400) when the payload (compact JSON, UTF-8)
would exceed ``MAX_PAYLOAD_BYTES`` (16 KiB, OpenSTS's bound: fifty long request tags, long audiences
and principal tags can reach it).

``SubjectMode=OriginIdentity`` and ``Scope`` need a trusted identity propagation context
(``aws:OriginIdentity/*``), which no OpenSTS session has: AWS rejects such a request with a
validation error, and so does OpenSTS (``ValidationError``, 400), for ``Scope`` in any case (it is
allowed only with ``OriginIdentity``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from opensts.access.authorize import authorize, caller_policies
from opensts.actions import ActionContext, action
from opensts.errors import AwsError, InvalidParameterValue, ValidationError
from opensts.federation.outbound import AWS_CLAIMS_NAMESPACE, issuer_url
from opensts.fields import FINGERPRINTED_SECRET_FIELD, custom, integer, one_of, text
from opensts.identity.principal import PrincipalKind
from opensts.params import ParamReader
from opensts.runtime import jwt_keys, outbound_federation
from opensts.sts.session_params import read_tags as read_tag_list
from opensts.tokens.jwt_keys import ALGORITHMS

DEFAULT_DURATION = 300
MAX_AUDIENCES = 10
MAX_PAYLOAD_BYTES = 16 * 1024
SUBJECT_MODES = ("AWSIdentity", "OriginIdentity")
SCOPE_PATTERN = r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+( [\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+)*"

ORIGIN_IDENTITY_MESSAGE = (
    "SubjectMode OriginIdentity requires the aws:OriginIdentity/Subject key and the aws:OriginIdentity/Issuer "
    "or aws:OriginIdentity/FederatedProviderArn key in the trusted identity propagation context of the calling "
    "session; this session has no such context."
)
SCOPE_MESSAGE = "Scope can be specified only when SubjectMode is OriginIdentity and exactly one Audience is requested."
DUPLICATE_TAGS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."


class OutboundWebIdentityFederationDisabledException(AwsError):
    code, status = "OutboundWebIdentityFederationDisabledException", 403


class SessionDurationEscalationException(AwsError):
    code, status = "SessionDurationEscalationException", 403


class JWTPayloadSizeExceededException(AwsError):
    code, status = "JWTPayloadSizeExceededException", 400


def read_audience(reader: ParamReader) -> list[str]:
    """``Audience.member.N``: 1 to 10 strings of 1 to 1,000 characters."""
    raw = reader.params.get("Audience")
    items = reader.list("Audience", max_items=MAX_AUDIENCES, required=True)
    if raw is not None and not items:
        reader.fail("[]", "audience", "Member must have length greater than or equal to 1")
    out: list[str] = []
    for i, item in enumerate(items[:MAX_AUDIENCES], start=1):
        if not isinstance(item, str):
            reader.fail(None, f"audience.{i}.member", "Member must be a string")
            continue
        reader.check_string(item, f"audience.{i}.member", min_len=1, max_len=1000)
        out.append(item)
    return out


def read_tags(reader: ParamReader) -> tuple[tuple[str, str], ...]:
    """``Tags.member.N.Key/Value``: STS's tag rules (session_params.read_tags), as a tuple."""
    return tuple(read_tag_list(reader))


@dataclass(frozen=True, slots=True, kw_only=True)
class GetWebIdentityTokenRequest:
    audience: list[str] = custom(read_audience, param="Audience")
    duration_seconds: int = integer("DurationSeconds", min_value=60, max_value=3600, default=DEFAULT_DURATION)
    signing_algorithm: str = one_of("SigningAlgorithm", ALGORITHMS, required=True)
    scope: str | None = text("Scope", min_len=1, max_len=256, pattern=SCOPE_PATTERN)
    subject_mode: str = one_of("SubjectMode", SUBJECT_MODES, default="AWSIdentity")
    tags: tuple[tuple[str, str], ...] = custom(read_tags, default=(), param="Tags")


@dataclass(frozen=True, slots=True)
class GetWebIdentityTokenResult:
    # A bearer proof of identity: hidden in logs, traced in the audit trail by its SHA-256.
    web_identity_token: str = field(repr=False, metadata=FINGERPRINTED_SECRET_FIELD)
    expiration: datetime


def condition_context(request: GetWebIdentityTokenRequest) -> dict[str, Any]:
    """The action's condition keys (see the module)."""
    context: dict[str, Any] = {
        "sts:IdentityTokenAudience": list(request.audience),
        "sts:DurationSeconds": request.duration_seconds,
        "sts:SigningAlgorithm": request.signing_algorithm,
    }
    if request.tags:
        context["aws:TagKeys"] = [k for k, _ in request.tags]
        for key, value in request.tags:
            context[f"aws:RequestTag/{key}"] = value
    return context


@action("sts", "GetWebIdentityToken", request=GetWebIdentityTokenRequest)
def get_web_identity_token(ctx: ActionContext, request: GetWebIdentityTokenRequest) -> GetWebIdentityTokenResult:
    caller = ctx.caller
    assert caller is not None
    runtime = ctx.runtime
    if request.subject_mode == "OriginIdentity":
        raise ValidationError(ORIGIN_IDENTITY_MESSAGE)
    if request.scope is not None:
        raise ValidationError(SCOPE_MESSAGE)
    lower = [k.lower() for k, _ in request.tags]
    if len(set(lower)) != len(lower):
        raise InvalidParameterValue(DUPLICATE_TAGS)

    context = condition_context(request)
    authorize(ctx, "sts:GetWebIdentityToken", "*", context=context)
    if request.tags:
        authorize(ctx, "sts:TagGetWebIdentityToken", "*", context=context)

    state = outbound_federation(runtime, account_id=caller.account_id)
    if state is None or not state.enabled:
        raise OutboundWebIdentityFederationDisabledException(
            "Outbound identity federation is not enabled for this account: enable it with "
            "EnableOutboundWebIdentityFederation first."
        )
    issued_at = int(ctx.request_time.timestamp())
    expires_at = issued_at + request.duration_seconds
    session = caller.session
    if session is not None and expires_at > session.expires_at:
        raise SessionDurationEscalationException(
            f"The requested DurationSeconds ({request.duration_seconds}) would make the token outlive the calling "
            f"session, which expires at {datetime.fromtimestamp(session.expires_at, timezone.utc):%Y-%m-%dT%H:%M:%SZ}."
        )

    subject = session.source_arn if caller.kind is PrincipalKind.ASSUMED_ROLE and session is not None else caller.arn
    aws_claims: dict[str, Any] = {
        "aws_account": caller.account_id,
        "source_region": ctx.region,
        "principal_id": subject,
    }
    principal_tags = dict(caller_policies(runtime, caller).principal.tags or {})
    if principal_tags:
        aws_claims["principal_tags"] = principal_tags
    if request.tags:
        aws_claims["request_tags"] = dict(request.tags)
    if session is not None and session.source_identity:
        aws_claims["source_identity"] = session.source_identity
    payload: dict[str, Any] = {
        "iss": issuer_url(runtime.settings.public_base_url, state.issuer_id),
        "sub": subject,
        "aud": request.audience[0] if len(request.audience) == 1 else list(request.audience),
        "iat": issued_at,
        "exp": expires_at,
        "jti": str(uuid.uuid4()),
        AWS_CLAIMS_NAMESPACE: aws_claims,
    }
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise JWTPayloadSizeExceededException(
            f"The token payload would be {size} bytes, more than the {MAX_PAYLOAD_BYTES} allowed: "
            "pass fewer or shorter Tags or Audience values."
        )
    token, _ = runtime.jwt_signer.sign(jwt_keys(runtime), request.signing_algorithm, payload, issued_at)
    return GetWebIdentityTokenResult(token, datetime.fromtimestamp(expires_at, timezone.utc))
