"""Long-term access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey,
GetAccessKeyLastUsed.

Without ``UserName`` an action works on the caller's own keys: an IAM user's, or the account
root's when the root calls (AWS allows root keys too, though it advises against them). A key
that is deleted or made inactive stops working at once: every write bumps the IAM change
counter, which drops cached credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opensts.actions import ActionContext, Params, action
from opensts.errors import InvalidInput, LimitExceeded, NoSuchEntity
from opensts.iam.common import authorize_iam, caller_account, paginate, read_pagination, resource_arn
from opensts.iam.common import read_user_name
from opensts.iam.entities import authorized_user, calling_user, user_arn
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.params import ParamReader
from opensts.store.access_keys import AccessKeyMetadata, KeyLimitExceeded
from opensts.store.iam_users import UserRecord

MAX_KEYS_PER_USER = 2
ACCESS_KEY_ID_PATTERN = r"[\w]+"
STATUS_VALUES = ("Active", "Inactive", "Expired")


@dataclass(frozen=True, slots=True)
class AccessKey:
    user_name: str | None
    access_key_id: str
    status: str
    secret_access_key: str
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


def _owner(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord | None:
    """The user named (authorized, must exist), or the caller's own user; None: the account root."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    user = calling_user(ctx)
    account = caller_account(ctx)
    authorize_iam(ctx, action_name, user_arn(user) if user else arns.root_arn(account))
    return user


def _read_key_id(reader: ParamReader) -> str | None:
    return reader.string("AccessKeyId", required=True, min_len=16, max_len=128, pattern=ACCESS_KEY_ID_PATTERN)


def no_such_key(key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")


def _owned_key(ctx: ActionContext, owner: UserRecord | None, key_id: str) -> AccessKeyMetadata:
    key = ctx.runtime.store.access_keys.metadata(key_id)
    account = caller_account(ctx)
    owner_id = owner.user_id if owner else None
    if key is None or key.account_id != account or key.user_id != owner_id:
        raise no_such_key(key_id)
    return key


@action("iam", "CreateAccessKey")
def create_access_key(ctx: ActionContext, params: Params) -> CreateAccessKeyResult:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    reader.done()
    owner = _owner(ctx, "CreateAccessKey", name)
    account = caller_account(ctx)
    key_id = ids.new_long_term_access_key_id(account)
    secret = ids.new_secret_access_key()
    try:
        credential = ctx.runtime.store.access_keys.create_limited(
            key_id, secret, account, owner.user_id if owner else None, MAX_KEYS_PER_USER
        )
    except KeyLimitExceeded:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}") from None
    return CreateAccessKeyResult(
        AccessKey(owner.name if owner else None, key_id, "Active", secret, credential.created_at)
    )


@action("iam", "ListAccessKeys")
def list_access_keys(ctx: ActionContext, params: Params) -> ListAccessKeysResult:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    marker, max_items = read_pagination(reader)
    reader.done()
    owner = _owner(ctx, "ListAccessKeys", name)
    keys = ctx.runtime.store.access_keys.list_for_owner(caller_account(ctx), owner.user_id if owner else None)
    keys.sort(key=lambda k: k.access_key_id)
    page = paginate(keys, marker, max_items, key=lambda k: k.access_key_id)
    shapes = [
        AccessKeyMetadataShape(owner.name if owner else None, k.access_key_id, k.status, k.created_at)
        for k in page.items
    ]
    return ListAccessKeysResult(shapes, page.is_truncated, page.marker)


@action("iam", "UpdateAccessKey")
def update_access_key(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    key_id = _read_key_id(reader)
    status = reader.string("Status", required=True)
    if status is not None and status not in STATUS_VALUES:
        reader.fail(status, "status", f"Member must satisfy enum value set: [{', '.join(STATUS_VALUES)}]")
    reader.done()
    assert key_id is not None and status is not None
    if status == "Expired":
        raise InvalidInput("Status must be Active or Inactive.")
    owner = _owner(ctx, "UpdateAccessKey", name)
    key = _owned_key(ctx, owner, key_id)
    if key.status != status:
        ctx.runtime.store.access_keys.set_status(key_id, status)
    return None


@action("iam", "DeleteAccessKey")
def delete_access_key(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    key_id = _read_key_id(reader)
    reader.done()
    assert key_id is not None
    owner = _owner(ctx, "DeleteAccessKey", name)
    _owned_key(ctx, owner, key_id)
    ctx.runtime.store.access_keys.delete(key_id)
    return None


@action("iam", "GetAccessKeyLastUsed")
def get_access_key_last_used(ctx: ActionContext, params: Params) -> GetAccessKeyLastUsedResult:
    reader = ParamReader(params)
    key_id = _read_key_id(reader)
    reader.done()
    assert key_id is not None
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
