"""Finding the IAM entity an action names, the way every IAM action must: authorize first, then say
whether it exists.

AWS authorizes ``iam:ACTION`` on the entity's ARN before it reveals whether the entity exists, so a
caller without permission learns nothing about which users, roles or groups there are
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). Each
``authorized_*`` lookup below does exactly that: the ARN has the entity's real path when it exists
(policies conditioned on paths hold) and the default path when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensts.actions import ActionContext
from opensts.errors import InvalidInput, NoSuchEntity, UnmodifiableEntity, ValidationError
from opensts.iam.common import authorize_iam, boundary_context, caller_account, resource_arn
from opensts.identity import arn as arns
from opensts.identity.principal import PrincipalKind
from opensts.policy import GROUP_INLINE_POLICIES_MAX_SIZE, ROLE_INLINE_POLICIES_MAX_SIZE, USER_INLINE_POLICIES_MAX_SIZE
from opensts.store import aws_policies
from opensts.store.iam_groups import GroupRecord
from opensts.store.iam_policies import EntityRef
from opensts.store.iam_roles import RoleRecord
from opensts.store.iam_users import UserRecord

NON_USER_CREDENTIALS = "Must specify userName when calling with non-User credentials"

# DeleteUser/DeleteGroup/DeleteRole/DeleteInstanceProfile refusals, by what still hangs on the entity.
DELETE_CONFLICT_MESSAGES = {
    "login_profile": "Cannot delete entity, must delete login profile first.",
    "access_keys": "Cannot delete entity, must delete access keys first.",
    "signing_certificates": "Cannot delete entity, must delete signing certificates first.",
    "ssh_public_keys": "Cannot delete entity, must delete SSH public keys first.",
    "service_specific_credentials": "Cannot delete entity, must delete service-specific credentials first.",
    "policies": "Cannot delete entity, must delete policies first.",
    "attached_policies": "Cannot delete entity, must detach all policies first.",
    "mfa_devices": "Cannot delete entity, must delete MFA device first.",
    "groups": "Cannot delete entity, must remove users from group first.",
    "instance_profiles": "Cannot delete entity, must remove roles from instance profile first.",
}


# --- Users ---------------------------------------------------------------------------------------
def user_arn(user: UserRecord) -> str:
    return arns.user_arn(user.account_id, user.name, user.path)


def no_such_user(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


def authorized_user(
    ctx: ActionContext, action_name: str, name: str, context: dict[str, Any] | None = None, *, with_boundary: bool = False
) -> UserRecord:
    """The user ``name``, once ``iam:ACTION`` on its ARN is allowed; NoSuchEntity if it is missing.

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


# --- Roles ---------------------------------------------------------------------------------------
def no_such_role(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


def authorized_role(
    ctx: ActionContext,
    action_name: str,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    with_boundary: bool = False,
) -> RoleRecord:
    """The role ``name``, once ``iam:ACTION`` on its ARN is allowed; NoSuchEntity if it is missing.

    ``with_boundary``: the role's current boundary is the action's ``iam:PermissionsBoundary``."""
    account = caller_account(ctx)
    role = ctx.runtime.store.roles.get(account, name)
    resource = role.arn if role else resource_arn(account, "role", name)
    if with_boundary and role is not None:
        context = {**(context or {}), **boundary_context(role.permissions_boundary_arn)}
    authorize_iam(ctx, action_name, resource, context)
    if role is None:
        raise no_such_role(name)
    return role


# Service-linked roles live under this path, which CreateRole refuses (iam/service_linked_roles.py).
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/"


def is_service_linked(path: str) -> bool:
    return path.startswith(SERVICE_LINKED_ROLE_PATH)


def refuse_protected_role(name: str, path: str) -> None:
    """UnmodifiableEntity, in AWS's words, if the role is service-linked: only its service may change
    its trust, its policies, its boundary, or delete it (DeleteServiceLinkedRole does that here).
    Called by every action that changes a role, after authorization and the existence check."""
    if is_service_linked(path):
        raise UnmodifiableEntity(
            f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
        )


def refuse_protected_owner(kind: OwnerKind, owner: EntityRef) -> None:
    """refuse_protected_role for the policy actions, which serve users, roles and groups alike."""
    if kind.entity_type == "role":
        refuse_protected_role(owner.name, owner.path)


# --- Groups --------------------------------------------------------------------------------------
def group_arn(group: GroupRecord) -> str:
    return arns.group_arn(group.account_id, group.name, group.path)


def no_such_group(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The group with name {name} cannot be found.")


def authorized_group(ctx: ActionContext, action_name: str, name: str) -> GroupRecord:
    """The group ``name``, once ``iam:ACTION`` on its ARN is allowed; NoSuchEntity if it is missing."""
    account = caller_account(ctx)
    group = ctx.runtime.store.groups.get(account, name)
    authorize_iam(ctx, action_name, group_arn(group) if group else resource_arn(account, "group", name))
    if group is None:
        raise no_such_group(name)
    return group


# --- Users, roles or groups that hold policies -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class OwnerKind:
    """What can hold inline and attached policies: a user, a role or a group."""

    entity_type: str  # user | role | group
    label: str  # User | Role | Group: in the action names
    max_total: int  # the quota on the entity's inline policies together (characters, no whitespace)


USER = OwnerKind("user", "User", USER_INLINE_POLICIES_MAX_SIZE)
ROLE = OwnerKind("role", "Role", ROLE_INLINE_POLICIES_MAX_SIZE)
GROUP = OwnerKind("group", "Group", GROUP_INLINE_POLICIES_MAX_SIZE)


def no_such_owner(kind: OwnerKind, name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind.entity_type} with name {name} cannot be found.")


def authorized_owner(
    ctx: ActionContext, kind: OwnerKind, action_name: str, name: str, context: dict[str, Any] | None = None
) -> EntityRef:
    """The user, role or group ``name``, once ``iam:ACTION`` on its ARN is allowed (with ``context``
    and its current boundary as ``iam:PermissionsBoundary``); NoSuchEntity if it is missing."""
    account = caller_account(ctx)
    owner = ctx.runtime.store.inline_policies.owner(kind.entity_type, account, name)
    if owner is None:
        authorize_iam(ctx, action_name, resource_arn(account, kind.entity_type, name), context)
        raise no_such_owner(kind, name)
    resource = resource_arn(account, kind.entity_type, owner.name, owner.path)
    authorize_iam(ctx, action_name, resource, {**(context or {}), **boundary_context(owner.permissions_boundary_arn)})
    return owner


# --- Managed policies as boundaries and attachments ------------------------------------------------
def check_policy_arn(policy_arn: str) -> arns.Arn:
    """InvalidInput unless ``policy_arn`` is an IAM policy ARN (``arn:aws:iam::ACCT:policy/PATH/NAME``)."""
    try:
        parsed = arns.Arn.parse(policy_arn)
    except ValueError:
        raise InvalidInput(f"ARN {policy_arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type != "policy" or parsed.region or not parsed.resource_name:
        raise InvalidInput(f"ARN {policy_arn} is not valid.")
    return parsed


def check_boundary(ctx: ActionContext, policy_arn: str) -> None:
    """A permissions boundary must be a managed policy that exists in the caller's account, or an
    AWS managed policy (``arn:aws:iam::aws:policy/...``) that OpenSTS ships."""
    check_policy_arn(policy_arn)
    if aws_policies.is_aws_policy_arn(policy_arn):
        if aws_policies.find(policy_arn) is None:
            raise NoSuchEntity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")
        return
    if ctx.runtime.store.managed_policies.get(caller_account(ctx), policy_arn) is None:
        raise NoSuchEntity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")
