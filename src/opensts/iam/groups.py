"""IAM groups: CreateGroup, GetGroup (with its users), ListGroups, UpdateGroup, DeleteGroup,
AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.

Names are unique per account case-insensitively. Every action authorizes ``iam:ACTION`` on the
group's ARN (with its real path when the group exists) before it says whether the group exists
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateGroup.html and the pages beside it).
Group policies (inline and attached, managed by the policy actions) apply to every member: the
store's per-user policy loader gathers them, and a membership change is an IAM write, so members'
cached policies are dropped as it commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import DeleteConflict, EntityAlreadyExists
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import (
    DELETE_CONFLICT_MESSAGES,
    authorized_group,
    authorized_user,
    group_arn,
    no_such_user,
)
from opensts.iam.pagination import paginate
from opensts.iam.shapes import Group, User, group_shape, user_shape
from opensts.identity import ids
from opensts.store.errors import DeleteBlocked, NameTaken


# --- Requests (botocore: CreateGroupRequest, ...) and results --------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateGroupRequest:
    group_name: str = fields.group_name()
    path: str = fields.path()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetGroupRequest:
    group_name: str = fields.group_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListGroupsRequest:
    path_prefix: str = fields.path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateGroupRequest:
    group_name: str = fields.group_name()
    new_path: str | None = fields.new_path()
    new_group_name: str | None = fields.group_name("NewGroupName", required=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupNameRequest:
    """DeleteGroup."""

    group_name: str = fields.group_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMemberRequest:
    """AddUserToGroup, RemoveUserFromGroup."""

    group_name: str = fields.group_name()
    user_name: str = fields.user_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListGroupsForUserRequest:
    user_name: str = fields.user_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True)
class CreateGroupResult:
    group: Group


@dataclass(frozen=True, slots=True)
class GetGroupResult:
    group: Group
    users: list[User]
    is_truncated: bool
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class ListGroupsResult:
    """ListGroups and ListGroupsForUser."""

    groups: list[Group]
    is_truncated: bool
    marker: str | None = None


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateGroup", request=CreateGroupRequest, writes=True)
def create_group(ctx: ActionContext, request: CreateGroupRequest) -> CreateGroupResult:
    name, path = request.group_name, request.path
    account = caller_account(ctx)
    authorize_iam(ctx, "CreateGroup", resource_arn(account, "group", name, path))
    try:
        group = ctx.runtime.store.groups.create(account, ids.new_group_id(), name, path)
    except NameTaken:
        raise EntityAlreadyExists(f"Group with name {name} already exists.") from None
    return CreateGroupResult(group_shape(group))


@action("iam", "GetGroup", request=GetGroupRequest)
def get_group(ctx: ActionContext, request: GetGroupRequest) -> GetGroupResult:
    group = authorized_group(ctx, "GetGroup", request.group_name)
    members = ctx.runtime.store.groups.members(group.group_id)
    page = paginate(members, request.marker, request.max_items, key=lambda u: u.name.lower())
    users = [user_shape(u, full=False) for u in page.items]
    return GetGroupResult(group_shape(group), users, page.is_truncated, page.marker)


@action("iam", "ListGroups", request=ListGroupsRequest)
def list_groups(ctx: ActionContext, request: ListGroupsRequest) -> ListGroupsResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListGroups", resource_arn(account, "group", "", request.path_prefix))
    groups = ctx.runtime.store.groups.list(account, request.path_prefix)
    page = paginate(groups, request.marker, request.max_items, key=lambda g: g.name.lower())
    return ListGroupsResult([group_shape(g) for g in page.items], page.is_truncated, page.marker)


@action("iam", "UpdateGroup", request=UpdateGroupRequest, writes=True)
def update_group(ctx: ActionContext, request: UpdateGroupRequest) -> None:
    new_name, new_path = request.new_group_name, request.new_path
    group = authorized_group(ctx, "UpdateGroup", request.group_name)
    # Renaming or moving also needs permission on the group's new ARN, as AWS checks.
    target = resource_arn(group.account_id, "group", new_name or group.name, new_path or group.path)
    if target != group_arn(group):
        authorize_iam(ctx, "UpdateGroup", target)
    try:
        ctx.runtime.store.groups.update(group.group_id, new_name=new_name, new_path=new_path)
    except NameTaken:
        raise EntityAlreadyExists(f"Group with name {new_name} already exists.") from None


@action("iam", "DeleteGroup", request=GroupNameRequest, writes=True)
def delete_group(ctx: ActionContext, request: GroupNameRequest) -> None:
    group = authorized_group(ctx, "DeleteGroup", request.group_name)
    try:
        ctx.runtime.store.groups.delete(group.group_id)
    except DeleteBlocked as blocked:
        raise DeleteConflict(DELETE_CONFLICT_MESSAGES[blocked.reason]) from None


@action("iam", "AddUserToGroup", request=GroupMemberRequest, writes=True)
def add_user_to_group(ctx: ActionContext, request: GroupMemberRequest) -> None:
    # Authorized on the group only, as AWS does (the resource of iam:AddUserToGroup is the group).
    group = authorized_group(ctx, "AddUserToGroup", request.group_name)
    user = ctx.runtime.store.users.get(group.account_id, request.user_name)
    if user is None:
        raise no_such_user(request.user_name)
    ctx.runtime.store.groups.add_member(group.group_id, user.user_id)


@action("iam", "RemoveUserFromGroup", request=GroupMemberRequest, writes=True)
def remove_user_from_group(ctx: ActionContext, request: GroupMemberRequest) -> None:
    group = authorized_group(ctx, "RemoveUserFromGroup", request.group_name)
    user = ctx.runtime.store.users.get(group.account_id, request.user_name)
    if user is None or not ctx.runtime.store.groups.remove_member(group.group_id, user.user_id):
        raise no_such_user(request.user_name)


@action("iam", "ListGroupsForUser", request=ListGroupsForUserRequest)
def list_groups_for_user(ctx: ActionContext, request: ListGroupsForUserRequest) -> ListGroupsResult:
    user = authorized_user(ctx, "ListGroupsForUser", request.user_name)
    groups = ctx.runtime.store.groups.groups_for_user(user.user_id)
    page = paginate(groups, request.marker, request.max_items, key=lambda g: g.name.lower())
    return ListGroupsResult([group_shape(g) for g in page.items], page.is_truncated, page.marker)
