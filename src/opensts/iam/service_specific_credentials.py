"""Service-specific credentials of IAM users: CreateServiceSpecificCredential,
ListServiceSpecificCredentials, ResetServiceSpecificCredential, UpdateServiceSpecificCredential,
DeleteServiceSpecificCredential.

AWS issues these for a few services only
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceSpecificCredential.html):
CodeCommit (``codecommit.amazonaws.com``) and Amazon Keyspaces (``cassandra.amazonaws.com``) get a
user name and a password; Amazon Bedrock (``bedrock.amazonaws.com``) and CloudWatch Logs
(``logs.amazonaws.com``) get a long-term API key (an alias and a secret), which may expire after
``CredentialAgeDays``. Any other ``ServiceName`` is ``NotSupportedService`` (404). Here:

- The password or secret is generated from the system CSPRNG, answered **once** (by Create, and by
  Reset, which replaces it) in a result field marked secret, and stored only as an scrypt hash
  (``store/iam_user_credentials.py``): never sealed, never logged, never answered again.
- ``ServiceUserName`` is ``USER-at-ACCOUNT`` (a second credential for the same service:
  ``USER+1-at-ACCOUNT``), the shape of AWS's; an API key's ``ServiceCredentialAlias`` is
  ``BedrockAPIKey-XXXX-at-ACCOUNT`` (``LogsAPIKey-`` for CloudWatch Logs) and its secret, for Bedrock,
  ``ABSK`` + base64 of ``ALIAS:RANDOM``, the form Bedrock's keys have.
- At most :data:`MAX_PER_USER_PER_SERVICE` per user per service (``LimitExceeded``).
- ``CredentialAgeDays`` (1-36600) is only valid for API-key services (``InvalidInput`` otherwise);
  past its ``ExpirationDate`` a credential is listed with status ``Expired``.
- Without ``UserName``, List/Reset/Update/Delete work on the calling user's credentials (the
  account root has none: an empty list, NoSuchEntity for an id); roles and federated users must
  name a user (ValidationError, as AWS). ``AllUsers=true`` lists every user's credentials in the
  account (optionally of one ``ServiceName``), authorized on ``arn:aws:iam::ACCT:user/``; with
  ``UserName`` it is a ValidationError.
- Each action authorizes ``iam:ACTION`` on the user's ARN before it says whether the user or the
  credential exists.

Deviations: no service accepts these credentials here yet (the hash is kept so one can verify them:
``verify_secret``); the messages of NotSupportedService, LimitExceeded and of a missing credential,
and the alias format of CloudWatch Logs keys, are ours.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import AwsError, InvalidInput, LimitExceeded, NoSuchEntity, ValidationError
from opensts.fields import SECRET_FIELD, boolean, integer, one_of, text
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import authorized_user, calling_user, user_arn
from opensts.iam.pagination import paginate
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.store.iam_user_credentials import (
    CredentialLimitExceeded,
    DuplicateCredential,
    ServiceCredentialRecord,
    hash_secret,
)
from opensts.store.iam_users import UserRecord

PASSWORD_SERVICES = ("codecommit.amazonaws.com", "cassandra.amazonaws.com")
API_KEY_SERVICES = {"bedrock.amazonaws.com": "BedrockAPIKey", "logs.amazonaws.com": "LogsAPIKey"}
SUPPORTED_SERVICES = (*PASSWORD_SERVICES, *API_KEY_SERVICES)
MAX_PER_USER_PER_SERVICE = 2
STATUS_VALUES = ("Active", "Inactive", "Expired")
CREDENTIAL_ID_PATTERN = r"[\w]+"  # serviceSpecificCredentialId


class ServiceNotSupported(AwsError):
    code, status = "NotSupportedService", 404


# --- Requests (botocore: CreateServiceSpecificCredentialRequest, ...) and results -------------------
def credential_id() -> Any:
    return text("ServiceSpecificCredentialId", required=True, min_len=20, max_len=128, pattern=CREDENTIAL_ID_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateServiceSpecificCredentialRequest:
    user_name: str = fields.user_name(max_len=64)
    service_name: str = text("ServiceName", required=True)
    credential_age_days: int | None = integer("CredentialAgeDays", min_value=1, max_value=36600)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListServiceSpecificCredentialsRequest:
    user_name: str | None = fields.user_name(required=False, max_len=64)
    service_name: str | None = text("ServiceName")
    all_users: bool | None = boolean("AllUsers")
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceCredentialIdRequest:
    """ResetServiceSpecificCredential, DeleteServiceSpecificCredential."""

    user_name: str | None = fields.user_name(required=False, max_len=64)
    service_specific_credential_id: str = credential_id()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateServiceSpecificCredentialRequest:
    user_name: str | None = fields.user_name(required=False, max_len=64)
    service_specific_credential_id: str = credential_id()
    status: str = one_of("Status", STATUS_VALUES, required=True)


@dataclass(frozen=True, slots=True)
class ServiceSpecificCredential:
    create_date: datetime
    service_name: str
    service_specific_credential_id: str
    user_name: str
    status: str
    expiration_date: datetime | None = None
    service_user_name: str | None = None
    service_password: str | None = field(default=None, repr=False, metadata=SECRET_FIELD)
    service_credential_alias: str | None = None
    service_credential_secret: str | None = field(default=None, repr=False, metadata=SECRET_FIELD)


@dataclass(frozen=True, slots=True)
class ServiceSpecificCredentialMetadata:
    user_name: str
    status: str
    create_date: datetime
    service_specific_credential_id: str
    service_name: str
    service_user_name: str | None = None
    service_credential_alias: str | None = None
    expiration_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class ServiceSpecificCredentialResult:
    """CreateServiceSpecificCredential, ResetServiceSpecificCredential."""

    service_specific_credential: ServiceSpecificCredential


@dataclass(frozen=True, slots=True)
class ListServiceSpecificCredentialsResult:
    service_specific_credentials: list[ServiceSpecificCredentialMetadata]
    is_truncated: bool
    marker: str | None = None


# --- Secrets and shapes ------------------------------------------------------------------------------
def check_service(name: str) -> str:
    if name not in SUPPORTED_SERVICES:
        shown = name if len(name) <= 128 else name[:128] + "..."
        raise ServiceNotSupported(f"Service {shown} is not supported for service-specific credentials.")
    return name


def _names(service: str, user: UserRecord) -> tuple[str, ...]:
    """The user names (or API key aliases) a new credential may take: one per allowed credential."""
    if service in API_KEY_SERVICES:
        prefix = API_KEY_SERVICES[service]
        return tuple(
            f"{prefix}-{''.join(secrets.choice('abcdefghijklmnopqrstuvwxyz0123456789') for _ in range(4))}"
            f"-at-{user.account_id}"
            for _ in range(MAX_PER_USER_PER_SERVICE)
        )
    return tuple(
        f"{user.name}{'' if slot == 0 else f'+{slot}'}-at-{user.account_id}" for slot in range(MAX_PER_USER_PER_SERVICE)
    )


def new_secret(service: str, alias: str) -> str:
    """A password (44 base64 characters, 264 bits) or, for Bedrock, an ``ABSK`` API key."""
    random = base64.b64encode(secrets.token_bytes(33)).decode("ascii")
    if service == "bedrock.amazonaws.com":
        return "ABSK" + base64.b64encode(f"{alias}:{random}".encode()).decode("ascii")
    return random


def _status(record: ServiceCredentialRecord, now: datetime) -> str:
    return "Expired" if record.expires_at is not None and record.expires_at <= now else record.status


def _full_shape(record: ServiceCredentialRecord, secret: str, now: datetime) -> ServiceSpecificCredential:
    common = dict(
        create_date=record.created_at, service_name=record.service_name,
        service_specific_credential_id=record.credential_id, user_name=record.user_name,
        status=_status(record, now), expiration_date=record.expires_at,
    )
    if record.service_name in API_KEY_SERVICES:
        return ServiceSpecificCredential(
            **common, service_credential_alias=record.service_user_name, service_credential_secret=secret  # type: ignore[arg-type]
        )
    return ServiceSpecificCredential(**common, service_user_name=record.service_user_name, service_password=secret)  # type: ignore[arg-type]


def _metadata_shape(record: ServiceCredentialRecord, now: datetime) -> ServiceSpecificCredentialMetadata:
    api_key = record.service_name in API_KEY_SERVICES
    return ServiceSpecificCredentialMetadata(
        record.user_name, _status(record, now), record.created_at, record.credential_id, record.service_name,
        service_user_name=None if api_key else record.service_user_name,
        service_credential_alias=record.service_user_name if api_key else None,
        expiration_date=record.expires_at,
    )


# --- Actions ------------------------------------------------------------------------------------
def _owner(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord | None:
    """The user named (authorized, must exist), or the caller's own user; None: the account root."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    user = calling_user(ctx)
    authorize_iam(ctx, action_name, user_arn(user) if user else arns.root_arn(caller_account(ctx)))
    return user


def no_such_credential(credential_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Service Specific Credential with id {credential_id} cannot be found.")


def _owned(ctx: ActionContext, owner: UserRecord | None, credential_id: str) -> ServiceCredentialRecord:
    record = ctx.runtime.store.user_credentials.service_credential(owner.user_id, credential_id) if owner else None
    if record is None:
        raise no_such_credential(credential_id)
    return record


@action("iam", "CreateServiceSpecificCredential", request=CreateServiceSpecificCredentialRequest, writes=True)
def create_service_specific_credential(
    ctx: ActionContext, request: CreateServiceSpecificCredentialRequest
) -> ServiceSpecificCredentialResult:
    user = authorized_user(ctx, "CreateServiceSpecificCredential", request.user_name)
    service = check_service(request.service_name)
    days = request.credential_age_days
    if days is not None and service not in API_KEY_SERVICES:
        raise InvalidInput("CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys.")
    now = ctx.request_time.replace(microsecond=0)
    expires = now + timedelta(days=days) if days is not None else None
    store = ctx.runtime.store.user_credentials
    # Two attempts: a concurrent create may take the name chosen from the first read.
    for attempt in range(2):
        taken = {c.service_user_name for c in store.service_credentials(user.account_id, user.user_id, service)}
        name = next((n for n in _names(service, user) if n not in taken), None)
        if name is None:
            raise _limit_exceeded()
        secret = new_secret(service, name)
        secret_hash = hash_secret(secret)  # slow on purpose: made before the transaction
        try:
            record = store.create_service_credential(
                ids.new_service_specific_credential_id(), user.account_id, user.user_id, service, name,
                secret_hash, now, expires, MAX_PER_USER_PER_SERVICE,
            )
        except CredentialLimitExceeded:
            raise _limit_exceeded() from None
        except DuplicateCredential:
            if attempt:
                raise _limit_exceeded() from None
            continue
        return ServiceSpecificCredentialResult(_full_shape(record, secret, now))
    raise _limit_exceeded()  # not reached: the loop returns or raises


def _limit_exceeded() -> LimitExceeded:
    return LimitExceeded(
        f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {MAX_PER_USER_PER_SERVICE}"
    )


@action("iam", "ListServiceSpecificCredentials", request=ListServiceSpecificCredentialsRequest)
def list_service_specific_credentials(
    ctx: ActionContext, request: ListServiceSpecificCredentialsRequest
) -> ListServiceSpecificCredentialsResult:
    account = caller_account(ctx)
    store = ctx.runtime.store.user_credentials
    if request.all_users:
        if request.user_name is not None:
            raise ValidationError("AllUsers cannot be specified together with UserName.")
        authorize_iam(ctx, "ListServiceSpecificCredentials", resource_arn(account, "user", ""))
        service = check_service(request.service_name) if request.service_name is not None else None
        records = store.service_credentials(account, None, service)
    else:
        owner = _owner(ctx, "ListServiceSpecificCredentials", request.user_name)
        service = check_service(request.service_name) if request.service_name is not None else None
        records = store.service_credentials(account, owner.user_id, service) if owner else []
    now = ctx.request_time
    page = paginate(records, request.marker, request.max_items, key=lambda c: c.credential_id)
    return ListServiceSpecificCredentialsResult(
        [_metadata_shape(c, now) for c in page.items], page.is_truncated, page.marker
    )


@action("iam", "ResetServiceSpecificCredential", request=ServiceCredentialIdRequest, writes=True)
def reset_service_specific_credential(
    ctx: ActionContext, request: ServiceCredentialIdRequest
) -> ServiceSpecificCredentialResult:
    owner = _owner(ctx, "ResetServiceSpecificCredential", request.user_name)
    record = _owned(ctx, owner, request.service_specific_credential_id)
    secret = new_secret(record.service_name, record.service_user_name)
    if not ctx.runtime.store.user_credentials.reset_service_credential(record.user_id, record.credential_id, hash_secret(secret)):
        raise no_such_credential(record.credential_id)
    return ServiceSpecificCredentialResult(_full_shape(record, secret, ctx.request_time))


@action("iam", "UpdateServiceSpecificCredential", request=UpdateServiceSpecificCredentialRequest, writes=True)
def update_service_specific_credential(ctx: ActionContext, request: UpdateServiceSpecificCredentialRequest) -> None:
    if request.status == "Expired":  # in the enum, but not a status a caller may set
        raise InvalidInput("Status must be Active or Inactive.")
    owner = _owner(ctx, "UpdateServiceSpecificCredential", request.user_name)
    credential = request.service_specific_credential_id
    if owner is None or not ctx.runtime.store.user_credentials.set_service_credential_status(
        owner.user_id, credential, request.status
    ):
        raise no_such_credential(credential)


@action("iam", "DeleteServiceSpecificCredential", request=ServiceCredentialIdRequest, writes=True)
def delete_service_specific_credential(ctx: ActionContext, request: ServiceCredentialIdRequest) -> None:
    owner = _owner(ctx, "DeleteServiceSpecificCredential", request.user_name)
    credential = request.service_specific_credential_id
    if owner is None or not ctx.runtime.store.user_credentials.delete_service_credential(owner.user_id, credential):
        raise no_such_credential(credential)
