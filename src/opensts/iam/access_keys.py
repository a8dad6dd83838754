"""Long-term access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
GetAccessKeyLastUsed.

Without ``UserName`` an action works on the caller's own keys: an IAM user's, or the account
root's when the root calls (AWS allows root keys too, though it advises against them). A key
that is deleted or made inactive stops working at once: each of these writes drops cached
credentials as it commits (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html
and the pages beside it). The secret access key is answered once, by CreateAccessKey, and is marked
secret on its result so that logs and the audit trail never show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import InvalidInput, LimitExceeded, NoSuchEntity
from opensts.fields import SECRET_FIELD, one_of, text
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import authorized_user, calling_user, user_arn
from opensts.iam.pagination import paginate
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.store.access_keys import AccessKeyMetadata
from opensts.store.errors import KeyLimitExceeded
from opensts.store.iam_users import UserRecord

MAX_KEYS_PER_USER = 2
ACCESS_KEY_ID_PATTERN = r"[\w]+"
STATUS_VALUES = ("Active", "Inactive", "Expired")


# --- Requests (botocore: CreateAccessKeyRequest, ...) and results ----------------------------------
def access_key_id() -> Any:
    """``accessKeyIdType``: 16-128 word characters."""
    return text("AccessKeyId", required=True, min_len=16, max_len=128, pattern=ACCESS_KEY_ID_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAccessKeyRequest:
    user_name: str | None = fields.user_name(required=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAccessKeysRequest:
    user_name: str | None = fields.user_name(required=False)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateAccessKeyRequest:
    user_name: str | None = fields.user_name(required=False)
    access_key_id: str = access_key_id()
    status: str = one_of("Status", STATUS_VALUES, required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAccessKeyRequest:
    user_name: str | None = fields.user_name(required=False)
    access_key_id: str = access_key_id()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetAccessKeyLastUsedRequest:
    access_key_id: str = access_key_id()


@dataclass(frozen=True, slots=True)
class AccessKey:
    user_name: str | None
    access_key_id: str
    status: str
    secret_access_key: str = field(repr=False, metadata=SECRET_FIELD)
    create_date: datetime


@dataclass(frozen=True, slots=True)
class AccessKeyMetadataShape:
    user_name: str | None
    access_key_id: str
    status: str
    create_date: datetime


@dataclass(frozen=True, slots=True)
class CreateAccessKeyResult:
    access_key: AccessKey


@dataclass(frozen=True, slots=True)
class ListAccessKeysResult:
    access_key_metadata: list[AccessKeyMetadataShape]
    is_truncated: bool
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class AccessKeyLastUsed:
    service_name: str
    region: str
    last_used_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class GetAccessKeyLastUsedResult:
    access_key_last_used: AccessKeyLastUsed
    user_name: str | None = None


# --- Actions ------------------------------------------------------------------------------------
def _owner(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord | None:
    """The user named (authorized, must exist), or the caller's own user; None: the account root."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    user = calling_user(ctx)
    account = caller_account(ctx)
    authorize_iam(ctx, action_name, user_arn(user) if user else arns.root_arn(account))
    return user


def no_such_key(key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")


def _owned_key(ctx: ActionContext, owner: UserRecord | None, key_id: str) -> AccessKeyMetadata:
    key = ctx.runtime.store.access_keys.metadata(key_id)
    account = caller_account(ctx)
    owner_id = owner.user_id if owner else None
    if key is None or key.account_id != account or key.user_id != owner_id:
        raise no_such_key(key_id)
    return key


@action("iam", "CreateAccessKey", request=CreateAccessKeyRequest, writes=True)
def create_access_key(ctx: ActionContext, request: CreateAccessKeyRequest) -> CreateAccessKeyResult:
    owner = _owner(ctx, "CreateAccessKey", request.user_name)
    account = caller_account(ctx)
    key_id = ids.new_long_term_access_key_id(account)
    secret_key = ids.new_secret_access_key()
    try:
        credential = ctx.runtime.store.access_keys.create_limited(
            key_id, secret_key, account, owner.user_id if owner else None, MAX_KEYS_PER_USER
        )
    except KeyLimitExceeded:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}") from None
    return CreateAccessKeyResult(
        AccessKey(owner.name if owner else None, key_id, "Active", secret_key, credential.created_at)
    )


@action("iam", "ListAccessKeys", request=ListAccessKeysRequest)
def list_access_keys(ctx: ActionContext, request: ListAccessKeysRequest) -> ListAccessKeysResult:
    owner = _owner(ctx, "ListAccessKeys", request.user_name)
    keys = ctx.runtime.store.access_keys.list_for_owner(caller_account(ctx), owner.user_id if owner else None)
    keys.sort(key=lambda k: k.access_key_id)
    page = paginate(keys, request.marker, request.max_items, key=lambda k: k.access_key_id)
    shapes = [
        AccessKeyMetadataShape(owner.name if owner else None, k.access_key_id, k.status, k.created_at)
        for k in page.items
    ]
    return ListAccessKeysResult(shapes, page.is_truncated, page.marker)


@action("iam", "UpdateAccessKey", request=UpdateAccessKeyRequest, writes=True)
def update_access_key(ctx: ActionContext, request: UpdateAccessKeyRequest) -> None:
    key_id, status = request.access_key_id, request.status
    if status == "Expired":  # in the enum, but not a status a caller may set
        raise InvalidInput("Status must be Active or Inactive.")
    owner = _owner(ctx, "UpdateAccessKey", request.user_name)
    key = _owned_key(ctx, owner, key_id)
    if key.status != status:
        ctx.runtime.store.access_keys.set_status(key_id, status)


@action("iam", "DeleteAccessKey", request=DeleteAccessKeyRequest, writes=True)
def delete_access_key(ctx: ActionContext, request: DeleteAccessKeyRequest) -> None:
    owner = _owner(ctx, "DeleteAccessKey", request.user_name)
    _owned_key(ctx, owner, request.access_key_id)
    ctx.runtime.store.access_keys.delete(request.access_key_id)


@action("iam", "GetAccessKeyLastUsed", request=GetAccessKeyLastUsedRequest)
def get_access_key_last_used(ctx: ActionContext, request: GetAccessKeyLastUsedRequest) -> GetAccessKeyLastUsedResult:
    key_id = request.access_key_id
    account = caller_account(ctx)
    store = ctx.runtime.store
    key = store.access_keys.metadata(key_id)
    if key is None or key.account_id != account:
        # Authorize as for an unknown user's key before saying it does not exist.
        authorize_iam(ctx, "GetAccessKeyLastUsed", resource_arn(account, "user", ""))
        raise no_such_key(key_id)
    if key.user_id is None:
        resource = arns.root_arn(account)
    else:
        user = store.users.get_by_id(key.user_id)
        resource = user_arn(user) if user else resource_arn(account, "user", key.user_name or "")
    authorize_iam(ctx, "GetAccessKeyLastUsed", resource)
    when, service, region = key.last_used_at, key.last_used_service, key.last_used_region
    pending = store.access_key_use.pending(key_id)  # seen by this process, not written yet
    if pending is not None and (when is None or pending[0] > when):
        when, service, region = pending
    if when is None:
        used = AccessKeyLastUsed("N/A", "N/A")
    else:
        used = AccessKeyLastUsed(service or "N/A", region or "N/A", when)
    return GetAccessKeyLastUsedResult(used, key.user_name)
