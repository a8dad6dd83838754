"""X.509 signing certificates of IAM users and of the account root: UploadSigningCertificate,
ListSigningCertificates, UpdateSigningCertificate, DeleteSigningCertificate.

AWS keeps these for the legacy SOAP/X.509 request signing of some services
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_UploadSigningCertificate.html). Here:

- ``CertificateBody`` is one PEM X.509 certificate, read with ``cryptography.x509``
  (``MalformedCertificate`` otherwise); one past its ``notAfter`` is ``InvalidCertificate``.
- The same certificate (same DER bytes) can be held once per account (``DuplicateCertificate``),
  at most :data:`MAX_CERTIFICATES_PER_USER` per user (``LimitExceeded``).
- Without ``UserName`` the actions work on the caller's own certificates: an IAM user's, or, when
  the account root calls, the root's (AWS allows exactly this: "you can use this operation to
  manage AWS account root user credentials even if the AWS account has no associated users"). A
  root certificate is answered without ``UserName``, as root access keys are. Roles and federated
  users must name a user (ValidationError, as AWS).
- Each action authorizes ``iam:ACTION`` on the user's ARN (the root's ARN for its own) before it
  says whether the user or certificate exists.

Deviations: OpenSTS does not verify requests signed with these certificates (no AWS API still
accepts them); the messages of ``DuplicateCertificate`` and ``InvalidCertificate`` are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import InvalidInput, LimitExceeded, NoSuchEntity
from opensts.fields import one_of, text
from opensts.iam import fields
from opensts.iam.certificates import DuplicateCertificate, InvalidCertificate, expired, fingerprint, parse_certificate
from opensts.iam.common import authorize_iam, caller_account
from opensts.iam.entities import authorized_user, calling_user, user_arn
from opensts.iam.pagination import paginate
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.store.iam_user_credentials import CredentialLimitExceeded, DuplicateCredential, SigningCertificateRecord
from opensts.store.iam_users import UserRecord

MAX_CERTIFICATES_PER_USER = 2
STATUS_VALUES = ("Active", "Inactive", "Expired")
CERTIFICATE_BODY_PATTERN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"  # certificateBodyType
CERTIFICATE_ID_PATTERN = r"[\w]+"  # certificateIdType


# --- Requests (botocore: UploadSigningCertificateRequest, ...) and results --------------------------
def certificate_id() -> Any:
    return text("CertificateId", required=True, min_len=24, max_len=128, pattern=CERTIFICATE_ID_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadSigningCertificateRequest:
    user_name: str | None = fields.user_name(required=False)
    certificate_body: str = text(
        "CertificateBody", required=True, min_len=1, max_len=16384, pattern=CERTIFICATE_BODY_PATTERN
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSigningCertificatesRequest:
    user_name: str | None = fields.user_name(required=False)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateSigningCertificateRequest:
    user_name: str | None = fields.user_name(required=False)
    certificate_id: str = certificate_id()
    status: str = one_of("Status", STATUS_VALUES, required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteSigningCertificateRequest:
    user_name: str | None = fields.user_name(required=False)
    certificate_id: str = certificate_id()


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    user_name: str | None
    certificate_id: str
    certificate_body: str
    status: str
    upload_date: datetime


@dataclass(frozen=True, slots=True)
class UploadSigningCertificateResult:
    certificate: SigningCertificate


@dataclass(frozen=True, slots=True)
class ListSigningCertificatesResult:
    certificates: list[SigningCertificate]
    is_truncated: bool
    marker: str | None = None


# --- Actions ------------------------------------------------------------------------------------
def _owner(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord | None:
    """The user named (authorized, must exist), or the caller's own user; None: the account root."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    user = calling_user(ctx)
    authorize_iam(ctx, action_name, user_arn(user) if user else arns.root_arn(caller_account(ctx)))
    return user


def _shape(owner: UserRecord | None, record: SigningCertificateRecord) -> SigningCertificate:
    return SigningCertificate(
        owner.name if owner else None, record.certificate_id, record.body, record.status, record.uploaded_at
    )


def no_such_certificate(certificate_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Certificate with id {certificate_id} cannot be found.")


@action("iam", "UploadSigningCertificate", request=UploadSigningCertificateRequest, writes=True)
def upload_signing_certificate(
    ctx: ActionContext, request: UploadSigningCertificateRequest
) -> UploadSigningCertificateResult:
    owner = _owner(ctx, "UploadSigningCertificate", request.user_name)
    body = request.certificate_body.strip()
    certificate = parse_certificate(body)
    if expired(certificate, ctx.request_time):
        raise InvalidCertificate("The certificate has expired: its 'Not After' date has passed.")
    try:
        record = ctx.runtime.store.user_credentials.upload_certificate(
            ids.new_signing_certificate_id(), caller_account(ctx), owner.user_id if owner else None, body,
            fingerprint(certificate), ctx.request_time.replace(microsecond=0), MAX_CERTIFICATES_PER_USER,
        )
    except DuplicateCredential:
        raise DuplicateCertificate("The same certificate is already associated with an IAM user in the account.") from None
    except CredentialLimitExceeded:
        raise LimitExceeded(
            f"Cannot exceed quota for SigningCertificatesPerUser: {MAX_CERTIFICATES_PER_USER}"
        ) from None
    return UploadSigningCertificateResult(_shape(owner, record))


@action("iam", "ListSigningCertificates", request=ListSigningCertificatesRequest)
def list_signing_certificates(
    ctx: ActionContext, request: ListSigningCertificatesRequest
) -> ListSigningCertificatesResult:
    owner = _owner(ctx, "ListSigningCertificates", request.user_name)
    records = ctx.runtime.store.user_credentials.certificates(caller_account(ctx), owner.user_id if owner else None)
    page = paginate(records, request.marker, request.max_items, key=lambda c: c.certificate_id)
    return ListSigningCertificatesResult([_shape(owner, c) for c in page.items], page.is_truncated, page.marker)


@action("iam", "UpdateSigningCertificate", request=UpdateSigningCertificateRequest, writes=True)
def update_signing_certificate(ctx: ActionContext, request: UpdateSigningCertificateRequest) -> None:
    if request.status == "Expired":  # in the enum, but not a status a caller may set
        raise InvalidInput("Status must be Active or Inactive.")
    owner = _owner(ctx, "UpdateSigningCertificate", request.user_name)
    changed = ctx.runtime.store.user_credentials.set_certificate_status(
        caller_account(ctx), owner.user_id if owner else None, request.certificate_id, request.status
    )
    if not changed:
        raise no_such_certificate(request.certificate_id)


@action("iam", "DeleteSigningCertificate", request=DeleteSigningCertificateRequest, writes=True)
def delete_signing_certificate(ctx: ActionContext, request: DeleteSigningCertificateRequest) -> None:
    owner = _owner(ctx, "DeleteSigningCertificate", request.user_name)
    deleted = ctx.runtime.store.user_credentials.delete_certificate(
        caller_account(ctx), owner.user_id if owner else None, request.certificate_id
    )
    if not deleted:
        raise no_such_certificate(request.certificate_id)
