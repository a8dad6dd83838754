"""Inline policies: Put/Get/List/Delete{User,Role,Group}Policy.

The three families behave alike; one implementation per operation serves users, roles and groups
(``OwnerKind``), while each action keeps its own request type, as its name parameter differs
(``UserName`` 1-128, ``RoleName`` 1-64, ``GroupName`` 1-128 characters). Every action authorizes
``iam:ACTION`` on the owner's ARN, with a user's or role's permissions boundary as
``iam:PermissionsBoundary``, before it says whether the owner exists
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html and the pages beside it).

Each entity's inline policies together may not exceed AWS's quota, counted in characters without
whitespace: users 2,048, roles 10,240, groups 5,120 (LimitExceeded "Maximum policy size of 2048
bytes exceeded for user NAME", as AWS words it;
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).

A service-linked role's inline policies are its service's: Put/DeleteRolePolicy on one are
UnmodifiableEntity (``entities.refuse_protected_owner``).
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import LimitExceeded, NoSuchEntity
from opensts.iam import fields
from opensts.iam.common import caller_account, encode_policy_document, validate_policy_document
from opensts.iam.entities import GROUP, ROLE, USER, OwnerKind, authorized_owner, no_such_owner, refuse_protected_owner
from opensts.iam.pagination import paginate
from opensts.policy import policy_size


# --- Requests (botocore: PutUserPolicyRequest, ...) ---------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class PutUserPolicyRequest:
    user_name: str = fields.user_name()
    policy_name: str = fields.policy_name()
    policy_document: str = fields.policy_document()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetUserPolicyRequest:
    user_name: str = fields.user_name()
    policy_name: str = fields.policy_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListUserPoliciesRequest:
    user_name: str = fields.user_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteUserPolicyRequest:
    user_name: str = fields.user_name()
    policy_name: str = fields.policy_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class PutRolePolicyRequest:
    role_name: str = fields.role_name()
    policy_name: str = fields.policy_name()
    policy_document: str = fields.policy_document()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetRolePolicyRequest:
    role_name: str = fields.role_name()
    policy_name: str = fields.policy_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRolePoliciesRequest:
    role_name: str = fields.role_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRolePolicyRequest:
    role_name: str = fields.role_name()
    policy_name: str = fields.policy_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class PutGroupPolicyRequest:
    group_name: str = fields.group_name()
    policy_name: str = fields.policy_name()
    policy_document: str = fields.policy_document()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetGroupPolicyRequest:
    group_name: str = fields.group_name()
    policy_name: str = fields.policy_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListGroupPoliciesRequest:
    group_name: str = fields.group_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteGroupPolicyRequest:
    group_name: str = fields.group_name()
    policy_name: str = fields.policy_name()


# --- Results ------------------------------------------------------------------------------------
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
    """List{User,Role,Group}Policies."""

    policy_names: list[str]
    is_truncated: bool
    marker: str | None = None


# --- One implementation per operation -------------------------------------------------------------
def no_such_policy(kind: OwnerKind, policy_name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind.entity_type} policy with name {policy_name} cannot be found.")


def _put(ctx: ActionContext, kind: OwnerKind, name: str, policy_name: str, document: str) -> None:
    owner = authorized_owner(ctx, kind, f"Put{kind.label}Policy", name)
    refuse_protected_owner(kind, owner)
    validate_policy_document(document, "identity")
    outcome, _ = ctx.runtime.store.inline_policies.put(
        kind.entity_type, caller_account(ctx), owner.name, policy_name, document,
        size_of=policy_size, max_total=kind.max_total,
    )
    if outcome == "missing":  # deleted since it was looked up
        raise no_such_owner(kind, name)
    if outcome == "too_large":
        raise LimitExceeded(
            f"Maximum policy size of {kind.max_total} bytes exceeded for {kind.entity_type} {owner.name}"
        )


def _get(ctx: ActionContext, kind: OwnerKind, name: str, policy_name: str) -> tuple[str, str, str]:
    """(owner's name as stored, policy name, URL-encoded document)."""
    owner = authorized_owner(ctx, kind, f"Get{kind.label}Policy", name)
    found, document = ctx.runtime.store.inline_policies.get(kind.entity_type, caller_account(ctx), owner.name, policy_name)
    if found is None:
        raise no_such_owner(kind, name)
    if document is None:
        raise no_such_policy(kind, policy_name)
    return found.name, policy_name, encode_policy_document(document)


def _list(ctx: ActionContext, kind: OwnerKind, name: str, marker: str | None, max_items: int) -> ListPolicyNamesResult:
    owner = authorized_owner(ctx, kind, f"List{kind.label}Policies", name)
    names = ctx.runtime.store.inline_policies.list(kind.entity_type, caller_account(ctx), owner.name)
    if names is None:
        raise no_such_owner(kind, name)
    page = paginate(names, marker, max_items)
    return ListPolicyNamesResult(page.items, page.is_truncated, page.marker)


def _delete(ctx: ActionContext, kind: OwnerKind, name: str, policy_name: str) -> None:
    owner = authorized_owner(ctx, kind, f"Delete{kind.label}Policy", name)
    refuse_protected_owner(kind, owner)
    outcome = ctx.runtime.store.inline_policies.delete(kind.entity_type, caller_account(ctx), owner.name, policy_name)
    if outcome == "missing_owner":
        raise no_such_owner(kind, name)
    if outcome == "missing":
        raise no_such_policy(kind, policy_name)


# --- Users ------------------------------------------------------------------------------------
@action("iam", "PutUserPolicy", request=PutUserPolicyRequest, writes=True)
def put_user_policy(ctx: ActionContext, request: PutUserPolicyRequest) -> None:
    _put(ctx, USER, request.user_name, request.policy_name, request.policy_document)


@action("iam", "GetUserPolicy", request=GetUserPolicyRequest)
def get_user_policy(ctx: ActionContext, request: GetUserPolicyRequest) -> GetUserPolicyResult:
    return GetUserPolicyResult(*_get(ctx, USER, request.user_name, request.policy_name))


@action("iam", "ListUserPolicies", request=ListUserPoliciesRequest)
def list_user_policies(ctx: ActionContext, request: ListUserPoliciesRequest) -> ListPolicyNamesResult:
    return _list(ctx, USER, request.user_name, request.marker, request.max_items)


@action("iam", "DeleteUserPolicy", request=DeleteUserPolicyRequest, writes=True)
def delete_user_policy(ctx: ActionContext, request: DeleteUserPolicyRequest) -> None:
    _delete(ctx, USER, request.user_name, request.policy_name)


# --- Roles ------------------------------------------------------------------------------------
@action("iam", "PutRolePolicy", request=PutRolePolicyRequest, writes=True)
def put_role_policy(ctx: ActionContext, request: PutRolePolicyRequest) -> None:
    _put(ctx, ROLE, request.role_name, request.policy_name, request.policy_document)


@action("iam", "GetRolePolicy", request=GetRolePolicyRequest)
def get_role_policy(ctx: ActionContext, request: GetRolePolicyRequest) -> GetRolePolicyResult:
    return GetRolePolicyResult(*_get(ctx, ROLE, request.role_name, request.policy_name))


@action("iam", "ListRolePolicies", request=ListRolePoliciesRequest)
def list_role_policies(ctx: ActionContext, request: ListRolePoliciesRequest) -> ListPolicyNamesResult:
    return _list(ctx, ROLE, request.role_name, request.marker, request.max_items)


@action("iam", "DeleteRolePolicy", request=DeleteRolePolicyRequest, writes=True)
def delete_role_policy(ctx: ActionContext, request: DeleteRolePolicyRequest) -> None:
    _delete(ctx, ROLE, request.role_name, request.policy_name)


# --- Groups -----------------------------------------------------------------------------------
@action("iam", "PutGroupPolicy", request=PutGroupPolicyRequest, writes=True)
def put_group_policy(ctx: ActionContext, request: PutGroupPolicyRequest) -> None:
    _put(ctx, GROUP, request.group_name, request.policy_name, request.policy_document)


@action("iam", "GetGroupPolicy", request=GetGroupPolicyRequest)
def get_group_policy(ctx: ActionContext, request: GetGroupPolicyRequest) -> GetGroupPolicyResult:
    return GetGroupPolicyResult(*_get(ctx, GROUP, request.group_name, request.policy_name))


@action("iam", "ListGroupPolicies", request=ListGroupPoliciesRequest)
def list_group_policies(ctx: ActionContext, request: ListGroupPoliciesRequest) -> ListPolicyNamesResult:
    return _list(ctx, GROUP, request.group_name, request.marker, request.max_items)


@action("iam", "DeleteGroupPolicy", request=DeleteGroupPolicyRequest, writes=True)
def delete_group_policy(ctx: ActionContext, request: DeleteGroupPolicyRequest) -> None:
    _delete(ctx, GROUP, request.group_name, request.policy_name)
