"""Result shapes several IAM areas share (botocore: User, Group, AttachedPermissionsBoundary,
AttachedPolicy, RoleLastUsed, PolicyVersion). Each area's own results live in its module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opensts.iam.tagging import Tag
from opensts.identity import arn as arns
from opensts.store.iam_groups import GroupRecord
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
