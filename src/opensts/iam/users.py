"""IAM users: CreateUser, GetUser, ListUsers, UpdateUser, DeleteUser, tags and permissions boundaries.

Names are unique per account case-insensitively and keep the case they were given. Every action
authorizes ``iam:ACTION`` on the user's ARN (with its real path when the user exists) before it
says whether the user exists, so a caller without permission learns nothing
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html and the pages beside it).
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import DeleteConflict, EntityAlreadyExists
from opensts.iam import fields
from opensts.iam.common import authorize_iam, boundary_context, caller_account, resource_arn
from opensts.iam.entities import (
    DELETE_CONFLICT_MESSAGES,
    authorized_user,
    calling_user,
    check_boundary,
    user_arn,
)
from opensts.iam.pagination import paginate
from opensts.iam.shapes import User, user_shape
from opensts.iam import tagging
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.store.errors import DeleteBlocked, NameTaken

TAG_QUOTA = "TagsPerUser"


# --- Requests (botocore: CreateUserRequest, ...) and results ---------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUserRequest:
    user_name: str = fields.user_name(max_len=64)
    path: str = fields.path()
    permissions_boundary: str | None = fields.permissions_boundary()
    tags: list[Tag] = tagging.tags()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetUserRequest:
    user_name: str | None = fields.user_name(required=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUsersRequest:
    path_prefix: str = fields.path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserRequest:
    user_name: str = fields.user_name()
    new_path: str | None = fields.new_path()
    new_user_name: str | None = fields.user_name("NewUserName", required=False, max_len=64)


@dataclass(frozen=True, slots=True, kw_only=True)
class UserNameRequest:
    """DeleteUser."""

    user_name: str = fields.user_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagUserRequest:
    user_name: str = fields.user_name()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagUserRequest:
    user_name: str = fields.user_name()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUserTagsRequest:
    user_name: str = fields.user_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class PutUserPermissionsBoundaryRequest:
    user_name: str = fields.user_name(max_len=64)
    permissions_boundary: str = fields.permissions_boundary(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteUserPermissionsBoundaryRequest:
    user_name: str = fields.user_name(max_len=64)


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


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateUser", request=CreateUserRequest, writes=True)
def create_user(ctx: ActionContext, request: CreateUserRequest) -> CreateUserResult:
    name, path, boundary, tags = request.user_name, request.path, request.permissions_boundary, request.tags
    account = caller_account(ctx)
    authorize_iam(
        ctx, "CreateUser", resource_arn(account, "user", name, path), {**tag_context(tags), **boundary_context(boundary)}
    )
    if boundary:
        check_boundary(ctx, boundary)
    try:
        user = ctx.runtime.store.users.create(account, ids.new_user_id(), name, path, boundary, pairs(tags))
    except NameTaken:
        raise EntityAlreadyExists(f"User with name {name} already exists.") from None
    return CreateUserResult(user_shape(user, pairs(tags)))


@action("iam", "GetUser", request=GetUserRequest)
def get_user(ctx: ActionContext, request: GetUserRequest) -> GetUserResult:
    account = caller_account(ctx)
    store = ctx.runtime.store
    if request.user_name is None:
        user = calling_user(ctx)
        if user is None:  # the account root: AWS answers with the root "user", no name or path
            root = arns.root_arn(account)
            authorize_iam(ctx, "GetUser", root)
            record = store.accounts.get(account)
            assert record is not None
            return GetUserResult(User(None, None, account, root, record.created_at))
        authorize_iam(ctx, "GetUser", user_arn(user))
    else:
        user = authorized_user(ctx, "GetUser", request.user_name)
    shape = user_shape(user, store.users.tags(user.user_id))
    profile = store.passwords.get(user.user_id)
    if profile is not None and profile.password_last_used is not None:  # a console sign-in used it
        shape = dataclasses.replace(shape, password_last_used=profile.password_last_used)
    return GetUserResult(shape)


@action("iam", "ListUsers", request=ListUsersRequest)
def list_users(ctx: ActionContext, request: ListUsersRequest) -> ListUsersResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListUsers", resource_arn(account, "user", "", request.path_prefix))
    users = ctx.runtime.store.users.list(account, request.path_prefix)
    page = paginate(users, request.marker, request.max_items, key=lambda u: u.name.lower())
    return ListUsersResult([user_shape(u, full=False) for u in page.items], page.is_truncated, page.marker)


@action("iam", "UpdateUser", request=UpdateUserRequest, writes=True)
def update_user(ctx: ActionContext, request: UpdateUserRequest) -> None:
    new_name, new_path = request.new_user_name, request.new_path
    user = authorized_user(ctx, "UpdateUser", request.user_name)
    if new_name is not None or new_path is not None:
        # Renaming or moving also needs permission on the user's new ARN, as AWS checks.
        target = resource_arn(user.account_id, "user", new_name or user.name, new_path or user.path)
        if target != user_arn(user):
            authorize_iam(ctx, "UpdateUser", target)
    try:
        ctx.runtime.store.users.update(user.user_id, new_name=new_name, new_path=new_path)
    except NameTaken:
        raise EntityAlreadyExists(f"User with name {new_name} already exists.") from None


@action("iam", "DeleteUser", request=UserNameRequest, writes=True)
def delete_user(ctx: ActionContext, request: UserNameRequest) -> None:
    user = authorized_user(ctx, "DeleteUser", request.user_name)
    try:
        ctx.runtime.store.users.delete(user.user_id)
    except DeleteBlocked as blocked:
        raise DeleteConflict(DELETE_CONFLICT_MESSAGES[blocked.reason]) from None


@action("iam", "TagUser", request=TagUserRequest, writes=True)
def tag_user(ctx: ActionContext, request: TagUserRequest) -> None:
    user = authorized_user(ctx, "TagUser", request.user_name, tag_context(request.tags))
    add_tags(lambda new: ctx.runtime.store.users.tag(user.user_id, new), request.tags, TAG_QUOTA)


@action("iam", "UntagUser", request=UntagUserRequest, writes=True)
def untag_user(ctx: ActionContext, request: UntagUserRequest) -> None:
    user = authorized_user(ctx, "UntagUser", request.user_name, untag_context(request.tag_keys))
    ctx.runtime.store.users.untag(user.user_id, request.tag_keys)


@action("iam", "ListUserTags", request=ListUserTagsRequest)
def list_user_tags(ctx: ActionContext, request: ListUserTagsRequest) -> ListTagsResult:
    user = authorized_user(ctx, "ListUserTags", request.user_name)
    return tags_page(ctx.runtime.store.users.tags(user.user_id), request.marker, request.max_items)


@action("iam", "PutUserPermissionsBoundary", request=PutUserPermissionsBoundaryRequest, writes=True)
def put_user_permissions_boundary(ctx: ActionContext, request: PutUserPermissionsBoundaryRequest) -> None:
    boundary = request.permissions_boundary
    user = authorized_user(ctx, "PutUserPermissionsBoundary", request.user_name, boundary_context(boundary))
    check_boundary(ctx, boundary)
    ctx.runtime.store.users.set_permissions_boundary(user.user_id, boundary)


@action("iam", "DeleteUserPermissionsBoundary", request=DeleteUserPermissionsBoundaryRequest, writes=True)
def delete_user_permissions_boundary(ctx: ActionContext, request: DeleteUserPermissionsBoundaryRequest) -> None:
    user = authorized_user(ctx, "DeleteUserPermissionsBoundary", request.user_name, with_boundary=True)
    if user.permissions_boundary_arn is not None:
        ctx.runtime.store.users.set_permissions_boundary(user.user_id, None)
