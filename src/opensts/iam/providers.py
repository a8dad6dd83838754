"""Identity providers: OpenID Connect (CreateOpenIDConnectProvider and friends) and SAML
(CreateSAMLProvider and friends), with their tags.

OIDC provider ARNs are ``arn:aws:iam::ACCT:oidc-provider/HOST[:PORT]/PATH`` (the URL without
``https://``; self-hosted issuers often listen on a port). SAML metadata is parsed with the
hardened parser of ``federation/saml_metadata.py`` and must name at least one signing certificate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from opensts.actions import ActionContext, Params, action
from opensts.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from opensts.federation.saml_metadata import MetadataError, parse_idp_metadata
from opensts.iam.common import (
    read_tag_keys,
    Tag,
    authorize_iam,
    caller_account,
    paginate,
    read_pagination,
    read_tags,
)
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.store.iam_providers import (
    MAX_TAGS,
    OIDC_TAG_TYPE,
    SAML_TAG_TYPE,
    NoSuchProvider,
    ProviderExists,
    TooManyClientIds,
    TooManyTags,
)

MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5
MAX_OIDC_PROVIDERS = 100
MAX_SAML_PROVIDERS = 100
SAML_NAME_PATTERN = r"[\w._-]+"
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
_THUMBPRINT_RE = re.compile(r"^[0-9A-Fa-f]{40}$")
_PATH_RE = re.compile(r"^[\x21-\x7e]*$")
DEFAULT_SAML_VALIDITY = timedelta(days=365 * 100)  # AWS shows 100 years when metadata sets no validUntil


# --- Result shapes ----------------------------------------------------------------------------
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


@dataclass(frozen=True, slots=True)
class ListProviderTagsResult:
    tags: list[Tag]
    is_truncated: bool = False
    marker: str | None = None


# --- OIDC helpers -----------------------------------------------------------------------------
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


def _read_client_ids(reader: ParamReader, name: str) -> list[str]:
    raw = reader.list(name)
    out: list[str] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, str):
            reader.fail(None, f"{name[:1].lower()}{name[1:]}.{i}.member", "Member must be a string")
            continue
        reader.check_string(item, f"clientIDList.{i}.member", min_len=1, max_len=255)
        if item not in out:
            out.append(item)
    return out


def _check_client_id_count(ids: list[str]) -> None:
    if len(ids) > MAX_CLIENT_IDS:
        raise LimitExceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")


def _read_thumbprints(reader: ParamReader) -> list[str]:
    raw = reader.list("ThumbprintList")
    out: list[str] = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, str):
            reader.fail(None, f"thumbprintList.{i}.member", "Member must be a string")
            continue
        reader.check_string(item, f"thumbprintList.{i}.member", min_len=40, max_len=40)
        if len(item) == 40 and not _THUMBPRINT_RE.match(item):
            raise InvalidInput(f"Thumbprint {item} is not a 40-character hexadecimal SHA-1 fingerprint.")
        if item.lower() not in out:
            out.append(item.lower())
    return out


def _check_thumbprint_count(thumbprints: list[str]) -> None:
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise LimitExceeded(f"Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {MAX_THUMBPRINTS}")


def _read_arn(reader: ParamReader, name: str) -> str:
    return reader.string(name, required=True, min_len=20, max_len=2048) or ""


def _check_provider_arn(arn: str, kind: str) -> None:
    """``kind``: oidc-provider | saml-provider. InvalidInput unless ``arn`` is such an IAM ARN."""
    try:
        parsed = arns.Arn.parse(arn)
    except ValueError:
        raise InvalidInput(f"ARN {arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type != kind or "/" not in parsed.resource or not parsed.account:
        raise InvalidInput(f"ARN {arn} is not valid.")


def _no_such_oidc(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")


def _no_such_saml(arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"SAMLProvider {arn} does not exist.")


def _oidc_provider(ctx: ActionContext, action_name: str, arn: str):  # type: ignore[no-untyped-def]
    _check_provider_arn(arn, "oidc-provider")
    authorize_iam(ctx, action_name, arn)
    record = ctx.runtime.store.providers.get_oidc(arn)
    if record is None or record.account_id != caller_account(ctx):
        raise _no_such_oidc(arn)
    return record


def _saml_provider(ctx: ActionContext, action_name: str, arn: str):  # type: ignore[no-untyped-def]
    _check_provider_arn(arn, "saml-provider")
    authorize_iam(ctx, action_name, arn)
    record = ctx.runtime.store.providers.get_saml(arn)
    if record is None or record.account_id != caller_account(ctx):
        raise _no_such_saml(arn)
    return record


def _tag_list(tags: list[tuple[str, str]]) -> list[Tag] | None:
    return [Tag(k, v) for k, v in tags] or None


# --- OIDC actions -----------------------------------------------------------------------------
@action("iam", "CreateOpenIDConnectProvider")
def create_oidc_provider(ctx: ActionContext, params: Params) -> CreateOpenIDConnectProviderResult:
    reader = ParamReader(params)
    url = reader.string("Url", required=True, min_len=1, max_len=255)
    client_ids = _read_client_ids(reader, "ClientIDList")
    thumbprints = _read_thumbprints(reader)
    tags = read_tags(reader, max_items=MAX_TAGS)
    reader.done()
    assert url is not None
    without_scheme = normalise_oidc_url(url)
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
            arn, account, "https://" + without_scheme, client_ids, thumbprints, [(t.key, t.value) for t in tags],
            ctx.request_time,
        )
    except ProviderExists:
        raise EntityAlreadyExists(f"Provider with url https://{without_scheme} already exists.") from None
    return CreateOpenIDConnectProviderResult(arn, list(tags) or None)


@action("iam", "GetOpenIDConnectProvider")
def get_oidc_provider(ctx: ActionContext, params: Params) -> GetOpenIDConnectProviderResult:
    reader = ParamReader(params)
    arn = _read_arn(reader, "OpenIDConnectProviderArn")
    reader.done()
    record = _oidc_provider(ctx, "GetOpenIDConnectProvider", arn)
    tags = ctx.runtime.store.providers.tags(OIDC_TAG_TYPE, arn)
    url = record.url[len("https://") :] if record.url.lower().startswith("https://") else record.url
    return GetOpenIDConnectProviderResult(
        url, list(record.client_ids), list(record.thumbprints), record.created_at, _tag_list(tags)
    )


@action("iam", "ListOpenIDConnectProviders")
def list_oidc_providers(ctx: ActionContext, params: Params) -> ListOpenIDConnectProvidersResult:
    ParamReader(params).done()
    account = caller_account(ctx)
    authorize_iam(ctx, "ListOpenIDConnectProviders", "*")
    records = ctx.runtime.store.providers.list_oidc(account)
    return ListOpenIDConnectProvidersResult([ProviderArnEntry(r.arn) for r in records])


@action("iam", "DeleteOpenIDConnectProvider")
def delete_oidc_provider(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, "OpenIDConnectProviderArn")
    reader.done()
    _oidc_provider(ctx, "DeleteOpenIDConnectProvider", arn)
    try:
        ctx.runtime.store.providers.delete_oidc(arn)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None
    return None


@action("iam", "AddClientIDToOpenIDConnectProvider")
def add_client_id(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, "OpenIDConnectProviderArn")
    client_id = reader.string("ClientID", required=True, min_len=1, max_len=255)
    reader.done()
    assert client_id is not None
    _oidc_provider(ctx, "AddClientIDToOpenIDConnectProvider", arn)
    try:
        ctx.runtime.store.providers.update_oidc_client_ids(arn, add=client_id, limit=MAX_CLIENT_IDS)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None
    except TooManyClientIds:
        _check_client_id_count([""] * (MAX_CLIENT_IDS + 1))
    return None


@action("iam", "RemoveClientIDFromOpenIDConnectProvider")
def remove_client_id(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, "OpenIDConnectProviderArn")
    client_id = reader.string("ClientID", required=True, min_len=1, max_len=255)
    reader.done()
    assert client_id is not None
    _oidc_provider(ctx, "RemoveClientIDFromOpenIDConnectProvider", arn)
    try:
        ctx.runtime.store.providers.update_oidc_client_ids(arn, remove=client_id)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None
    return None


@action("iam", "UpdateOpenIDConnectProviderThumbprint")
def update_thumbprints(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, "OpenIDConnectProviderArn")
    if "ThumbprintList" not in params:
        reader.fail(None, "thumbprintList", "Member must not be null")
    thumbprints = _read_thumbprints(reader)
    reader.done()
    _oidc_provider(ctx, "UpdateOpenIDConnectProviderThumbprint", arn)
    _check_thumbprint_count(thumbprints)
    try:
        ctx.runtime.store.providers.update_oidc_thumbprints(arn, thumbprints)
    except NoSuchProvider:
        raise _no_such_oidc(arn) from None
    return None


# --- SAML actions -----------------------------------------------------------------------------
def _read_metadata(reader: ParamReader, *, required: bool) -> str | None:
    return reader.string("SAMLMetadataDocument", required=required, min_len=1000, max_len=10_000_000)


def _read_encryption_options(reader: ParamReader, *, update: bool = False) -> None:
    mode = reader.string("AssertionEncryptionMode")
    if mode is not None and mode not in ("Required", "Allowed"):
        reader.fail(mode, "assertionEncryptionMode", "Member must satisfy enum value set: [Required, Allowed]")
    private_key = reader.string("AddPrivateKey", min_len=1, max_len=16384)
    remove = reader.string("RemovePrivateKey", min_len=22, max_len=64, pattern=r"[A-Z0-9]+") if update else None
    if mode == "Required" or private_key is not None or remove is not None:
        reader.done()
        raise InvalidInput("Encrypted SAML assertions are not supported: OpenSTS accepts signed, unencrypted assertions.")


def _parse_metadata(ctx: ActionContext, document: str):  # type: ignore[no-untyped-def]
    try:
        return parse_idp_metadata(document, now=ctx.request_time)
    except MetadataError as exc:
        raise InvalidInput(f"Could not parse metadata: {exc}") from None


def _valid_until(record) -> datetime:  # type: ignore[no-untyped-def]
    return record.valid_until or record.created_at + DEFAULT_SAML_VALIDITY


@action("iam", "CreateSAMLProvider")
def create_saml_provider(ctx: ActionContext, params: Params) -> CreateSAMLProviderResult:
    reader = ParamReader(params)
    document = _read_metadata(reader, required=True)
    name = reader.string("Name", required=True, min_len=1, max_len=128, pattern=SAML_NAME_PATTERN)
    tags = read_tags(reader, max_items=MAX_TAGS)
    _read_encryption_options(reader)
    reader.done()
    assert document is not None and name is not None
    account = caller_account(ctx)
    arn = arns.saml_provider_arn(account, name)
    authorize_iam(ctx, "CreateSAMLProvider", arn)
    metadata = _parse_metadata(ctx, document)
    repo = ctx.runtime.store.providers
    if len(repo.list_saml(account)) >= MAX_SAML_PROVIDERS:
        raise LimitExceeded(f"Cannot exceed quota for SamlProvidersPerAccount: {MAX_SAML_PROVIDERS}")
    try:
        repo.create_saml(
            arn, account, name, document, metadata.valid_until, [(t.key, t.value) for t in tags], ctx.request_time
        )
    except ProviderExists:
        raise EntityAlreadyExists(f"SAMLProvider {name} already exists.") from None
    return CreateSAMLProviderResult(arn, list(tags) or None)


@action("iam", "GetSAMLProvider")
def get_saml_provider(ctx: ActionContext, params: Params) -> GetSAMLProviderResult:
    reader = ParamReader(params)
    arn = _read_arn(reader, "SAMLProviderArn")
    reader.done()
    record = _saml_provider(ctx, "GetSAMLProvider", arn)
    tags = ctx.runtime.store.providers.tags(SAML_TAG_TYPE, arn)
    return GetSAMLProviderResult(record.metadata_document, record.created_at, _valid_until(record), _tag_list(tags))


@action("iam", "ListSAMLProviders")
def list_saml_providers(ctx: ActionContext, params: Params) -> ListSAMLProvidersResult:
    ParamReader(params).done()
    account = caller_account(ctx)
    authorize_iam(ctx, "ListSAMLProviders", "*")
    records = ctx.runtime.store.providers.list_saml(account)
    return ListSAMLProvidersResult([SAMLProviderListEntry(r.arn, _valid_until(r), r.created_at) for r in records])


@action("iam", "UpdateSAMLProvider")
def update_saml_provider(ctx: ActionContext, params: Params) -> UpdateSAMLProviderResult:
    reader = ParamReader(params)
    document = _read_metadata(reader, required=False)
    arn = _read_arn(reader, "SAMLProviderArn")
    _read_encryption_options(reader, update=True)
    reader.done()
    _saml_provider(ctx, "UpdateSAMLProvider", arn)
    if document is None:
        return UpdateSAMLProviderResult(arn)  # nothing to change
    metadata = _parse_metadata(ctx, document)
    try:
        ctx.runtime.store.providers.update_saml(arn, document, metadata.valid_until)
    except NoSuchProvider:
        raise _no_such_saml(arn) from None
    return UpdateSAMLProviderResult(arn)


@action("iam", "DeleteSAMLProvider")
def delete_saml_provider(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, "SAMLProviderArn")
    reader.done()
    _saml_provider(ctx, "DeleteSAMLProvider", arn)
    try:
        ctx.runtime.store.providers.delete_saml(arn)
    except NoSuchProvider:
        raise _no_such_saml(arn) from None
    return None


# --- Tags of both kinds -------------------------------------------------------------------------
def _tag(ctx: ActionContext, params: Params, kind: str, action_name: str, arn_param: str) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, arn_param)
    if "Tags" not in params:
        reader.fail(None, "tags", "Member must not be null")
    tags = read_tags(reader, max_items=MAX_TAGS)
    reader.done()
    getter = _oidc_provider if kind == OIDC_TAG_TYPE else _saml_provider
    getter(ctx, action_name, arn)
    try:
        ctx.runtime.store.providers.tag(kind, arn, [(t.key, t.value) for t in tags])
    except NoSuchProvider:
        raise (_no_such_oidc(arn) if kind == OIDC_TAG_TYPE else _no_such_saml(arn)) from None
    except TooManyTags:
        what = "OpenIdConnectProvider" if kind == OIDC_TAG_TYPE else "SAMLProvider"
        raise LimitExceeded(f"Cannot exceed quota for TagsPer{what}: {MAX_TAGS}") from None


def _untag(ctx: ActionContext, params: Params, kind: str, action_name: str, arn_param: str) -> None:
    reader = ParamReader(params)
    arn = _read_arn(reader, arn_param)
    keys = read_tag_keys(reader)
    reader.done()
    getter = _oidc_provider if kind == OIDC_TAG_TYPE else _saml_provider
    getter(ctx, action_name, arn)
    try:
        ctx.runtime.store.providers.untag(kind, arn, keys)
    except NoSuchProvider:
        raise (_no_such_oidc(arn) if kind == OIDC_TAG_TYPE else _no_such_saml(arn)) from None


def _list_tags(ctx: ActionContext, params: Params, kind: str, action_name: str, arn_param: str) -> ListProviderTagsResult:
    reader = ParamReader(params)
    arn = _read_arn(reader, arn_param)
    marker, max_items = read_pagination(reader)
    reader.done()
    getter = _oidc_provider if kind == OIDC_TAG_TYPE else _saml_provider
    getter(ctx, action_name, arn)
    tags = ctx.runtime.store.providers.tags(kind, arn)
    page = paginate(tags, marker, max_items, key=lambda t: t[0].lower())
    return ListProviderTagsResult([Tag(k, v) for k, v in page.items], page.is_truncated, page.marker)


@action("iam", "TagOpenIDConnectProvider")
def tag_oidc_provider(ctx: ActionContext, params: Params) -> None:
    _tag(ctx, params, OIDC_TAG_TYPE, "TagOpenIDConnectProvider", "OpenIDConnectProviderArn")


@action("iam", "UntagOpenIDConnectProvider")
def untag_oidc_provider(ctx: ActionContext, params: Params) -> None:
    _untag(ctx, params, OIDC_TAG_TYPE, "UntagOpenIDConnectProvider", "OpenIDConnectProviderArn")


@action("iam", "ListOpenIDConnectProviderTags")
def list_oidc_provider_tags(ctx: ActionContext, params: Params) -> ListProviderTagsResult:
    return _list_tags(ctx, params, OIDC_TAG_TYPE, "ListOpenIDConnectProviderTags", "OpenIDConnectProviderArn")


@action("iam", "TagSAMLProvider")
def tag_saml_provider(ctx: ActionContext, params: Params) -> None:
    _tag(ctx, params, SAML_TAG_TYPE, "TagSAMLProvider", "SAMLProviderArn")


@action("iam", "UntagSAMLProvider")
def untag_saml_provider(ctx: ActionContext, params: Params) -> None:
    _untag(ctx, params, SAML_TAG_TYPE, "UntagSAMLProvider", "SAMLProviderArn")


@action("iam", "ListSAMLProviderTags")
def list_saml_provider_tags(ctx: ActionContext, params: Params) -> ListProviderTagsResult:
    return _list_tags(ctx, params, SAML_TAG_TYPE, "ListSAMLProviderTags", "SAMLProviderArn")
