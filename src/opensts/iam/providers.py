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

Deviations from AWS:
- Encrypted SAML assertions are not supported: ``AssertionEncryptionMode=Required``,
  ``AddPrivateKey`` and ``RemovePrivateKey`` are InvalidInput.
"""

from __future__ import annotations

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
from opensts.fields import NoParameters, custom, one_of, text
from opensts.iam import fields, tagging
from opensts.iam.common import authorize_iam, caller_account
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.store.iam_providers import OidcProviderRecord, ProviderRepository, SamlProviderRecord
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
    without_scheme = normalise_oidc_url(request.url)
    account = caller_account(ctx)
    arn = arns.oidc_provider_arn(account, without_scheme)
    authorize_iam(ctx, "CreateOpenIDConnectProvider", arn)
    _check_client_id_count(client_ids)
    _check_thumbprint_count(thumbprints)
    repo = ctx.runtime.store.providers
    if len(repo.list_oidc(account)) >= MAX_OIDC_PROVIDERS:
        raise LimitExceeded(f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_OIDC_PROVIDERS}")
    try:
        repo.create_oidc(
            arn, account, "https://" + without_scheme, client_ids, thumbprints, pairs(tags), ctx.request_time
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
        url, list(record.client_ids), list(record.thumbprints), record.created_at, _tag_list(tags)
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
