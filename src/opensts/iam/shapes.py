"""Result shapes several IAM areas share (botocore: AttachedPermissionsBoundary, AttachedPolicy,
RoleLastUsed, PolicyVersion). Each area's own results live in its module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
