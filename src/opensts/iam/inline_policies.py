"""Inline policies: Put/Get/List/Delete{User,Role,Group}Policy.

Each entity's inline policies together may not exceed AWS's quota, counted in characters without
whitespace: users 2,048, roles 10,240, groups 5,120 (LimitExceeded "Maximum policy size of 2048
bytes exceeded for user NAME", as AWS words it).
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.access.authorize import authorize
from opensts.actions import ActionContext, Params, action
from opensts.errors import LimitExceeded, NoSuchEntity
from opensts.iam.common import (
    boundary_context,
    GROUP_NAME_PATTERN,
    POLICY_NAME_PATTERN,
    ROLE_NAME_PATTERN,
    USER_NAME_PATTERN,
    caller_account,
    encode_policy_document,
    paginate,
    read_pagination,
    read_policy_document,
    resource_arn,
    validate_policy_document,
)
from opensts.params import ParamReader
from opensts.policy import (
    GROUP_INLINE_POLICIES_MAX_SIZE,
    ROLE_INLINE_POLICIES_MAX_SIZE,
    USER_INLINE_POLICIES_MAX_SIZE,
    policy_size,
)
from opensts.store.iam_policies import EntityRef


@dataclass(frozen=True, slots=True)
class OwnerKind:
    entity_type: str  # user | role | group
    label: str  # User | Role | Group: the action names and the name parameter
    name_pattern: str
    name_max: int
    max_total: int

    @property
    def param(self) -> str:
        return f"{self.label}Name"


USER = OwnerKind("user", "User", USER_NAME_PATTERN, 128, USER_INLINE_POLICIES_MAX_SIZE)
ROLE = OwnerKind("role", "Role", ROLE_NAME_PATTERN, 64, ROLE_INLINE_POLICIES_MAX_SIZE)
GROUP = OwnerKind("group", "Group", GROUP_NAME_PATTERN, 128, GROUP_INLINE_POLICIES_MAX_SIZE)


@dataclass(frozen=True, slots=True)
class GetUserPolicyResult:
    user_name: str
    policy_name: str
    policy_document: str


@dataclass(frozen=True, slots=True)
class GetRolePolicyResult:
    role_name: str
    policy_name: str
    policy_document: str


@dataclass(frozen=True, slots=True)
class GetGroupPolicyResult:
    group_name: str
    policy_name: str
    policy_document: str


@dataclass(frozen=True, slots=True)
class ListPolicyNamesResult:
    policy_names: list[str]
    is_truncated: bool
    marker: str | None = None


def no_such_owner(kind: OwnerKind, name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind.entity_type} with name {name} cannot be found.")


def read_owner_name(reader: ParamReader, kind: OwnerKind) -> str:
    value = reader.string(kind.param, required=True, min_len=1, max_len=kind.name_max, pattern=kind.name_pattern)
    return value or ""


def read_policy_name(reader: ParamReader) -> str:
    return reader.string("PolicyName", required=True, min_len=1, max_len=128, pattern=POLICY_NAME_PATTERN) or ""


def authorized_owner(ctx: ActionContext, kind: OwnerKind, action_name: str, name: str) -> EntityRef:
    """Find the user/role/group, authorize on its ARN, then report it missing if it is."""
    account = caller_account(ctx)
    owner = ctx.runtime.store.inline_policies.owner(kind.entity_type, account, name)
    resource = resource_arn(account, kind.entity_type, owner.name, owner.path) if owner else resource_arn(
        account, kind.entity_type, name
    )
    # Policy changes on a user or role see its current boundary as iam:PermissionsBoundary.
    authorize(ctx, f"iam:{action_name}", resource, context=boundary_context(owner.permissions_boundary_arn) if owner else None)
    if owner is None:
        raise no_such_owner(kind, name)
    return owner


def _put(ctx: ActionContext, params: Params, kind: OwnerKind) -> None:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind)
    policy_name = read_policy_name(reader)
    document = read_policy_document(reader)
    if document is None:
        reader.fail(None, "policyDocument", "Member must not be null")
    reader.done()
    assert document is not None
    owner = authorized_owner(ctx, kind, f"Put{kind.label}Policy", name)
    validate_policy_document(document, "identity")
    outcome, _ = ctx.runtime.store.inline_policies.put(
        kind.entity_type, caller_account(ctx), owner.name, policy_name, document,
        size_of=policy_size, max_total=kind.max_total,
    )
    if outcome == "missing":
        raise no_such_owner(kind, name)
    if outcome == "too_large":
        raise LimitExceeded(
            f"Maximum policy size of {kind.max_total} bytes exceeded for {kind.entity_type} {owner.name}"
        )
    return None


def _get(ctx: ActionContext, params: Params, kind: OwnerKind) -> tuple[str, str, str]:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind)
    policy_name = read_policy_name(reader)
    reader.done()
    owner = authorized_owner(ctx, kind, f"Get{kind.label}Policy", name)
    found, document = ctx.runtime.store.inline_policies.get(kind.entity_type, caller_account(ctx), owner.name, policy_name)
    if found is None:
        raise no_such_owner(kind, name)
    if document is None:
        raise NoSuchEntity(f"The {kind.entity_type} policy with name {policy_name} cannot be found.")
    return found.name, policy_name, encode_policy_document(document)


def _list(ctx: ActionContext, params: Params, kind: OwnerKind) -> ListPolicyNamesResult:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind)
    marker, max_items = read_pagination(reader)
    reader.done()
    owner = authorized_owner(ctx, kind, f"List{kind.label}Policies", name)
    names = ctx.runtime.store.inline_policies.list(kind.entity_type, caller_account(ctx), owner.name)
    if names is None:
        raise no_such_owner(kind, name)
    page = paginate(names, marker, max_items)
    return ListPolicyNamesResult(page.items, page.is_truncated, page.marker)


def _delete(ctx: ActionContext, params: Params, kind: OwnerKind) -> None:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind)
    policy_name = read_policy_name(reader)
    reader.done()
    owner = authorized_owner(ctx, kind, f"Delete{kind.label}Policy", name)
    outcome = ctx.runtime.store.inline_policies.delete(kind.entity_type, caller_account(ctx), owner.name, policy_name)
    if outcome == "missing_owner":
        raise no_such_owner(kind, name)
    if outcome == "missing":
        raise NoSuchEntity(f"The {kind.entity_type} policy with name {policy_name} cannot be found.")
    return None


# --- Users ------------------------------------------------------------------------------------
@action("iam", "PutUserPolicy")
def put_user_policy(ctx: ActionContext, params: Params) -> None:
    return _put(ctx, params, USER)


@action("iam", "GetUserPolicy")
def get_user_policy(ctx: ActionContext, params: Params) -> GetUserPolicyResult:
    return GetUserPolicyResult(*_get(ctx, params, USER))


@action("iam", "ListUserPolicies")
def list_user_policies(ctx: ActionContext, params: Params) -> ListPolicyNamesResult:
    return _list(ctx, params, USER)


@action("iam", "DeleteUserPolicy")
def delete_user_policy(ctx: ActionContext, params: Params) -> None:
    return _delete(ctx, params, USER)


# --- Roles ------------------------------------------------------------------------------------
@action("iam", "PutRolePolicy")
def put_role_policy(ctx: ActionContext, params: Params) -> None:
    return _put(ctx, params, ROLE)


@action("iam", "GetRolePolicy")
def get_role_policy(ctx: ActionContext, params: Params) -> GetRolePolicyResult:
    return GetRolePolicyResult(*_get(ctx, params, ROLE))


@action("iam", "ListRolePolicies")
def list_role_policies(ctx: ActionContext, params: Params) -> ListPolicyNamesResult:
    return _list(ctx, params, ROLE)


@action("iam", "DeleteRolePolicy")
def delete_role_policy(ctx: ActionContext, params: Params) -> None:
    return _delete(ctx, params, ROLE)


# --- Groups -----------------------------------------------------------------------------------
@action("iam", "PutGroupPolicy")
def put_group_policy(ctx: ActionContext, params: Params) -> None:
    return _put(ctx, params, GROUP)


@action("iam", "GetGroupPolicy")
def get_group_policy(ctx: ActionContext, params: Params) -> GetGroupPolicyResult:
    return GetGroupPolicyResult(*_get(ctx, params, GROUP))


@action("iam", "ListGroupPolicies")
def list_group_policies(ctx: ActionContext, params: Params) -> ListPolicyNamesResult:
    return _list(ctx, params, GROUP)


@action("iam", "DeleteGroupPolicy")
def delete_group_policy(ctx: ActionContext, params: Params) -> None:
    return _delete(ctx, params, GROUP)
