"""Identity providers: OpenID Connect (CreateOpenIDConnectProvider and friends) and SAML
(CreateSAMLProvider and friends), with their tags
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateSAMLProvider.html and the pages beside them).

OIDC provider ARNs are ``arn:aws:iam::ACCT:oidc-provider/HOST[:PORT]/PATH`` (the URL without
``https://``; self-hosted issuers often listen on a port). The URL must be ``https://`` without a
query, a fragment or user information. Client ids are kept in the order given, without duplicates
(at most 100); thumbprints are 40 hex digits, kept in lower case without duplicates (at most 5).
An account holds at most 100 providers of each kind.

SAML metadata is parsed with the hardened parser of ``federation/saml_metadata.py`` and must name at
least one signing certificate; it is stored verbatim. A provider without ``validUntil`` in its
metadata shows one 100 years after its creation, as AWS does.

Every action authorizes ``iam:ACTION`` on the provider's ARN (``*`` for the List*Providers actions)
before it says whether the provider exists; an ARN that is not an IAM provider ARN of the right kind
is InvalidInput first.

OIDC trusted identity propagation settings (CreateOpenIDConnectProvider's and
UpdateOpenIDConnectProvider's ``ContextProvider`` and ``IdentityCenterInstanceArn``;
https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateOpenIDConnectProvider.html) are
validated as AWS documents them, stored, and reported by GetOpenIDConnectProvider:
- ContextProvider: SubjectSourceKey (required), SubjectTypeValue or SubjectTypeSourceKey (not both),
  KeyDefinitionList of at most 10 SourceKey/TargetKey mappings. Keys are 1-128 ASCII letters, digits,
  ``_.:/=+-@#`` and single inner spaces (``CONTEXT_KEY_PATTERN``; AWS states the rule in prose only,
  OpenSTS reports it as a ValidationError with that pattern).
- IdentityCenterInstanceArn: ``arn:PARTITION:sso:::instance/ssoins-...`` (InvalidInput otherwise).
  It needs a context provider: on Create, IdentityCenterInstanceArn without ContextProvider is
  InvalidInput; on Update, associating a provider that has no context provider, or removing the
  context provider of an associated one, is InvalidInput (remove the association first).
- UpdateOpenIDConnectProvider changes one of the two per request, with either the new value or its
  Remove* flag (both, or neither change, is InvalidInput); a Remove* of something not set is a no-op.
- Authorization context: ``iam:EnableIdentityPropagation`` (true when the request sets a context
  provider), ``iam:EnableIdentityCenterAssociation`` (true when it sets an instance),
  ``iam:RequestIdentityCenterInstanceArn`` (the instance in the request),
  ``iam:RequestIdentityProviderIssuers`` (Create: the provider's URL), and on Update the provider's
  ``iam:ResourceIdentityProviderIssuers`` and ``iam:ResourceIdentityCenterInstanceArn``.
What has effect: nothing beyond storage. OpenSTS has no IAM Identity Center and does not inject
trusted context into sessions: AssumeRoleWithWebIdentity behaves the same with or without these
settings. GetOpenIDConnectProvider never reports ``IdentityStoreArn``, which AWS resolves from the
Identity Center instance.

Deviations from AWS:
- Encrypted SAML assertions are not supported: ``AssertionEncryptionMode=Required``,
  ``AddPrivateKey`` and ``RemovePrivateKey`` are InvalidInput.
- Trusted identity propagation settings are stored and reported only (above); SAML providers do not
  take them yet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from opensts.actions import ActionContext, action
from opensts.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from opensts.federation.saml_metadata import IdpMetadata, MetadataError, parse_idp_metadata
from opensts.fields import NoParameters, boolean, custom, one_of, text
from opensts.iam import fields, tagging
from opensts.iam.common import authorize_iam, caller_account
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.store.iam_providers import OidcProviderRecord, ProviderConfigConflict, ProviderRepository, SamlProviderRecord
from opensts.store.tags import OIDC as OIDC_TAG_TYPE, SAML as SAML_TAG_TYPE
from opensts.store.errors import NoSuchProvider, ProviderExists, TooManyClientIds

MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
MAX_OIDC_PROVIDERS = 100
MAX_SAML_PROVIDERS = 100
SAML_NAME_PATTERN = r"[\w._-]+"
PRIVATE_KEY_ID_PATTERN = r"[A-Z0-9]+"
ENCRYPTION_MODES = ("Required", "Allowed")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_THUMBPRINT_RE = re.compile(r"^[0-9A-Fa-f]{40}$")
_PATH_RE = re.compile(r"^[\x21-\x7e]*$")
DEFAULT_SAML_VALIDITY = timedelta(days=365 * 100)  # AWS shows 100 years when metadata sets no validUntil
MAX_KEY_DEFINITIONS = 10
CONTEXT_KEY_PATTERN = r"[A-Za-z0-9_.:/=+\-@#]+( [A-Za-z0-9_.:/=+\-@#]+)*"
_IDENTITY_CENTER_ARN_RE = re.compile(r"^arn:aws[a-zA-Z0-9-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9.-]{16}$")
ENCRYPTION_UNSUPPORTED = "Encrypted SAML assertions are not supported: OpenSTS accepts signed, unencrypted assertions."


# --- Request fields -----------------------------------------------------------------------------
def _read_client_ids(reader: ParamReader) -> list[str]:
    """``ClientIDList``: each 1-255 characters; duplicates dropped, order kept."""
    out: list[str] = []
    for i, item in enumerate(reader.list("ClientIDList"), start=1):
        if not isinstance(item, str):
            reader.fail(None, f"clientIDList.{i}.member", "Member must be a string")
            continue
        reader.check_string(item, f"clientIDList.{i}.member", min_len=1, max_len=255)
        if item not in out:
            out.append(item)
    return out


def _read_thumbprints(reader: ParamReader, *, required: bool = False) -> list[str]:
    """``ThumbprintList``: 40 hex digits each (InvalidInput otherwise); lower-cased, duplicates dropped."""
    out: list[str] = []
    for i, item in enumerate(reader.list("ThumbprintList", required=required), start=1):
        if not isinstance(item, str):
            reader.fail(None, f"thumbprintList.{i}.member", "Member must be a string")
            continue
        reader.check_string(item, f"thumbprintList.{i}.member", min_len=40, max_len=40)
        if len(item) == 40 and not _THUMBPRINT_RE.match(item):
            raise InvalidInput(f"Thumbprint {item} is not a 40-character hexadecimal SHA-1 fingerprint.")
        if item.lower() not in out:
            out.append(item.lower())
    return out


# --- Trusted identity propagation (ContextProvider, IdentityCenterInstanceArn) ----------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ContextProviderKeyDefinition:
    source_key: str
    target_key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextProvider:
    """botocore's ContextProvider, in a request and in GetOpenIDConnectProvider's answer."""

    key_definition_list: list[ContextProviderKeyDefinition] | None = None
    subject_source_key: str
    subject_type_value: str | None = None
    subject_type_source_key: str | None = None


def _context_key(reader: ParamReader, raw: dict[str, Any], name: str, member: str, *, required: bool) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            reader.fail(None, member, "Member must not be null")
        return None
    if not isinstance(value, str):
        reader.fail(None, member, "Member must be a string")
        return None
    reader.check_string(value, member, min_len=1, max_len=128, pattern=CONTEXT_KEY_PATTERN)
    return value


def _read_context_provider(reader: ParamReader) -> ContextProvider | None:
    """``ContextProvider.*``: the structure, each key checked; SubjectTypeValue and
    SubjectTypeSourceKey together are InvalidInput."""
    raw = reader.params.get("ContextProvider")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        reader.fail(None, "contextProvider", "Member must be a structure")
        return None
    subject = _context_key(reader, raw, "SubjectSourceKey", "contextProvider.subjectSourceKey", required=True)
    type_key = _context_key(reader, raw, "SubjectTypeSourceKey", "contextProvider.subjectTypeSourceKey", required=False)
    type_value = raw.get("SubjectTypeValue")
    if type_value is not None:
        if isinstance(type_value, str):
            reader.check_string(type_value, "contextProvider.subjectTypeValue", max_len=128)
        else:
            reader.fail(None, "contextProvider.subjectTypeValue", "Member must be a string")
            type_value = None
    definitions: list[ContextProviderKeyDefinition] | None = None
    if "KeyDefinitionList" in raw:
        items = raw["KeyDefinitionList"]
        items = [] if items == "" else items  # botocore sends an empty list as an empty value
        if not isinstance(items, list):
            reader.fail(None, "contextProvider.keyDefinitionList", "Member must be a list")
            items = []
        if len(items) > MAX_KEY_DEFINITIONS:
            reader.fail(None, "contextProvider.keyDefinitionList",
                        f"Member must have length less than or equal to {MAX_KEY_DEFINITIONS}")
            items = []
        definitions = []
        for i, item in enumerate(items, start=1):
            member = f"contextProvider.keyDefinitionList.{i}.member"
            if not isinstance(item, dict):
                reader.fail(None, member, "Member must be a structure")
                continue
            source = _context_key(reader, item, "SourceKey", f"{member}.sourceKey", required=True)
            target = _context_key(reader, item, "TargetKey", f"{member}.targetKey", required=False)
            if source is not None:
                definitions.append(ContextProviderKeyDefinition(source_key=source, target_key=target))
    if type_value is not None and type_key is not None:
        raise InvalidInput("Specify either SubjectTypeValue or SubjectTypeSourceKey in the ContextProvider, not both.")
    if subject is None:
        return None
    return ContextProvider(
        key_definition_list=definitions, subject_source_key=subject, subject_type_value=type_value,
        subject_type_source_key=type_key,
    )


def _context_provider_field() -> Any:
    return custom(_read_context_provider, default=None, param="ContextProvider")


def _identity_center_arn_field() -> Any:
    return text("IdentityCenterInstanceArn", min_len=1, max_len=1224)


def _check_identity_center_arn(arn: str | None) -> None:
    if arn is not None and not _IDENTITY_CENTER_ARN_RE.match(arn):
        raise InvalidInput(f"IdentityCenterInstanceArn {arn} is not a valid IAM Identity Center instance ARN.")


def _context_provider_json(provider: ContextProvider) -> str:
    """As stored: AWS's member names, absent members left out."""
    out: dict[str, Any] = {"SubjectSourceKey": provider.subject_source_key}
    if provider.key_definition_list is not None:
        out["KeyDefinitionList"] = [
            {"SourceKey": d.source_key, **({"TargetKey": d.target_key} if d.target_key is not None else {})}
            for d in provider.key_definition_list
        ]
    if provider.subject_type_value is not None:
        out["SubjectTypeValue"] = provider.subject_type_value
    if provider.subject_type_source_key is not None:
        out["SubjectTypeSourceKey"] = provider.subject_type_source_key
    return json.dumps(out, separators=(",", ":"))


def _context_provider_shape(stored: str | None) -> ContextProvider | None:
    if not stored:
        return None
    data = json.loads(stored)
    definitions = data.get("KeyDefinitionList")
    return ContextProvider(
        key_definition_list=None if definitions is None else [
            ContextProviderKeyDefinition(source_key=d["SourceKey"], target_key=d.get("TargetKey")) for d in definitions
        ],
        subject_source_key=data["SubjectSourceKey"],
        subject_type_value=data.get("SubjectTypeValue"),
        subject_type_source_key=data.get("SubjectTypeSourceKey"),
    )


def _propagation_request_context(context_provider: ContextProvider | None, instance_arn: str | None) -> dict[str, Any]:
    """The Request condition keys of trusted identity propagation (see the module docstring)."""
    context: dict[str, Any] = {}
    if context_provider is not None:
        context["iam:EnableIdentityPropagation"] = True
    if instance_arn is not None:
        context["iam:EnableIdentityCenterAssociation"] = True
        context["iam:RequestIdentityCenterInstanceArn"] = instance_arn
    return context


def _oidc_arn() -> Any:
    return fields.arn("OpenIDConnectProviderArn")


def _saml_arn() -> Any:
    return fields.arn("SAMLProviderArn")


def _client_id() -> Any:
    return text("ClientID", required=True, min_len=1, max_len=255)


def _saml_metadata_document(*, required: bool) -> Any:
    return text("SAMLMetadataDocument", required=required, min_len=1000, max_len=10_000_000)


def _encryption_mode() -> Any:
    return one_of("AssertionEncryptionMode", ENCRYPTION_MODES)


def _add_private_key() -> Any:
    return text("AddPrivateKey", min_len=1, max_len=16384, secret=True)


# --- Requests (botocore: CreateOpenIDConnectProviderRequest, ...) ----------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateOpenIDConnectProviderRequest:
    url: str = text("Url", required=True, min_len=1, max_len=255)
    client_id_list: list[str] = custom(_read_client_ids, default=[])
    thumbprint_list: list[str] = custom(_read_thumbprints, default=[])
    tags: list[Tag] = tagging.tags()
    context_provider: ContextProvider | None = _context_provider_field()
    identity_center_instance_arn: str | None = _identity_center_arn_field()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateOpenIDConnectProviderRequest:
    open_id_connect_provider_arn: str = _oidc_arn()
    context_provider: ContextProvider | None = _context_provider_field()
    identity_center_instance_arn: str | None = _identity_center_arn_field()
    remove_context_provider: bool = boolean("RemoveContextProvider", default=False)
    remove_identity_center_instance: bool = boolean("RemoveIdentityCenterInstance", default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenIDConnectProviderArnRequest:
    """GetOpenIDConnectProvider, DeleteOpenIDConnectProvider."""

    open_id_connect_provider_arn: str = _oidc_arn()


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIDRequest:
    """AddClientIDToOpenIDConnectProvider, RemoveClientIDFromOpenIDConnectProvider."""

    open_id_connect_provider_arn: str = _oidc_arn()
    client_id: str = _client_id()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateOpenIDConnectProviderThumbprintRequest:
    open_id_connect_provider_arn: str = _oidc_arn()
    thumbprint_list: list[str] = custom(partial(_read_thumbprints, required=True), default=[])


@dataclass(frozen=True, slots=True, kw_only=True)
class TagOpenIDConnectProviderRequest:
    open_id_connect_provider_arn: str = _oidc_arn()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagOpenIDConnectProviderRequest:
    open_id_connect_provider_arn: str = _oidc_arn()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOpenIDConnectProviderTagsRequest:
    open_id_connect_provider_arn: str = _oidc_arn()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateSAMLProviderRequest:
    saml_metadata_document: str = _saml_metadata_document(required=True)
    name: str = text("Name", required=True, min_len=1, max_len=128, pattern=SAML_NAME_PATTERN)
    tags: list[Tag] = tagging.tags()
    assertion_encryption_mode: str | None = _encryption_mode()
    add_private_key: str | None = _add_private_key()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateSAMLProviderRequest:
    saml_metadata_document: str | None = _saml_metadata_document(required=False)
    saml_provider_arn: str = _saml_arn()
    assertion_encryption_mode: str | None = _encryption_mode()
    add_private_key: str | None = _add_private_key()
    remove_private_key: str | None = text("RemovePrivateKey", min_len=22, max_len=64, pattern=PRIVATE_KEY_ID_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class SAMLProviderArnRequest:
    """GetSAMLProvider, DeleteSAMLProvider."""

    saml_provider_arn: str = _saml_arn()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagSAMLProviderRequest:
    saml_provider_arn: str = _saml_arn()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagSAMLProviderRequest:
    saml_provider_arn: str = _saml_arn()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSAMLProviderTagsRequest:
    saml_provider_arn: str = _saml_arn()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


# --- Results ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CreateOpenIDConnectProviderResult:
    open_id_connect_provider_arn: str = field(metadata={"xml": "OpenIDConnectProviderArn"})
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class GetOpenIDConnectProviderResult:
    url: str
    client_id_list: list[str] = field(metadata={"xml": "ClientIDList"})
    thumbprint_list: list[str]
    create_date: datetime
    tags: list[Tag] | None = None
    context_provider: ContextProvider | None = None
    identity_center_instance_arn: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderArnEntry:
    arn: str


@dataclass(frozen=True, slots=True)
class ListOpenIDConnectProvidersResult:
    open_id_connect_provider_list: list[ProviderArnEntry] = field(metadata={"xml": "OpenIDConnectProviderList"})


@dataclass(frozen=True, slots=True)
class CreateSAMLProviderResult:
    saml_provider_arn: str = field(metadata={"xml": "SAMLProviderArn"})
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class GetSAMLProviderResult:
    saml_metadata_document: str = field(metadata={"xml": "SAMLMetadataDocument"})
    create_date: datetime
    valid_until: datetime
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class SAMLProviderListEntry:
    arn: str
    valid_until: datetime
    create_date: datetime


@dataclass(frozen=True, slots=True)
class ListSAMLProvidersResult:
    saml_provider_list: list[SAMLProviderListEntry] = field(metadata={"xml": "SAMLProviderList"})


@dataclass(frozen=True, slots=True)
class UpdateSAMLProviderResult:
    saml_provider_arn: str = field(metadata={"xml": "SAMLProviderArn"})


# --- The two kinds --------------------------------------------------------------------------------
def _no_such_oidc(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")


def _no_such_saml(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"SAMLProvider {arn} does not exist.")


R = TypeVar("R", OidcProviderRecord, SamlProviderRecord)


@dataclass(frozen=True, slots=True)
class _Kind(Generic[R]):
    resource_type: str  # the ARN's resource type
    tag_type: str  # the store's tag entity type
    tag_quota: str  # AWS's quota name on the provider's tags
    get: Callable[[ProviderRepository, str], R | None]
    no_such: Callable[[str], NoSuchEntity]


OIDC: _Kind[OidcProviderRecord] = _Kind(
    "oidc-provider", OIDC_TAG_TYPE, "TagsPerOpenIdConnectProvider", ProviderRepository.get_oidc, _no_such_oidc
)
SAML: _Kind[SamlProviderRecord] = _Kind(
    "saml-provider", SAML_TAG_TYPE, "TagsPerSAMLProvider", ProviderRepository.get_saml, _no_such_saml
)


def _check_provider_arn(arn: str, resource_type: str) -> None:
    """InvalidInput unless ``arn`` is an IAM ARN of ``resource_type`` (oidc-provider | saml-provider)."""
    try:
        parsed = arns.Arn.parse(arn)
    except ValueError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type != resource_type or "/" not in parsed.resource or not parsed.account:
        raise InvalidInput(f"ARN {arn} is not valid.")


def _provider(
    ctx: ActionContext, kind: _Kind[R], action_name: str, arn: str, context: dict[str, Any] | None = None
) -> R:
    """The provider ``arn`` of the caller's account, once ``iam:ACTION`` on it is allowed (with the
    action's own condition keys, ``context``)."""
    _check_provider_arn(arn, kind.resource_type)
    authorize_iam(ctx, action_name, arn, context)
    record = kind.get(ctx.runtime.store.providers, arn)
    if record is None or record.account_id != caller_account(ctx):
        raise kind.no_such(arn)
    return record


def _tag(ctx: ActionContext, kind: _Kind[Any], action_name: str, arn: str, tags: list[Tag]) -> None:
    _provider(ctx, kind, action_name, arn, tag_context(tags))
    try:
        add_tags(lambda new: ctx.runtime.store.providers.tag(kind.tag_type, arn, new), tags, kind.tag_quota)
    except NoSuchProvider:
        raise kind.no_such(arn) from None


def _untag(ctx: ActionContext, kind: _Kind[Any], action_name: str, arn: str, keys: list[str]) -> None:
    _provider(ctx, kind, action_name, arn, untag_context(keys))
    try:
        ctx.runtime.store.providers.untag(kind.tag_type, arn, keys)
    except NoSuchProvider:
        raise kind.no_such(arn) from None


def _tags_page(
    ctx: ActionContext, kind: _Kind[Any], action_name: str, arn: str, marker: str | None, max_items: int
) -> ListTagsResult:
    _provider(ctx, kind, action_name, arn)
    return tags_page(ctx.runtime.store.providers.tags(kind.tag_type, arn), marker, max_items)


def _tag_list(tags: list[tuple[str, str]]) -> list[Tag] | None:
    return [Tag(k, v) for k, v in tags] or None


# --- OIDC ---------------------------------------------------------------------------------------
def normalise_oidc_url(url: str) -> str:
    """Check an OIDC provider URL; return it without ``https://`` (the ARN's resource part)."""
    if not url.lower().startswith("https://"):
        raise InvalidInput("The URL of an OpenID Connect provider must begin with https://.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput(f"Invalid URL: {url}") from None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidInput("The URL of an OpenID Connect provider must not have a query or a fragment.")
    if "@" in parts.netloc or not parts.hostname:
        raise InvalidInput(f"Invalid URL: {url}")
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if not _HOST_RE.match(host) or (port is not None and not 1 <= port <= 65535):
        raise InvalidInput(f"Invalid URL: {url}")
    if parts.netloc.endswith(":"):
        raise InvalidInput(f"Invalid URL: {url}")
    if not _PATH_RE.match(parts.path) or "//" in parts.path:
        raise InvalidInput(f"Invalid URL: {url}")
    return url[len("https://") :]


def _check_client_id_count(ids: list[str]) -> None:
    if len(ids) > MAX_CLIENT_IDS:
        raise _too_many_client_ids()


def _too_many_client_ids() -> LimitExceeded:
    return LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")


def _check_thumbprint_count(thumbprints: list[str]) -> None:
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise LimitExceeded(f"Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {MAX_THUMBPRINTS}")


@action("iam", "CreateOpenIDConnectProvider", request=CreateOpenIDConnectProviderRequest, writes=True)
def create_open_id_connect_provider(
    ctx: ActionContext, request: CreateOpenIDConnectProviderRequest
) -> CreateOpenIDConnectProviderResult:
    client_ids, thumbprints, tags = request.client_id_list, request.thumbprint_list, request.tags
    context_provider, instance_arn = request.context_provider, request.identity_center_instance_arn
    without_scheme = normalise_oidc_url(request.url)
    _check_identity_center_arn(instance_arn)
    if instance_arn is not None and context_provider is None:
        raise InvalidInput("IdentityCenterInstanceArn requires a ContextProvider.")
    account = caller_account(ctx)
    arn = arns.oidc_provider_arn(account, without_scheme)
    authorize_iam(
        ctx, "CreateOpenIDConnectProvider", arn,
        {
            **_propagation_request_context(context_provider, instance_arn),
            **({"iam:RequestIdentityProviderIssuers": ["https://" + without_scheme]} if context_provider else {}),
        },
    )
    _check_client_id_count(client_ids)
    _check_thumbprint_count(thumbprints)
    repo = ctx.runtime.store.providers
    if len(repo.list_oidc(account)) >= MAX_OIDC_PROVIDERS:
        raise LimitExceeded(f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_OIDC_PROVIDERS}")
    try:
        repo.create_oidc(
            arn, account, "https://" + without_scheme, client_ids, thumbprints, pairs(tags), ctx.request_time,
            _context_provider_json(context_provider) if context_provider else None, instance_arn,
        )
    except ProviderExists:
        raise EntityAlreadyExists(f"Provider with url https://{without_scheme} already exists.") from None
    return CreateOpenIDConnectProviderResult(arn, list(tags) or None)


@action("iam", "GetOpenIDConnectProvider", request=OpenIDConnectProviderArnRequest)
def get_open_id_connect_provider(
    ctx: ActionContext, request: OpenIDConnectProviderArnRequest
) -> GetOpenIDConnectProviderResult:
    arn = request.open_id_connect_provider_arn
    record = _provider(ctx, OIDC, "GetOpenIDConnectProvider", arn)
    tags = ctx.runtime.store.providers.tags(OIDC_TAG_TYPE, arn)
    url = record.url[len("https://") :] if record.url.lower().startswith("https://") else record.url
    return GetOpenIDConnectProviderResult(
        url, list(record.client_ids), list(record.thumbprints), record.created_at, _tag_list(tags),
        _context_provider_shape(record.context_provider), record.identity_center_instance_arn,
    )


@action("iam", "ListOpenIDConnectProviders", request=NoParameters)
def list_open_id_connect_providers(ctx: ActionContext, request: NoParameters) -> ListOpenIDConnectProvidersResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListOpenIDConnectProviders", "*")
    records = ctx.runtime.store.providers.list_oidc(account)
    return ListOpenIDConnectProvidersResult([ProviderArnEntry(r.arn) for r in records])


@action("iam", "DeleteOpenIDConnectProvider", request=OpenIDConnectProviderArnRequest, writes=True)
def delete_open_id_connect_provider(ctx: ActionContext, request: OpenIDConnectProviderArnRequest) -> None:
    arn = request.open_id_connect_provider_arn
    _provider(ctx, OIDC, "DeleteOpenIDConnectProvider", arn)
    try:
        ctx.runtime.store.providers.delete_oidc(arn)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None


@action("iam", "AddClientIDToOpenIDConnectProvider", request=ClientIDRequest, writes=True)
def add_client_id_to_open_id_connect_provider(ctx: ActionContext, request: ClientIDRequest) -> None:
    arn = request.open_id_connect_provider_arn
    _provider(ctx, OIDC, "AddClientIDToOpenIDConnectProvider", arn)
    try:
        ctx.runtime.store.providers.update_oidc_client_ids(arn, add=request.client_id, limit=MAX_CLIENT_IDS)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None
    except TooManyClientIds:
        raise _too_many_client_ids() from None


@action("iam", "RemoveClientIDFromOpenIDConnectProvider", request=ClientIDRequest, writes=True)
def remove_client_id_from_open_id_connect_provider(ctx: ActionContext, request: ClientIDRequest) -> None:
    arn = request.open_id_connect_provider_arn
    _provider(ctx, OIDC, "RemoveClientIDFromOpenIDConnectProvider", arn)
    try:
        ctx.runtime.store.providers.update_oidc_client_ids(arn, remove=request.client_id)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None


@action("iam", "UpdateOpenIDConnectProviderThumbprint", request=UpdateOpenIDConnectProviderThumbprintRequest, writes=True)
def update_open_id_connect_provider_thumbprint(
    ctx: ActionContext, request: UpdateOpenIDConnectProviderThumbprintRequest
) -> None:
    arn, thumbprints = request.open_id_connect_provider_arn, request.thumbprint_list
    _provider(ctx, OIDC, "UpdateOpenIDConnectProviderThumbprint", arn)
    _check_thumbprint_count(thumbprints)
    try:
        ctx.runtime.store.providers.update_oidc_thumbprints(arn, thumbprints)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None


@action("iam", "UpdateOpenIDConnectProvider", request=UpdateOpenIDConnectProviderRequest, writes=True)
def update_open_id_connect_provider(ctx: ActionContext, request: UpdateOpenIDConnectProviderRequest) -> None:
    arn = request.open_id_connect_provider_arn
    context_provider, instance_arn = request.context_provider, request.identity_center_instance_arn
    if context_provider is not None and request.remove_context_provider:
        raise InvalidInput("Specify either ContextProvider or RemoveContextProvider, not both.")
    if instance_arn is not None and request.remove_identity_center_instance:
        raise InvalidInput("Specify either IdentityCenterInstanceArn or RemoveIdentityCenterInstance, not both.")
    changes_context = context_provider is not None or request.remove_context_provider
    changes_instance = instance_arn is not None or request.remove_identity_center_instance
    if changes_context and changes_instance:
        raise InvalidInput(
            "A request can change either the context provider or the IAM Identity Center association, not both."
        )
    if not changes_context and not changes_instance:
        raise InvalidInput(
            "Specify ContextProvider, RemoveContextProvider, IdentityCenterInstanceArn or RemoveIdentityCenterInstance."
        )
    _check_identity_center_arn(instance_arn)
    _check_provider_arn(arn, OIDC.resource_type)
    # The Resource keys come from the provider as stored, so it is read before authorizing; whether
    # it exists is said only after.
    account = caller_account(ctx)
    record = ctx.runtime.store.providers.get_oidc(arn)
    if record is not None and record.account_id != account:
        record = None
    context = _propagation_request_context(context_provider, instance_arn)
    if record is not None:
        context["iam:ResourceIdentityProviderIssuers"] = [record.url]
        if record.identity_center_instance_arn:
            context["iam:ResourceIdentityCenterInstanceArn"] = record.identity_center_instance_arn
    authorize_iam(ctx, "UpdateOpenIDConnectProvider", arn, context)
    if record is None:
        raise _no_such_oidc(arn)
    change: dict[str, Any] = {}
    if changes_context:
        change["context_provider"] = _context_provider_json(context_provider) if context_provider else None
    else:
        change["identity_center_instance_arn"] = instance_arn
    try:
        ctx.runtime.store.providers.update_oidc_configuration(arn, **change)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None
    except ProviderConfigConflict:
        if changes_context:
            raise InvalidInput(
                "Remove the IAM Identity Center association before removing the context provider."
            ) from None
        raise InvalidInput(
            "An IAM Identity Center instance can be associated only with a provider that has a context provider."
        ) from None


@action("iam", "TagOpenIDConnectProvider", request=TagOpenIDConnectProviderRequest, writes=True)
def tag_open_id_connect_provider(ctx: ActionContext, request: TagOpenIDConnectProviderRequest) -> None:
    _tag(ctx, OIDC, "TagOpenIDConnectProvider", request.open_id_connect_provider_arn, request.tags)


@action("iam", "UntagOpenIDConnectProvider", request=UntagOpenIDConnectProviderRequest, writes=True)
def untag_open_id_connect_provider(ctx: ActionContext, request: UntagOpenIDConnectProviderRequest) -> None:
    _untag(ctx, OIDC, "UntagOpenIDConnectProvider", request.open_id_connect_provider_arn, request.tag_keys)


@action("iam", "ListOpenIDConnectProviderTags", request=ListOpenIDConnectProviderTagsRequest)
def list_open_id_connect_provider_tags(ctx: ActionContext, request: ListOpenIDConnectProviderTagsRequest) -> ListTagsResult:
    arn = request.open_id_connect_provider_arn
    return _tags_page(ctx, OIDC, "ListOpenIDConnectProviderTags", arn, request.marker, request.max_items)


# --- SAML ---------------------------------------------------------------------------------------
def _refuse_encryption(mode: str | None, add_private_key: str | None, remove_private_key: str | None = None) -> None:
    if mode == "Required" or add_private_key is not None or remove_private_key is not None:
        raise InvalidInput(ENCRYPTION_UNSUPPORTED)


def _parse_metadata(ctx: ActionContext, document: str) -> IdpMetadata:
    try:
        return parse_idp_metadata(document, now=ctx.request_time)
    except MetadataError as exc:
        raise InvalidInput(f"Could not parse metadata: {exc}") from None


def _valid_until(record: SamlProviderRecord) -> datetime:
    return record.valid_until or record.created_at + DEFAULT_SAML_VALIDITY


@action("iam", "CreateSAMLProvider", request=CreateSAMLProviderRequest, writes=True)
def create_saml_provider(ctx: ActionContext, request: CreateSAMLProviderRequest) -> CreateSAMLProviderResult:
    _refuse_encryption(request.assertion_encryption_mode, request.add_private_key)
    document, name, tags = request.saml_metadata_document, request.name, request.tags
    account = caller_account(ctx)
    arn = arns.saml_provider_arn(account, name)
    authorize_iam(ctx, "CreateSAMLProvider", arn)
    metadata = _parse_metadata(ctx, document)
    repo = ctx.runtime.store.providers
    if len(repo.list_saml(account)) >= MAX_SAML_PROVIDERS:
        raise LimitExceeded(f"Cannot exceed quota for SamlProvidersPerAccount: {MAX_SAML_PROVIDERS}")
    try:
        repo.create_saml(arn, account, name, document, metadata.valid_until, pairs(tags), ctx.request_time)
    except ProviderExists:
        raise EntityAlreadyExists(f"SAMLProvider {name} already exists.") from None
    return CreateSAMLProviderResult(arn, list(tags) or None)


@action("iam", "GetSAMLProvider", request=SAMLProviderArnRequest)
def get_saml_provider(ctx: ActionContext, request: SAMLProviderArnRequest) -> GetSAMLProviderResult:
    arn = request.saml_provider_arn
    record = _provider(ctx, SAML, "GetSAMLProvider", arn)
    tags = ctx.runtime.store.providers.tags(SAML_TAG_TYPE, arn)
    return GetSAMLProviderResult(record.metadata_document, record.created_at, _valid_until(record), _tag_list(tags))


@action("iam", "ListSAMLProviders", request=NoParameters)
def list_saml_providers(ctx: ActionContext, request: NoParameters) -> ListSAMLProvidersResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListSAMLProviders", "*")
    records = ctx.runtime.store.providers.list_saml(account)
    return ListSAMLProvidersResult([SAMLProviderListEntry(r.arn, _valid_until(r), r.created_at) for r in records])


@action("iam", "UpdateSAMLProvider", request=UpdateSAMLProviderRequest, writes=True)
def update_saml_provider(ctx: ActionContext, request: UpdateSAMLProviderRequest) -> UpdateSAMLProviderResult:
    _refuse_encryption(request.assertion_encryption_mode, request.add_private_key, request.remove_private_key)
    arn, document = request.saml_provider_arn, request.saml_metadata_document
    _provider(ctx, SAML, "UpdateSAMLProvider", arn)
    if document is None:
        return UpdateSAMLProviderResult(arn)  # nothing to change
    metadata = _parse_metadata(ctx, document)
    try:
        ctx.runtime.store.providers.update_saml(arn, document, metadata.valid_until)
    except NoSuchProvider:
        raise _no_such_saml(arn) from None
    return UpdateSAMLProviderResult(arn)


@action("iam", "DeleteSAMLProvider", request=SAMLProviderArnRequest, writes=True)
def delete_saml_provider(ctx: ActionContext, request: SAMLProviderArnRequest) -> None:
    arn = request.saml_provider_arn
    _provider(ctx, SAML, "DeleteSAMLProvider", arn)
    try:
        ctx.runtime.store.providers.delete_saml(arn)
    except NoSuchProvider:
        raise _no_such_saml(arn) from None


@action("iam", "TagSAMLProvider", request=TagSAMLProviderRequest, writes=True)
def tag_saml_provider(ctx: ActionContext, request: TagSAMLProviderRequest) -> None:
    _tag(ctx, SAML, "TagSAMLProvider", request.saml_provider_arn, request.tags)


@action("iam", "UntagSAMLProvider", request=UntagSAMLProviderRequest, writes=True)
def untag_saml_provider(ctx: ActionContext, request: UntagSAMLProviderRequest) -> None:
    _untag(ctx, SAML, "UntagSAMLProvider", request.saml_provider_arn, request.tag_keys)


@action("iam", "ListSAMLProviderTags", request=ListSAMLProviderTagsRequest)
def list_saml_provider_tags(ctx: ActionContext, request: ListSAMLProviderTagsRequest) -> ListTagsResult:
    return _tags_page(ctx, SAML, "ListSAMLProviderTags", request.saml_provider_arn, request.marker, request.max_items)
