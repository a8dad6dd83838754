"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, tags and permissions boundaries.

Names are unique per account case-insensitively and keep the case they were given. Every action
authorizes ``iam:ACTION`` on the user's ARN (with its real path when the user exists) before it
says whether the user exists, so a caller without permission learns nothing.
"""

from __future__ import annotations

from typing import Any
from dataclasses import dataclass
from datetime import datetime

from opensts.actions import ActionContext, Params, action
from opensts.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    ValidationError,
)
from opensts.iam.shapes import PermissionsBoundary, boundary_shape
from opensts.iam.common import (
    boundary_context,
    tag_context,
    read_tag_keys,
    Tag,
    authorize_iam,
    caller_account,
    paginate,
    read_pagination,
    read_path,
    read_path_prefix,
    read_tags,
    resource_arn,
    USER_NAME_PATTERN,
)
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.identity.principal import PrincipalKind
from opensts.params import ParamReader
from opensts.store.iam_users import DeleteBlocked, NameTaken, TooManyTags, UserRecord

MAX_TAGS = 50
NON_USER_CREDENTIALS = "Must specify userName when calling with non-User credentials"

DELETE_CONFLICT_MESSAGES = {
    "access_keys": "Cannot delete entity, must delete access keys first.",
    "policies": "Cannot delete entity, must delete policies first.",
    "attached_policies": "Cannot delete entity, must detach all policies first.",
    "mfa_devices": "Cannot delete entity, must delete MFA device first.",
    "groups": "Cannot delete entity, must remove users from group first.",
}


# --- Result shapes (botocore: User, AttachedPermissionsBoundary, Tag) --------------------------


@dataclass(frozen=True, slots=True)
class User:
    path: str | None
    user_name: str | None
    user_id: str
    arn: str
    create_date: datetime
    password_last_used: datetime | None = None
    permissions_boundary: PermissionsBoundary | None = None
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class CreateUserResult:
    user: User


@dataclass(frozen=True, slots=True)
class GetUserResult:
    user: User


@dataclass(frozen=True, slots=True)
class ListUsersResult:
    users: list[User]
    is_truncated: bool
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class ListUserTagsResult:
    tags: list[Tag]
    is_truncated: bool
    marker: str | None = None


# --- Helpers shared with access_keys.py and groups.py ------------------------------------------
def user_arn(user: UserRecord) -> str:
    return arns.user_arn(user.account_id, user.name, user.path)


def user_shape(user: UserRecord, tags: list[tuple[str, str]] | None = None, *, full: bool = True) -> User:
    """The botocore ``User`` structure. ``full=False`` as in list calls: no boundary, no tags."""
    boundary = boundary_shape(user.permissions_boundary_arn) if full else None
    return User(
        path=user.path,
        user_name=user.name,
        user_id=user.user_id,
        arn=user_arn(user),
        create_date=user.created_at,
        permissions_boundary=boundary,
        tags=[Tag(k, v) for k, v in tags] if full and tags else None,
    )


def read_user_name(reader: ParamReader, name: str = "UserName", *, required: bool = True, max_len: int = 128) -> str | None:
    """``existingUserNameType`` (1..128) by default; ``userNameType`` (1..64) with max_len=64."""
    return reader.string(name, required=required, min_len=1, max_len=max_len, pattern=USER_NAME_PATTERN)


def no_such_user(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


def authorized_user(
    ctx: ActionContext, action_name: str, name: str, context: dict[str, Any] | None = None, *, with_boundary: bool = False
) -> UserRecord:
    """Look the user up, authorize ``iam:ACTION`` on its ARN, then NoSuchEntity if it is missing.

    ``with_boundary``: the user's current boundary is the action's ``iam:PermissionsBoundary``.
    """
    account = caller_account(ctx)
    user = ctx.runtime.store.users.get(account, name)
    resource = user_arn(user) if user else resource_arn(account, "user", name)
    if with_boundary and user is not None:
        context = {**boundary_context(user.permissions_boundary_arn), **(context or {})}
    authorize_iam(ctx, action_name, resource, context)
    if user is None:
        raise no_such_user(name)
    return user


def calling_user(ctx: ActionContext) -> UserRecord | None:
    """The IAM user behind the caller's credentials; None for the account root.

    Raises ValidationError for roles and federated users, as AWS does when they leave out UserName.
    """
    caller = ctx.caller
    assert caller is not None
    if caller.kind is PrincipalKind.ROOT:
        return None
    if caller.kind is PrincipalKind.USER and caller.entity_id:
        user = ctx.runtime.store.users.get_by_id(caller.entity_id)
        if user is not None:
            return user
        raise no_such_user(caller.user_name or caller.entity_id)
    raise ValidationError(NON_USER_CREDENTIALS)


def check_boundary_policy(ctx: ActionContext, policy_arn: str) -> None:
    """A permissions boundary must be a managed policy that exists in the caller's account."""
    account = caller_account(ctx)
    try:
        parsed = arns.Arn.parse(policy_arn)
    except ValueError:
        raise InvalidInput(f"ARN {policy_arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type != "policy":
        raise InvalidInput(f"ARN {policy_arn} is not valid.")
    if not ctx.runtime.store.users.managed_policy_exists(account, policy_arn):
        raise NoSuchEntity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")


def read_boundary_arn(reader: ParamReader, *, required: bool = False) -> str | None:
    return reader.string("PermissionsBoundary", required=required, min_len=20, max_len=2048)


def _tags_param(reader: ParamReader) -> list[Tag]:
    return read_tags(reader, max_items=MAX_TAGS)


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateUser")
def create_user(ctx: ActionContext, params: Params) -> CreateUserResult:
    reader = ParamReader(params)
    name = read_user_name(reader, max_len=64)
    path = read_path(reader)
    boundary = read_boundary_arn(reader)
    tags = _tags_param(reader)
    reader.done()
    assert name is not None
    account = caller_account(ctx)
    authorize_iam(
        ctx, "CreateUser", resource_arn(account, "user", name, path), {**tag_context(tags), **boundary_context(boundary)}
    )
    if boundary:
        check_boundary_policy(ctx, boundary)
    pairs = [(t.key, t.value) for t in tags]
    try:
        user = ctx.runtime.store.users.create(account, ids.new_user_id(), name, path, boundary, pairs)
    except NameTaken:
        raise EntityAlreadyExists(f"User with name {name} already exists.") from None
    return CreateUserResult(user_shape(user, pairs))


@action("iam", "GetUser")
def get_user(ctx: ActionContext, params: Params) -> GetUserResult:
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    reader.done()
    account = caller_account(ctx)
    store = ctx.runtime.store
    if name is None:
        user = calling_user(ctx)
        if user is None:  # the account root: AWS answers with the root "user", no name or path
            root = arns.root_arn(account)
            authorize_iam(ctx, "GetUser", root)
            record = store.accounts.get(account)
            assert record is not None
            return GetUserResult(User(None, None, account, root, record.created_at))
        authorize_iam(ctx, "GetUser", user_arn(user))
    else:
        user = authorized_user(ctx, "GetUser", name)
    return GetUserResult(user_shape(user, store.users.tags(user.user_id)))


@action("iam", "ListUsers")
def list_users(ctx: ActionContext, params: Params) -> ListUsersResult:
    reader = ParamReader(params)
    prefix = read_path_prefix(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "ListUsers", resource_arn(account, "user", "", prefix))
    users = ctx.runtime.store.users.list(account, prefix)
    page = paginate(users, marker, max_items, key=lambda u: u.name.lower())
    return ListUsersResult([user_shape(u, full=False) for u in page.items], page.is_truncated, page.marker)


@action("iam", "UpdateUser")
def update_user(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader)
    new_path = reader.string("NewPath", min_len=1, max_len=512, pattern=r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)")
    new_name = read_user_name(reader, "NewUserName", required=False, max_len=64)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, "UpdateUser", name)
    if new_name is not None or new_path is not None:
        # Renaming or moving also needs permission on the user's new ARN, as AWS checks.
        target = resource_arn(user.account_id, "user", new_name or user.name, new_path or user.path)
        if target != user_arn(user):
            authorize_iam(ctx, "UpdateUser", target)
    try:
        ctx.runtime.store.users.update(user.user_id, new_name=new_name, new_path=new_path)
    except NameTaken:
        raise EntityAlreadyExists(f"User with name {new_name} already exists.") from None
    return None


@action("iam", "DeleteUser")
def delete_user(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, "DeleteUser", name)
    try:
        ctx.runtime.store.users.delete(user.user_id)
    except DeleteBlocked as blocked:
        raise DeleteConflict(DELETE_CONFLICT_MESSAGES[blocked.reason]) from None
    return None


@action("iam", "TagUser")
def tag_user(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader)
    if "Tags" not in params:
        reader.fail(None, "tags", "Member must not be null")
    tags = _tags_param(reader)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, "TagUser", name, tag_context(tags))
    try:
        ctx.runtime.store.users.tag(user.user_id, [(t.key, t.value) for t in tags], max_tags=MAX_TAGS)
    except TooManyTags:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerUser: {MAX_TAGS}") from None
    return None


@action("iam", "UntagUser")
def untag_user(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader)
    keys = read_tag_keys(reader)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, "UntagUser", name, {"aws:TagKeys": keys} if keys else None)
    ctx.runtime.store.users.untag(user.user_id, keys)
    return None


@action("iam", "ListUserTags")
def list_user_tags(ctx: ActionContext, params: Params) -> ListUserTagsResult:
    reader = ParamReader(params)
    name = read_user_name(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, "ListUserTags", name)
    tags = ctx.runtime.store.users.tags(user.user_id)
    page = paginate(tags, marker, max_items, key=lambda t: t[0].lower())
    return ListUserTagsResult([Tag(k, v) for k, v in page.items], page.is_truncated, page.marker)


@action("iam", "PutUserPermissionsBoundary")
def put_user_permissions_boundary(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader, max_len=64)
    boundary = read_boundary_arn(reader, required=True)
    reader.done()
    assert name is not None and boundary is not None
    user = authorized_user(ctx, "PutUserPermissionsBoundary", name, boundary_context(boundary))
    check_boundary_policy(ctx, boundary)
    ctx.runtime.store.users.set_permissions_boundary(user.user_id, boundary)
    return None


@action("iam", "DeleteUserPermissionsBoundary")
def delete_user_permissions_boundary(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader, max_len=64)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, "DeleteUserPermissionsBoundary", name, with_boundary=True)
    if user.permissions_boundary_arn is not None:
        ctx.runtime.store.users.set_permissions_boundary(user.user_id, None)
    return None
