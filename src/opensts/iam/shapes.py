"""Result shapes several IAM areas share (botocore: User, Group, AttachedPermissionsBoundary,
AttachedPolicy, RoleLastUsed, PolicyVersion, Role, InstanceProfile). Each area's own results live in its module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opensts.iam.common import encode_policy_document
from opensts.iam.tagging import Tag
from opensts.identity import arn as arns
from opensts.store.iam_groups import GroupRecord
from opensts.store.iam_instance_profiles import InstanceProfileRecord
from opensts.store.iam_roles import RoleRecord
from opensts.store.iam_users import UserRecord

BOUNDARY_TYPE = "PermissionsBoundaryPolicy"


@dataclass(frozen=True, slots=True)
class PermissionsBoundary:
    permissions_boundary_type: str
    permissions_boundary_arn: str


def boundary_shape(policy_arn: str | None) -> PermissionsBoundary | None:
    return PermissionsBoundary(BOUNDARY_TYPE, policy_arn) if policy_arn else None


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    policy_name: str
    policy_arn: str


@dataclass(frozen=True, slots=True)
class RoleLastUsed:
    last_used_date: datetime | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    document: str | None  # left out of ListPolicyVersions, as AWS does
    version_id: str
    is_default_version: bool
    create_date: datetime


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


def user_shape(user: UserRecord, tags: list[tuple[str, str]] | None = None, *, full: bool = True) -> User:
    """The botocore ``User`` structure. ``full=False`` as in list calls: no boundary, no tags."""
    return User(
        path=user.path,
        user_name=user.name,
        user_id=user.user_id,
        arn=arns.user_arn(user.account_id, user.name, user.path),
        create_date=user.created_at,
        permissions_boundary=boundary_shape(user.permissions_boundary_arn) if full else None,
        tags=[Tag(k, v) for k, v in tags] if full and tags else None,
    )


@dataclass(frozen=True, slots=True)
class Group:
    path: str
    group_name: str
    group_id: str
    arn: str
    create_date: datetime


def group_shape(group: GroupRecord) -> Group:
    return Group(group.path, group.name, group.group_id, arns.group_arn(group.account_id, group.name, group.path),
                 group.created_at)


# A role's default MaxSessionDuration (CreateRole, CreateServiceLinkedRole).
DEFAULT_MAX_SESSION_DURATION = 3600


@dataclass(frozen=True, slots=True)
class Role:
    path: str
    role_name: str
    role_id: str
    arn: str
    create_date: datetime
    assume_role_policy_document: str
    description: str | None = None
    max_session_duration: int | None = None
    permissions_boundary: PermissionsBoundary | None = None
    tags: list[Tag] | None = None
    role_last_used: RoleLastUsed | None = None


@dataclass(frozen=True, slots=True)
class RoleResult:
    role: Role


def role_shape(
    role: RoleRecord,
    tags: list[tuple[str, str]] | None = None,
    *,
    full: bool = True,
    pending_use: tuple[datetime, str | None] | None = None,
    trust_policy: str | None = None,
) -> Role:
    """``full``: GetRole/CreateRole; ListRoles leaves out boundary, tags and last use, as AWS does.
    ``pending_use``: a (when, region) use this process saw but has not written yet.
    ``trust_policy``: the policy to show (principals that no longer exist appear as unique ids)."""
    last_used = RoleLastUsed(role.last_used_at, role.last_used_region)
    if pending_use is not None and (role.last_used_at is None or pending_use[0] > role.last_used_at):
        last_used = RoleLastUsed(pending_use[0].replace(microsecond=0), pending_use[1])
    return Role(
        path=role.path,
        role_name=role.name,
        role_id=role.role_id,
        arn=role.arn,
        create_date=role.created_at,
        assume_role_policy_document=encode_policy_document(trust_policy or role.assume_role_policy),
        description=role.description or None,
        max_session_duration=role.max_session_duration,
        permissions_boundary=boundary_shape(role.permissions_boundary_arn) if full else None,
        tags=[Tag(k, v) for k, v in tags] if full and tags else None,
        role_last_used=last_used if full else None,
    )


@dataclass(frozen=True, slots=True)
class InstanceProfile:
    path: str
    instance_profile_name: str
    instance_profile_id: str
    arn: str
    create_date: datetime
    roles: list[Role]
    tags: list[Tag] | None = None


def instance_profile_shape(
    profile: InstanceProfileRecord, roles: list[Role], tags: list[tuple[str, str]] | None = None
) -> InstanceProfile:
    return InstanceProfile(
        path=profile.path,
        instance_profile_name=profile.name,
        instance_profile_id=profile.instance_profile_id,
        arn=profile.arn,
        create_date=profile.created_at,
        roles=roles,
        tags=[Tag(k, v) for k, v in tags] if tags else None,
    )
