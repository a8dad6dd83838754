"""IAM groups: CreateGroup, GetGroup (with its users), ListGroups, UpdateGroup, DeleteGroup,
AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.

Group policies (inline and attached, managed by the policy actions) apply to every member: the
store's per-user policy loader gathers them, and every membership change bumps the IAM change
counter so members' cached policies are reloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opensts.actions import ActionContext, Params, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, NoSuchEntity
from opensts.iam.common import (
    GROUP_NAME_PATTERN,
    PATH_PATTERN,
    authorize_iam,
    caller_account,
    paginate,
    read_pagination,
    read_path,
    read_path_prefix,
    resource_arn,
)
from opensts.iam.common import read_user_name
from opensts.iam.entities import DELETE_CONFLICT_MESSAGES, authorized_user
from opensts.iam.shapes import User, user_shape
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.params import ParamReader
from opensts.store.iam_groups import GroupRecord
from opensts.store.iam_users import DeleteBlocked, NameTaken


@dataclass(frozen=True, slots=True)
class Group:
    path: str
    group_name: str
    group_id: str
    arn: str
    create_date: datetime


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
    groups: list[Group]
    is_truncated: bool
    marker: str | None = None


ListGroupsForUserResult = ListGroupsResult


def group_arn(group: GroupRecord) -> str:
    return arns.group_arn(group.account_id, group.name, group.path)


def group_shape(group: GroupRecord) -> Group:
    return Group(group.path, group.name, group.group_id, group_arn(group), group.created_at)


def read_group_name(reader: ParamReader, name: str = "GroupName", *, required: bool = True) -> str | None:
    return reader.string(name, required=required, min_len=1, max_len=128, pattern=GROUP_NAME_PATTERN)


def no_such_group(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The group with name {name} cannot be found.")


def authorized_group(ctx: ActionContext, action_name: str, name: str) -> GroupRecord:
    """Look the group up, authorize on its ARN, then NoSuchEntity if it is missing."""
    account = caller_account(ctx)
    group = ctx.runtime.store.groups.get(account, name)
    authorize_iam(ctx, action_name, group_arn(group) if group else resource_arn(account, "group", name))
    if group is None:
        raise no_such_group(name)
    return group


@action("iam", "CreateGroup")
def create_group(ctx: ActionContext, params: Params) -> CreateGroupResult:
    reader = ParamReader(params)
    name = read_group_name(reader)
    path = read_path(reader)
    reader.done()
    assert name is not None
    account = caller_account(ctx)
    authorize_iam(ctx, "CreateGroup", resource_arn(account, "group", name, path))
    try:
        group = ctx.runtime.store.groups.create(account, ids.new_group_id(), name, path)
    except NameTaken:
        raise EntityAlreadyExists(f"Group with name {name} already exists.") from None
    return CreateGroupResult(group_shape(group))


@action("iam", "GetGroup")
def get_group(ctx: ActionContext, params: Params) -> GetGroupResult:
    reader = ParamReader(params)
    name = read_group_name(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    assert name is not None
    group = authorized_group(ctx, "GetGroup", name)
    members = ctx.runtime.store.groups.members(group.group_id)
    page = paginate(members, marker, max_items, key=lambda u: u.name.lower())
    users = [user_shape(u, full=False) for u in page.items]
    return GetGroupResult(group_shape(group), users, page.is_truncated, page.marker)


@action("iam", "ListGroups")
def list_groups(ctx: ActionContext, params: Params) -> ListGroupsResult:
    reader = ParamReader(params)
    prefix = read_path_prefix(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "ListGroups", resource_arn(account, "group", "", prefix))
    groups = ctx.runtime.store.groups.list(account, prefix)
    page = paginate(groups, marker, max_items, key=lambda g: g.name.lower())
    return ListGroupsResult([group_shape(g) for g in page.items], page.is_truncated, page.marker)


@action("iam", "UpdateGroup")
def update_group(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_group_name(reader)
    new_path = reader.string("NewPath", min_len=1, max_len=512, pattern=PATH_PATTERN)
    new_name = read_group_name(reader, "NewGroupName", required=False)
    reader.done()
    assert name is not None
    group = authorized_group(ctx, "UpdateGroup", name)
    target = resource_arn(group.account_id, "group", new_name or group.name, new_path or group.path)
    if target != group_arn(group):
        authorize_iam(ctx, "UpdateGroup", target)
    try:
        ctx.runtime.store.groups.update(group.group_id, new_name=new_name, new_path=new_path)
    except NameTaken:
        raise EntityAlreadyExists(f"Group with name {new_name} already exists.") from None
    return None


@action("iam", "DeleteGroup")
def delete_group(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_group_name(reader)
    reader.done()
    assert name is not None
    group = authorized_group(ctx, "DeleteGroup", name)
    try:
        ctx.runtime.store.groups.delete(group.group_id)
    except DeleteBlocked as blocked:
        raise DeleteConflict(DELETE_CONFLICT_MESSAGES[blocked.reason]) from None
    return None


@action("iam", "AddUserToGroup")
def add_user_to_group(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    group_name = read_group_name(reader)
    user_name = read_user_name(reader)
    reader.done()
    assert group_name is not None and user_name is not None
    group = authorized_group(ctx, "AddUserToGroup", group_name)
    user = ctx.runtime.store.users.get(group.account_id, user_name)
    if user is None:
        raise NoSuchEntity(f"The user with name {user_name} cannot be found.")
    ctx.runtime.store.groups.add_member(group.group_id, user.user_id)
    return None


@action("iam", "RemoveUserFromGroup")
def remove_user_from_group(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    group_name = read_group_name(reader)
    user_name = read_user_name(reader)
    reader.done()
    assert group_name is not None and user_name is not None
    group = authorized_group(ctx, "RemoveUserFromGroup", group_name)
    user = ctx.runtime.store.users.get(group.account_id, user_name)
    if user is None or not ctx.runtime.store.groups.remove_member(group.group_id, user.user_id):
        raise NoSuchEntity(f"The user with name {user_name} cannot be found.")
    return None


@action("iam", "ListGroupsForUser")
def list_groups_for_user(ctx: ActionContext, params: Params) -> ListGroupsResult:
    reader = ParamReader(params)
    user_name = read_user_name(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    assert user_name is not None
    user = authorized_user(ctx, "ListGroupsForUser", user_name)
    groups = ctx.runtime.store.groups.groups_for_user(user.user_id)
    page = paginate(groups, marker, max_items, key=lambda g: g.name.lower())
    return ListGroupsResult([group_shape(g) for g in page.items], page.is_truncated, page.marker)
