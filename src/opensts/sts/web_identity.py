"""AssumeRoleWithWebIdentity: role credentials for the holder of an OpenID Connect ID token.

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html

Unsigned. The token's ``iss`` selects the OIDC provider (CreateOpenIDConnectProvider) in the role's
account; ``federation/oidc.py`` checks the token against the provider's keys and ClientIDList; the
role's trust policy then decides, with the principal ``{"Federated": PROVIDER_ARN}`` and the
condition keys ``PROVIDER:aud`` / ``:sub`` / ``:azp`` / ``:amr`` / ``:oaud`` (``PROVIDER`` is the
provider URL without ``https://``, e.g. ``keycloak.internal:8443/realms/dev``) and
``aws:FederatedProvider``.

Deviation: whitespace (space, tab, CR, LF) around the token is ignored, as a token file's final
newline; a JWT cannot contain it, so nothing valid is lost. Whitespace inside the token is still
refused. ``ProviderId`` (for OAuth 2.0 access tokens of www.amazon.com and graph.facebook.com, which
OpenSTS does not accept) is checked, then ignored.

Order of checks (so that unauthenticated callers learn nothing about roles): parameters → the
token's shape and issuer → the provider → the signature and claims → the role and its trust policy,
where a missing role and a refusing policy give the same AccessDenied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opensts.access.authorize import request_context
from opensts.access.trust_principals import effective_trust_policy
from opensts.actions import ActionContext, action
from opensts.errors import (
    AccessDenied,
    IDPRejectedClaim,
    InvalidIdentityToken,
    InvalidParameterValue,
)
from opensts.federation import oidc
from opensts.fields import custom, integer, text
from opensts.identity import arn as arns
from opensts.params import ParamReader, tag_text_valid
from opensts.policy import Principal, PrincipalType, Request, evaluate_trust
from opensts.sts import session_params as sp
from opensts.sts.credentials import AssumedRoleUser, Credentials, token_size_fields
from opensts.sts.role_sessions import (
    find_role,
    issue_role_session,
    session_duration,
    trust_context,
    trust_extra_actions,
)

if TYPE_CHECKING:
    from opensts.runtime import Runtime
    from opensts.store.iam_providers import OidcProviderRecord

ACTION = "sts:AssumeRoleWithWebIdentity"
DENIED_MESSAGE = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
MAX_ATTRIBUTE_LENGTH = 1024  # claim values longer than this are not carried into the session

_TOKEN_WHITESPACE = " \t\r\n"
_SOURCE_IDENTITY_RE = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)



def read_web_identity_token(reader: ParamReader) -> str | None:
    """``WebIdentityToken``, checked as sent, then without the whitespace around it."""
    token = reader.string("WebIdentityToken", required=True, min_len=4, max_len=oidc.MAX_TOKEN_LENGTH, secret=True)
    # A JWT holds no whitespace, but token files usually end in a newline (`jq -r ... > file`,
    # `aws ... --web-identity-token file://...`, AWS_WEB_IDENTITY_TOKEN_FILE): ignore it around the token.
    return None if token is None else token.strip(_TOKEN_WHITESPACE)


@dataclass(frozen=True, slots=True, kw_only=True)
class AssumeRoleWithWebIdentityRequest:
    role_arn: str = text("RoleArn", required=True, min_len=20, max_len=2048)
    role_session_name: str = text(
        "RoleSessionName", required=True, min_len=2, max_len=64, pattern=sp.ROLE_SESSION_NAME_PATTERN
    )
    web_identity_token: str = custom(read_web_identity_token, secret=True, param="WebIdentityToken")
    provider_id: str | None = text("ProviderId", min_len=4, max_len=2048)
    policies: sp.SessionPolicies = custom(sp.read_session_policies, default=sp.NO_SESSION_POLICIES)
    duration_seconds: int | None = integer("DurationSeconds", min_value=900, max_value=43200)
    minimum_session_token_size: int | None = sp.minimum_session_token_size()


@dataclass(frozen=True, slots=True)
class AssumeRoleWithWebIdentityResult:
    credentials: Credentials
    subject_from_web_identity_token: str
    assumed_role_user: AssumedRoleUser
    packed_policy_size: int | None
    provider: str
    audience: str
    source_identity: str | None = None
    session_token_utilization: int | None = None
    session_token_size: int | None = None


# --- Providers ----------------------------------------------------------------------------------
def find_provider(runtime: Runtime, account_id: str, issuer: str) -> OidcProviderRecord | None:
    """The account's OIDC provider for ``issuer``; the account's providers are cached until the next
    IAM change (``runtime.caches.oidc_providers``)."""
    records = runtime.iam_cached(runtime.caches.oidc_providers, account_id,
                                 lambda: tuple(runtime.store.providers.list_oidc(account_id)))
    for record in records:
        if oidc.issuer_matches(issuer, record.url):
            return record
    return None


# --- Claims -------------------------------------------------------------------------------------
def claim_context(prefix: str, token: oidc.ValidatedToken) -> dict[str, Any]:
    """The trust-policy keys named after the provider: ``PREFIX:aud`` etc.

    ``:aud`` is ``azp`` when the token has one (AWS's rule for Google, applied to every provider),
    else the ``aud`` value(s); ``:oaud`` is then the ``aud`` value(s).
    """
    claims = token.claims
    context: dict[str, Any] = {f"{prefix}:sub": token.subject}
    if token.authorized_party is not None:
        context[f"{prefix}:azp"] = token.authorized_party
        context[f"{prefix}:aud"] = token.authorized_party
        if token.audiences:
            context[f"{prefix}:oaud"] = list(token.audiences)
    elif token.audiences:
        context[f"{prefix}:aud"] = token.audiences[0] if len(token.audiences) == 1 else list(token.audiences)
    amr = claims.get("amr")
    if isinstance(amr, str):
        context[f"{prefix}:amr"] = amr
    elif isinstance(amr, list) and all(isinstance(v, str) for v in amr):
        context[f"{prefix}:amr"] = list(amr)
    return context


def session_attributes(context: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Single-valued claim keys carried by the session, for policies of later requests
    (e.g. ``${keycloak.internal:8443/realms/dev:sub}`` in a permission policy)."""
    return tuple(
        (key, value)
        for key, value in context.items()
        if isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_LENGTH
    )


def _claimed_session_facts(claims: Any) -> tuple[sp.SessionTags, str | None]:
    try:
        tags, transitive = oidc.session_tags_claim(claims)
        source_identity = oidc.source_identity_claim(claims)
    except oidc.ClaimError as exc:
        raise IDPRejectedClaim(str(exc)) from None
    problems = _tag_problems(tags, transitive)
    if source_identity is not None and (
        not _SOURCE_IDENTITY_RE.fullmatch(source_identity) or source_identity.lower().startswith("aws:")
    ):
        problems.append("The source identity claim must be 2..64 characters of [\\w+=,.@-] not starting with aws:.")
    if problems:
        raise IDPRejectedClaim(" ".join(problems))
    try:
        return sp.check_session_tags(sp.SessionTags(tags, transitive)), source_identity
    except InvalidParameterValue as exc:
        raise IDPRejectedClaim(exc.message) from None


def _tag_problems(tags: Sequence[tuple[str, str]], transitive: Sequence[str]) -> list[str]:
    problems = []
    if len(tags) > sp.MAX_TAGS or len(transitive) > sp.MAX_TAGS:
        problems.append(f"A web identity token may carry at most {sp.MAX_TAGS} session tags.")
    for key, value in tags:
        if not 1 <= len(key) <= 128 or not tag_text_valid(key):
            problems.append(f"Session tag key {key[:128]!r} is not valid.")
        if len(value) > 256 or not tag_text_valid(value, allow_empty=True):
            problems.append(f"The value of session tag {key[:128]!r} is not valid.")
    return problems


# --- The action ---------------------------------------------------------------------------------
@action("sts", "AssumeRoleWithWebIdentity", request=AssumeRoleWithWebIdentityRequest, unsigned=True)
def assume_role_with_web_identity(
    ctx: ActionContext, request: AssumeRoleWithWebIdentityRequest, keys: oidc.JwksCache | None = None
) -> AssumeRoleWithWebIdentityResult:
    runtime = ctx.runtime
    denied = AccessDenied(DENIED_MESSAGE)
    try:
        parsed = arns.Arn.parse(request.role_arn)
    except ValueError:
        raise denied from None
    if parsed.service != "iam" or parsed.resource_type != "role" or not parsed.account:
        raise denied

    unverified = oidc.inspect_token(request.web_identity_token)
    provider = find_provider(runtime, parsed.account, unverified.issuer)
    if provider is None:
        shown = unverified.issuer if "://" in unverified.issuer else "https://" + unverified.issuer
        shown = shown[:256]
        raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {shown}")
    token = oidc.verify_token(
        unverified,
        provider.url,
        provider.client_ids,
        provider.thumbprints,
        ctx.request_time.timestamp(),
        keys or runtime.jwks,
    )
    tags, source_identity = _claimed_session_facts(token.claims)

    role = find_role(runtime, request.role_arn)
    if role is None:
        raise denied
    duration = session_duration(role, request.duration_seconds)
    sp.validate_session_policy(request.policies.policy)

    prefix = provider.url[len("https://") :]
    claim_keys = claim_context(prefix, token)
    context: dict[str, Any] = request_context(
        None, ctx.request_time, source_ip=ctx.source_ip, secure_transport=ctx.secure_transport, region=ctx.region
    )
    context["aws:FederatedProvider"] = provider.arn
    context.update(claim_keys)
    context.update(trust_context(request.role_session_name, tags, source_identity))
    principal = Principal(provider.arn, PrincipalType.WEB_IDENTITY, account=role.account_id)
    decision = evaluate_trust(
        Request(principal, ACTION, role.arn, role.account_id, context, resource_policy_required=True),
        effective_trust_policy(ctx.runtime, role),
        extra_actions=trust_extra_actions(tags, source_identity is not None),
    )
    if not decision.allowed:
        raise denied
    credentials, assumed_role_user, packed = issue_role_session(
        runtime,
        role,
        request.role_session_name,
        ctx.request_time,
        duration,
        policies=request.policies,
        tags=tags,
        source_identity=source_identity,
        federated_provider=provider.arn,
        attributes=session_attributes(claim_keys),
        min_token_size=request.minimum_session_token_size,
    )
    return AssumeRoleWithWebIdentityResult(
        credentials,
        token.subject,
        assumed_role_user,
        packed,
        provider.arn,
        token.audience,
        source_identity,
        *token_size_fields(credentials),
    )
