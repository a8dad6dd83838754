"""Server certificates: UploadServerCertificate, GetServerCertificate, ListServerCertificates,
UpdateServerCertificate, DeleteServerCertificate, TagServerCertificate, UntagServerCertificate,
ListServerCertificateTags.

AWS stores these for load balancers and CloudFront
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadServerCertificate.html and the pages
beside it). Here:

- ``CertificateBody`` is one PEM certificate, ``PrivateKey`` its unencrypted PEM RSA (1024-4096
  bits) or EC key, ``CertificateChain`` optional PEM issuers in order, each signature checked
  (``iam/certificates.py``). Unreadable input and expired certificates are
  ``MalformedCertificate``; a key that is not the certificate's is ``KeyPairMismatch``.
- The private key is marked secret on the request (never logged nor audited), sealed under the
  master key as it is stored, and **never answered**: GetServerCertificate returns the metadata,
  the body, the chain and the tags, as AWS does.
- ``ServerCertificateId`` is ``ASCA`` + 17 characters; the ARN is
  ``arn:aws:iam::ACCT:server-certificate/PATH/NAME``; ``Expiration`` is the certificate's
  ``notAfter``. Names are unique per account case-insensitively (``EntityAlreadyExists``); at most
  :data:`MAX_CERTIFICATES_PER_ACCOUNT` per account (AWS's default quota; ``LimitExceeded``).
- Each action authorizes ``iam:ACTION`` on the certificate's ARN (with its real path once it
  exists) before it says whether it exists; ListServerCertificates on
  ``server-certificate/PATHPREFIX``; Upload and Tag with ``aws:RequestTag/*`` and ``aws:TagKeys``,
  Untag with ``aws:TagKeys``. UpdateServerCertificate needs the permission on the old and the new
  ARN, as AWS documents.
- ListServerCertificates leaves out tags, as AWS does; GetServerCertificate includes them.

Deviations: no AWS service uses these certificates here, so DeleteServerCertificate never answers
DeleteConflict; the message of ``KeyPairMismatch`` and of an unreadable key are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization

from opensts.actions import ActionContext, action
from opensts.errors import EntityAlreadyExists, LimitExceeded, NoSuchEntity
from opensts.fields import text
from opensts.iam import fields, tagging
from opensts.iam.certificates import (
    EXPIRED_CERTIFICATE,
    MalformedCertificate,
    check_key_pair,
    expired,
    parse_certificate,
    parse_chain,
    parse_private_key,
)
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.pagination import paginate
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, tag_context, tags_page, untag_context
from opensts.identity import ids
from opensts.store.errors import NameTaken
from opensts.store.iam_server_certificates import ServerCertificateRecord
from opensts.store.iam_user_credentials import CredentialLimitExceeded

MAX_CERTIFICATES_PER_ACCOUNT = 20
TAG_QUOTA = "TagsPerServerCertificate"
PEM_TEXT_PATTERN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"  # certificateBodyType, privateKeyType, certificateChainType
RESOURCE_TYPE = "server-certificate"


def certificate_name(name: str = "ServerCertificateName", *, required: bool = True) -> Any:
    """``serverCertificateNameType``: 1-128 of ``[\\w+=,.@-]``."""
    return text(name, required=required, min_len=1, max_len=128, pattern=fields.ENTITY_NAME_PATTERN)


# --- Requests (botocore: UploadServerCertificateRequest, ...) and results ---------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class UploadServerCertificateRequest:
    path: str = fields.path()
    server_certificate_name: str = certificate_name()
    certificate_body: str = text("CertificateBody", required=True, min_len=1, max_len=16384, pattern=PEM_TEXT_PATTERN)
    private_key: str = text(
        "PrivateKey", required=True, min_len=1, max_len=16384, pattern=PEM_TEXT_PATTERN, secret=True
    )
    certificate_chain: str | None = text("CertificateChain", min_len=1, max_len=2097152, pattern=PEM_TEXT_PATTERN)
    tags: list[Tag] = tagging.tags()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerCertificateNameRequest:
    """GetServerCertificate, DeleteServerCertificate."""

    server_certificate_name: str = certificate_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListServerCertificatesRequest:
    # ListServerCertificates' pathPrefixType allows DEL (U+007F), unlike the other List* actions'.
    path_prefix: str = text("PathPrefix", min_len=1, max_len=512, pattern=r"\u002F[\u0021-\u007F]*", default="/")
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateServerCertificateRequest:
    server_certificate_name: str = certificate_name()
    new_path: str | None = fields.new_path()
    new_server_certificate_name: str | None = certificate_name("NewServerCertificateName", required=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TagServerCertificateRequest:
    server_certificate_name: str = certificate_name()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagServerCertificateRequest:
    server_certificate_name: str = certificate_name()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListServerCertificateTagsRequest:
    server_certificate_name: str = certificate_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True)
class ServerCertificateMetadata:
    path: str
    server_certificate_name: str
    server_certificate_id: str
    arn: str
    upload_date: datetime
    expiration: datetime


@dataclass(frozen=True, slots=True)
class UploadServerCertificateResult:
    server_certificate_metadata: ServerCertificateMetadata
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    server_certificate_metadata: ServerCertificateMetadata
    certificate_body: str
    certificate_chain: str | None = None
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class GetServerCertificateResult:
    server_certificate: ServerCertificate


@dataclass(frozen=True, slots=True)
class ListServerCertificatesResult:
    server_certificate_metadata_list: list[ServerCertificateMetadata]
    is_truncated: bool
    marker: str | None = None


# --- Actions ------------------------------------------------------------------------------------
def certificate_arn(account: str, name: str, path: str = "/") -> str:
    return resource_arn(account, RESOURCE_TYPE, name, path)


def metadata_shape(record: ServerCertificateRecord) -> ServerCertificateMetadata:
    return ServerCertificateMetadata(
        record.path, record.name, record.certificate_id, certificate_arn(record.account_id, record.name, record.path),
        record.uploaded_at, record.expires_at,
    )


def no_such_certificate(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Server Certificate with name {name} cannot be found.")


def authorized_certificate(
    ctx: ActionContext, action_name: str, name: str, context: dict[str, Any] | None = None
) -> ServerCertificateRecord:
    """The certificate ``name``, once ``iam:ACTION`` on its ARN is allowed; NoSuchEntity if missing."""
    account = caller_account(ctx)
    record = ctx.runtime.store.server_certificates.get(account, name)
    resource = certificate_arn(account, record.name, record.path) if record else certificate_arn(account, name)
    authorize_iam(ctx, action_name, resource, context)
    if record is None:
        raise no_such_certificate(name)
    return record


@action("iam", "UploadServerCertificate", request=UploadServerCertificateRequest, writes=True)
def upload_server_certificate(
    ctx: ActionContext, request: UploadServerCertificateRequest
) -> UploadServerCertificateResult:
    name, path, tags = request.server_certificate_name, request.path, request.tags
    account = caller_account(ctx)
    authorize_iam(ctx, "UploadServerCertificate", certificate_arn(account, name, path), tag_context(tags))
    body = request.certificate_body.strip()
    certificate = parse_certificate(body)
    if expired(certificate, ctx.request_time):
        raise MalformedCertificate(EXPIRED_CERTIFICATE)
    key = parse_private_key(request.private_key)
    check_key_pair(certificate, key)
    chain = request.certificate_chain.strip() if request.certificate_chain else None
    if chain:
        parse_chain(chain, certificate)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    record = ServerCertificateRecord(
        ids.new_server_certificate_id(), account, name, path, body, chain or None,
        ctx.request_time.replace(microsecond=0), certificate.not_valid_after_utc,
    )
    store = ctx.runtime.store.server_certificates
    try:
        add_tags(lambda new: store.upload(record, key_pem, new, MAX_CERTIFICATES_PER_ACCOUNT), tags, TAG_QUOTA)
    except NameTaken:
        raise EntityAlreadyExists(f"The Server Certificate with name {name} already exists.") from None
    except CredentialLimitExceeded:
        raise LimitExceeded(
            f"Cannot exceed quota for ServerCertificatesPerAccount: {MAX_CERTIFICATES_PER_ACCOUNT}"
        ) from None
    return UploadServerCertificateResult(metadata_shape(record), list(tags) or None)


@action("iam", "GetServerCertificate", request=ServerCertificateNameRequest)
def get_server_certificate(ctx: ActionContext, request: ServerCertificateNameRequest) -> GetServerCertificateResult:
    record = authorized_certificate(ctx, "GetServerCertificate", request.server_certificate_name)
    tags = [Tag(k, v) for k, v in ctx.runtime.store.server_certificates.tags(record.certificate_id)]
    return GetServerCertificateResult(
        ServerCertificate(metadata_shape(record), record.body, record.chain, tags or None)
    )


@action("iam", "ListServerCertificates", request=ListServerCertificatesRequest)
def list_server_certificates(
    ctx: ActionContext, request: ListServerCertificatesRequest
) -> ListServerCertificatesResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListServerCertificates", certificate_arn(account, "", request.path_prefix))
    records = ctx.runtime.store.server_certificates.list(account, request.path_prefix)
    page = paginate(records, request.marker, request.max_items, key=lambda c: c.name.lower())
    return ListServerCertificatesResult([metadata_shape(c) for c in page.items], page.is_truncated, page.marker)


@action("iam", "UpdateServerCertificate", request=UpdateServerCertificateRequest, writes=True)
def update_server_certificate(ctx: ActionContext, request: UpdateServerCertificateRequest) -> None:
    new_name, new_path = request.new_server_certificate_name, request.new_path
    record = authorized_certificate(ctx, "UpdateServerCertificate", request.server_certificate_name)
    # Renaming or moving also needs permission on the new ARN, as AWS documents.
    target = certificate_arn(record.account_id, new_name or record.name, new_path or record.path)
    if target != certificate_arn(record.account_id, record.name, record.path):
        authorize_iam(ctx, "UpdateServerCertificate", target)
    try:
        ctx.runtime.store.server_certificates.update(record.certificate_id, new_name=new_name, new_path=new_path)
    except NameTaken:
        raise EntityAlreadyExists(f"The Server Certificate with name {new_name} already exists.") from None


@action("iam", "DeleteServerCertificate", request=ServerCertificateNameRequest, writes=True)
def delete_server_certificate(ctx: ActionContext, request: ServerCertificateNameRequest) -> None:
    record = authorized_certificate(ctx, "DeleteServerCertificate", request.server_certificate_name)
    if not ctx.runtime.store.server_certificates.delete(record.certificate_id):
        raise no_such_certificate(request.server_certificate_name)


@action("iam", "TagServerCertificate", request=TagServerCertificateRequest, writes=True)
def tag_server_certificate(ctx: ActionContext, request: TagServerCertificateRequest) -> None:
    name = request.server_certificate_name
    record = authorized_certificate(ctx, "TagServerCertificate", name, tag_context(request.tags))
    store = ctx.runtime.store.server_certificates
    found: list[bool] = []
    add_tags(lambda new: found.append(store.tag(record.certificate_id, new)), request.tags, TAG_QUOTA)
    if not all(found):
        raise no_such_certificate(name)


@action("iam", "UntagServerCertificate", request=UntagServerCertificateRequest, writes=True)
def untag_server_certificate(ctx: ActionContext, request: UntagServerCertificateRequest) -> None:
    name = request.server_certificate_name
    record = authorized_certificate(ctx, "UntagServerCertificate", name, untag_context(request.tag_keys))
    if not ctx.runtime.store.server_certificates.untag(record.certificate_id, request.tag_keys):
        raise no_such_certificate(name)


@action("iam", "ListServerCertificateTags", request=ListServerCertificateTagsRequest)
def list_server_certificate_tags(ctx: ActionContext, request: ListServerCertificateTagsRequest) -> ListTagsResult:
    record = authorized_certificate(ctx, "ListServerCertificateTags", request.server_certificate_name)
    tags = ctx.runtime.store.server_certificates.tags(record.certificate_id)
    return tags_page(tags, request.marker, request.max_items)
