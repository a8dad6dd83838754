"""AssumeRoleWithSAML: role credentials for a user an identity provider vouches for in a signed
SAML 2.0 Response.

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html
(assertion attributes:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html)

Unsigned call. ``PrincipalArn`` names a SAML provider (CreateSAMLProvider) whose metadata gives the
trusted signing certificates and entity id; ``federation/saml.py`` verifies the Response and reads
the assertion from signed content only. Then, here:

- the assertion's ``Role`` attribute must list the requested ``ROLE_ARN,PROVIDER_ARN`` pair;
- ``RoleSessionName`` (required), ``SessionDuration``, ``PrincipalTag:KEY``, ``TransitiveTagKeys``
  and ``SourceIdentity`` attributes become the session's name, duration cap, tags and source
  identity, with the same limits as the AssumeRole parameters;
- the role's trust policy must allow ``sts:AssumeRoleWithSAML`` for the provider (plus
  ``sts:TagSession`` with tags, ``sts:SetSourceIdentity`` with a source identity), with the
  ``saml:*`` condition keys;
- the assertion id is recorded in the store's ``replay_cache`` (shared by every worker and node)
  until the assertion expires: a second use is refused.

A missing role, a role pair not in the assertion and a refusing trust policy all give the same
``AccessDenied``, so a caller cannot probe for role names.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any


from opensts.access.authorize import request_context
from opensts.access.trust_principals import effective_trust_policy
from opensts.actions import ActionContext, action
from opensts.errors import (
    AccessDenied,
    AwsError,
    ExpiredTokenException,
    InvalidIdentityToken,
    ValidationError,
)
from opensts.federation.saml import SamlAssertion, SamlEndpoints, verify_saml_response
from opensts.federation.saml_metadata import IdpMetadata, MetadataError, parse_idp_metadata
from opensts.fields import Params, custom, integer, text
from opensts.identity import arn as arns
from opensts.params import ParamReader
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

ACTION = "sts:AssumeRoleWithSAML"
ATTRIBUTE_PREFIX = "https://aws.amazon.com/SAML/Attributes/"
ROLE_ATTRIBUTE = ATTRIBUTE_PREFIX + "Role"
SESSION_NAME_ATTRIBUTE = ATTRIBUTE_PREFIX + "RoleSessionName"
SESSION_DURATION_ATTRIBUTE = ATTRIBUTE_PREFIX + "SessionDuration"
SOURCE_IDENTITY_ATTRIBUTE = ATTRIBUTE_PREFIX + "SourceIdentity"
TRANSITIVE_TAGS_ATTRIBUTE = ATTRIBUTE_PREFIX + "TransitiveTagKeys"
TAG_ATTRIBUTE_PREFIX = ATTRIBUTE_PREFIX + "PrincipalTag:"
DENIED = f"Not authorized to perform {ACTION}"
METADATA_EXPIRED = "The SAML provider's metadata has expired (validUntil); update it with UpdateSAMLProvider."
REPLAY_KIND = "saml"
PRUNE_INTERVAL = 300.0  # seconds between deletions of expired replay records, per process

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class AssumeRoleWithSAMLRequest:
    role_arn: str = text("RoleArn", required=True, min_len=20, max_len=2048)
    principal_arn: str = text("PrincipalArn", required=True, min_len=20, max_len=2048)
    saml_assertion: str = text("SAMLAssertion", required=True, min_len=4, max_len=100_000, secret=True)
    duration_seconds: int | None = integer("DurationSeconds", min_value=900, max_value=43200)
    policies: sp.SessionPolicies = custom(sp.read_session_policies, default=sp.NO_SESSION_POLICIES)
    minimum_session_token_size: int | None = sp.minimum_session_token_size()


@dataclass(frozen=True, slots=True)
class AssumeRoleWithSAMLResult:
    credentials: Credentials
    assumed_role_user: AssumedRoleUser
    packed_policy_size: int | None
    subject: str
    subject_type: str
    issuer: str
    audience: str
    name_qualifier: str
    source_identity: str | None = None
    session_token_utilization: int | None = None
    session_token_size: int | None = None


# --- the SAML provider, cached per IAM version ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class SamlProvider:
    arn: str
    account_id: str
    name: str
    metadata: IdpMetadata
    valid_until: datetime | None


def load_provider(runtime: "Runtime", arn: str) -> SamlProvider | None:
    """The provider and its parsed metadata; cached until the next IAM change (``runtime.caches``)."""
    return runtime.iam_cached(runtime.caches.saml_providers, arn, lambda: _read_provider(runtime, arn))


def _read_provider(runtime: "Runtime", arn: str) -> SamlProvider | None:
    record = runtime.store.providers.get_saml(arn)
    if record is None:
        return None
    try:
        metadata = parse_idp_metadata(record.metadata_document)
    except MetadataError:
        return None  # validated on write; a stricter parser may refuse it later
    return SamlProvider(record.arn, record.account_id, record.name, metadata, record.valid_until)


def endpoints(runtime: "Runtime") -> SamlEndpoints:
    """AWS's audience/recipient URLs plus OpenSTS's own (setting OPENSTS_SAML_AUDIENCE)."""
    return _endpoints_for(runtime.settings.saml_audiences)


@lru_cache(maxsize=16)  # one per distinct setting: a pure function of it
def _endpoints_for(value: tuple[str, ...]) -> SamlEndpoints:
    return SamlEndpoints(value)


# --- replay protection ----------------------------------------------------------------------------
_last_prune = 0.0


def replay_item(issuer: str, assertion_id: str) -> str:
    """The replay-cache key: assertion ids are unique per issuer; hashed to a fixed length."""
    return hashlib.sha256(f"{issuer}\n{assertion_id}".encode()).hexdigest()


def record_assertion(runtime: "Runtime", assertion: SamlAssertion, now: datetime) -> bool:
    """Record the assertion as used; False if it was used before (by any process or node)."""
    global _last_prune
    replay = runtime.store.replay
    if not replay.record_once(REPLAY_KIND, replay_item(assertion.issuer, assertion.assertion_id), assertion.keep_until):
        return False
    if time.monotonic() - _last_prune > PRUNE_INTERVAL:
        _last_prune = time.monotonic()
        try:
            replay.prune(REPLAY_KIND, now)
        except Exception:  # noqa: BLE001 - pruning is best effort; the next interval retries
            log.debug("pruning expired SAML replay records failed", exc_info=True)
    return True


# --- attributes -----------------------------------------------------------------------------------
def _single(attributes: dict[str, list[str]], name: str) -> str | None:
    values = attributes.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise InvalidIdentityToken(f"The SAML attribute {name} must have exactly one value.")
    return values[0]


def _attribute_checked(read: Any, params: Params, what: str) -> Any:
    """Validate assertion attributes with the AssumeRole parameter rules; their errors become
    InvalidIdentityToken (the caller did not send them as parameters, the IdP did)."""
    reader = ParamReader(params)
    try:
        value = read(reader)
        reader.done()
    except ValidationError as exc:
        raise InvalidIdentityToken(f"Invalid {what} in the SAML assertion: {exc.message}") from None
    return value


def role_pairs(attributes: dict[str, list[str]]) -> set[tuple[str, str]]:
    """The (role ARN, provider ARN) pairs of the Role attribute (``ROLE,PROVIDER`` either order)."""
    pairs: set[tuple[str, str]] = set()
    for value in attributes.get(ROLE_ATTRIBUTE, []):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        first, second = parts
        if ":saml-provider/" in first and ":role/" in second:
            first, second = second, first
        if ":role/" in first and ":saml-provider/" in second:
            pairs.add((first, second))
    return pairs


@dataclass(frozen=True, slots=True)
class SessionAttributes:
    session_name: str
    session_duration: int | None
    tags: sp.SessionTags
    source_identity: str | None


def session_attributes(attributes: dict[str, list[str]]) -> SessionAttributes:
    session_name = _single(attributes, SESSION_NAME_ATTRIBUTE)
    if session_name is None:
        raise InvalidIdentityToken("RoleSessionName is required in AuthnResponse")
    _attribute_checked(
        lambda r: r.string("RoleSessionName", min_len=2, max_len=64, pattern=sp.ROLE_SESSION_NAME_PATTERN),
        {"RoleSessionName": session_name}, "RoleSessionName",
    )
    duration_text = _single(attributes, SESSION_DURATION_ATTRIBUTE)
    duration = None
    if duration_text is not None:
        duration = _attribute_checked(
            lambda r: r.integer("SessionDuration", min_value=900, max_value=43200),
            {"SessionDuration": duration_text.strip()}, "SessionDuration",
        )
    tag_params: list[dict[str, str]] = []
    for name, values in attributes.items():
        if name.startswith(TAG_ATTRIBUTE_PREFIX):
            if len(values) != 1:
                raise InvalidIdentityToken(f"The SAML attribute {name} must have exactly one value.")
            tag_params.append({"Key": name[len(TAG_ATTRIBUTE_PREFIX):], "Value": values[0]})
    transitive = attributes.get(TRANSITIVE_TAGS_ATTRIBUTE, [])
    tags = _attribute_checked(
        sp.read_session_tags, {"Tags": tag_params, "TransitiveTagKeys": list(transitive)}, "session tags"
    )
    try:
        tags = sp.check_session_tags(tags)
    except AwsError as exc:
        raise InvalidIdentityToken(f"Invalid session tags in the SAML assertion: {exc.message}") from None
    source_identity = _single(attributes, SOURCE_IDENTITY_ATTRIBUTE)
    if source_identity is not None:
        _attribute_checked(sp.read_source_identity, {"SourceIdentity": source_identity}, "SourceIdentity")
    return SessionAttributes(session_name, duration, tags, source_identity)


def name_qualifier(issuer: str, account_id: str, provider_name: str) -> str:
    """AWS's NameQualifier: base64(SHA-1(issuer + account id + "/" + provider name))."""
    digest = hashlib.sha1(f"{issuer}{account_id}/{provider_name}".encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


# --- the action -----------------------------------------------------------------------------------
@action("sts", "AssumeRoleWithSAML", request=AssumeRoleWithSAMLRequest, unsigned=True)
def assume_role_with_saml(ctx: ActionContext, request: AssumeRoleWithSAMLRequest) -> AssumeRoleWithSAMLResult:
    runtime = ctx.runtime
    now = ctx.request_time
    try:
        parsed = arns.Arn.parse(request.principal_arn)
    except ValueError:
        parsed = None
    if parsed is None or parsed.service != "iam" or parsed.resource_type != "saml-provider" or parsed.region:
        raise ValidationError(
            f"PrincipalArn {request.principal_arn!r} is not a SAML provider ARN (arn:aws:iam::ACCOUNT:saml-provider/NAME)."
        )
    provider = load_provider(runtime, request.principal_arn)
    if provider is None:
        raise InvalidIdentityToken("Specified provider doesn't exist")
    expiries = [t for t in (provider.valid_until, provider.metadata.valid_until) if t is not None]
    if expiries and min(expiries) <= now:
        raise InvalidIdentityToken(METADATA_EXPIRED)

    assertion = verify_saml_response(request.saml_assertion, provider.metadata, now, endpoints(ctx.runtime))

    if ROLE_ATTRIBUTE not in assertion.attributes:
        raise InvalidIdentityToken(f"The SAML assertion has no {ROLE_ATTRIBUTE} attribute.")
    if (request.role_arn, request.principal_arn) not in role_pairs(assertion.attributes):
        raise AccessDenied(DENIED)
    session = session_attributes(assertion.attributes)

    role = find_role(runtime, request.role_arn)
    if role is None or role.account_id != provider.account_id:
        raise AccessDenied(DENIED)
    duration = session_duration(role, request.duration_seconds)
    if session.session_duration is not None:
        duration = min(duration, session.session_duration)
    if assertion.session_not_on_or_after is not None:
        remaining = int((assertion.session_not_on_or_after - now).total_seconds())
        if remaining < 1:
            raise ExpiredTokenException("The SAML assertion has expired (SessionNotOnOrAfter has passed).")
        duration = min(duration, remaining)
    sp.validate_session_policy(request.policies.policy)

    qualifier = name_qualifier(assertion.issuer, provider.account_id, provider.name)
    saml_keys = (
        ("saml:aud", assertion.recipient),
        ("saml:iss", assertion.issuer),
        ("saml:sub", assertion.name_id),
        ("saml:sub_type", assertion.subject_type),
        ("saml:namequalifier", qualifier),
        ("saml:doc", f"{provider.account_id}/{provider.name}"),
    )
    context: dict[str, Any] = request_context(
        None, now, source_ip=ctx.source_ip, secure_transport=ctx.secure_transport, region=ctx.region
    )
    context.update(saml_keys)
    context["aws:FederatedProvider"] = provider.arn
    context.update(trust_context(session.session_name, session.tags, session.source_identity))
    role_arn = role.arn
    principal = Principal(provider.arn, PrincipalType.SAML, account=provider.account_id)
    decision = evaluate_trust(
        Request(principal, ACTION, role_arn, role.account_id, context, resource_policy_required=True),
        effective_trust_policy(ctx.runtime, role),
        extra_actions=trust_extra_actions(session.tags, session.source_identity is not None),
    )
    if not decision.allowed:
        raise AccessDenied(DENIED)

    if not record_assertion(runtime, assertion, now):
        raise InvalidIdentityToken("This SAML assertion has already been used: each assertion is accepted once.")
    credentials, assumed_role_user, packed = issue_role_session(
        runtime, role, session.session_name, now, duration,
        policies=request.policies, tags=session.tags, source_identity=session.source_identity,
        federated_provider=provider.arn, attributes=saml_keys, min_token_size=request.minimum_session_token_size,
    )
    utilization, size = token_size_fields(credentials)
    return AssumeRoleWithSAMLResult(
        credentials, assumed_role_user, packed,
        subject=assertion.name_id,
        subject_type=assertion.subject_type,
        issuer=assertion.issuer,
        audience=assertion.recipient,
        name_qualifier=qualifier,
        source_identity=session.source_identity,
        session_token_utilization=utilization,
        session_token_size=size,
    )
