"""Account-level reads: GetAccountSummary (entity counts and quotas) and
GetAccountAuthorizationDetails (every user, group, role and managed policy with its policies, for
audits and backups). Both are authorized on ``*``: AWS defines no resource for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


from opensts.actions import ActionContext, Params, action
from opensts.iam.shapes import AttachedPolicy, PermissionsBoundary, PolicyVersion, RoleLastUsed, boundary_shape
from opensts.iam.common import Tag, authorize_iam, caller_account, encode_policy_document, paginate, read_pagination
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.store.iam_reports import EntityReport, PolicyReport

ENTITY_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")

# AWS's default quotas (IAM and STS quotas, IAM User Guide).
QUOTAS = {
    "UsersQuota": 5000,
    "GroupsQuota": 300,
    "RolesQuota": 1000,
    "PoliciesQuota": 1500,
    "InstanceProfilesQuota": 1000,
    "ServerCertificatesQuota": 20,
    "AccessKeysPerUserQuota": 2,
    "SigningCertificatesPerUserQuota": 2,
    "GroupsPerUserQuota": 10,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "VersionsPerPolicyQuota": 5,
    "PolicyVersionsInUseQuota": 10000,
    "PolicySizeQuota": 6144,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "AssumeRolePolicySizeQuota": 2048,
}


# --- Result shapes ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GetAccountSummaryResult:
    summary_map: dict[str, int]


@dataclass(frozen=True, slots=True)
class PolicyDetail:
    policy_name: str
    policy_document: str






@dataclass(frozen=True, slots=True)
class UserDetail:
    path: str
    user_name: str
    user_id: str
    arn: str
    create_date: datetime
    user_policy_list: list[PolicyDetail]
    group_list: list[str]
    attached_managed_policies: list[AttachedPolicy]
    permissions_boundary: PermissionsBoundary | None
    tags: list[Tag]


@dataclass(frozen=True, slots=True)
class GroupDetail:
    path: str
    group_name: str
    group_id: str
    arn: str
    create_date: datetime
    group_policy_list: list[PolicyDetail]
    attached_managed_policies: list[AttachedPolicy]




@dataclass(frozen=True, slots=True)
class RoleDetail:
    path: str
    role_name: str
    role_id: str
    arn: str
    create_date: datetime
    assume_role_policy_document: str
    instance_profile_list: list[Any]
    role_policy_list: list[PolicyDetail]
    attached_managed_policies: list[AttachedPolicy]
    permissions_boundary: PermissionsBoundary | None
    tags: list[Tag]
    role_last_used: RoleLastUsed




@dataclass(frozen=True, slots=True)
class ManagedPolicyDetail:
    policy_name: str
    policy_id: str
    arn: str
    path: str
    default_version_id: str
    attachment_count: int
    permissions_boundary_usage_count: int
    is_attachable: bool
    description: str | None
    create_date: datetime
    update_date: datetime
    policy_version_list: list[PolicyVersion]


@dataclass(frozen=True, slots=True)
class GetAccountAuthorizationDetailsResult:
    user_detail_list: list[UserDetail]
    group_detail_list: list[GroupDetail]
    role_detail_list: list[RoleDetail]
    policies: list[ManagedPolicyDetail]
    is_truncated: bool = False
    marker: str | None = None


# --- GetAccountSummary ----------------------------------------------------------------------------
def account_summary(ctx: ActionContext, account: str) -> dict[str, int]:
    counts = ctx.runtime.store.reports.counts(account)
    return {
        "Users": counts.users,
        "Groups": counts.groups,
        "Roles": counts.roles,
        "Policies": counts.policies,
        "PolicyVersionsInUse": counts.policy_versions_in_use,
        "MFADevices": counts.mfa_devices,
        "MFADevicesInUse": counts.mfa_devices_in_use,
        "Providers": counts.providers,
        "AccountMFAEnabled": 0,
        "AccountAccessKeysPresent": 1 if counts.root_access_keys else 0,
        "AccountPasswordPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "ServerCertificates": 0,
        "InstanceProfiles": 0,
        "GlobalEndpointTokenVersion": 1,
        **QUOTAS,
    }


@action("iam", "GetAccountSummary")
def get_account_summary(ctx: ActionContext, params: Params) -> GetAccountSummaryResult:
    ParamReader(params).done()
    account = caller_account(ctx)
    authorize_iam(ctx, "GetAccountSummary", "*")
    return GetAccountSummaryResult(account_summary(ctx, account))


# --- GetAccountAuthorizationDetails -------------------------------------------------------------
def _policy_list(pairs: list[tuple[str, str]]) -> list[PolicyDetail]:
    return [PolicyDetail(name, encode_policy_document(document)) for name, document in pairs]


def _attached_list(pairs: list[tuple[str, str]]) -> list[AttachedPolicy]:
    return [AttachedPolicy(name, arn) for name, arn in pairs]


def _user_detail(account: str, report: EntityReport) -> UserDetail:
    r = report.row
    return UserDetail(
        r.path, r.name, r.user_id, arns.user_arn(account, r.name, r.path), r.created_at, _policy_list(report.inline),
        report.groups, _attached_list(report.attached), boundary_shape(r.permissions_boundary_arn),
        [Tag(k, v) for k, v in report.tags],
    )


def _group_detail(account: str, report: EntityReport) -> GroupDetail:
    r = report.row
    return GroupDetail(
        r.path, r.name, r.group_id, arns.group_arn(account, r.name, r.path), r.created_at,
        _policy_list(report.inline), _attached_list(report.attached),
    )


def _role_detail(account: str, report: EntityReport) -> RoleDetail:
    r = report.row
    return RoleDetail(
        r.path, r.name, r.role_id, arns.role_arn(account, r.name, r.path), r.created_at,
        encode_policy_document(r.assume_role_policy), [], _policy_list(report.inline), _attached_list(report.attached),
        boundary_shape(r.permissions_boundary_arn), [Tag(k, v) for k, v in report.tags],
        RoleLastUsed(r.last_used_at, r.last_used_region),
    )


def _policy_detail(report: PolicyReport) -> ManagedPolicyDetail:
    r = report.row
    versions = [
        PolicyVersion(encode_policy_document(v.document), v.version_id, v.version_id == r.default_version_id, v.created_at)
        for v in report.versions
    ]
    return ManagedPolicyDetail(
        r.name, r.policy_id, r.arn, r.path, r.default_version_id, report.attachment_count,
        report.boundary_usage_count, True, r.description, r.created_at, r.updated_at, versions,
    )


@action("iam", "GetAccountAuthorizationDetails")
def get_account_authorization_details(ctx: ActionContext, params: Params) -> GetAccountAuthorizationDetailsResult:
    reader = ParamReader(params)
    filters = reader.list("Filter")
    for i, item in enumerate(filters, start=1):
        if item not in ENTITY_FILTERS:
            reader.fail(item, f"filter.{i}.member", f"Member must satisfy enum value set: [{', '.join(ENTITY_FILTERS)}]")
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize_iam(ctx, "GetAccountAuthorizationDetails", "*")
    kinds = set(filters) if filters else set(ENTITY_FILTERS)
    reports = ctx.runtime.store.reports
    page = paginate(reports.page_keys(account, kinds), marker, max_items, key=lambda e: e[0])
    by_kind: dict[str, list[str]] = {"1": [], "2": [], "3": [], "4": []}
    for sort_key, entity_id in page.items:
        by_kind[sort_key[0]].append(entity_id)
    return GetAccountAuthorizationDetailsResult(
        [_user_detail(account, r) for r in reports.users(by_kind["1"])],
        [_group_detail(account, r) for r in reports.groups(by_kind["2"])],
        [_role_detail(account, r) for r in reports.roles(by_kind["3"])],
        [_policy_detail(r) for r in reports.policies(by_kind["4"])],
        page.is_truncated,
        page.marker,
    )
