"""Account-level reads: GetAccountSummary (entity counts and quotas) and
GetAccountAuthorizationDetails (every user, group, role and managed policy with its policies, for
audits and backups), as in
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html and
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html.
Both are authorized on ``*``: AWS defines no resource for them.

Deviations from AWS, because OpenSTS has no such things: the summary counts no server
certificates, signing certificates or root password/MFA. Each role's ``InstanceProfileList``
holds the instance profiles the role is in, each with its ``Roles`` (that role) and without tags.

AWS managed policies (``AWSManagedPolicy``) are listed as AWS lists them: only those the account
uses (attached to a user, group or role, or a permissions boundary), after its own policies, each
with its one shipped version (the default; docs/iam/aws-managed-policies.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opensts.actions import ActionContext, action
from opensts.fields import NoParameters, custom
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, encode_policy_document
from opensts.iam.pagination import paginate
from opensts.iam.shapes import (
    AttachedPolicy,
    InstanceProfile,
    PermissionsBoundary,
    PolicyVersion,
    RoleLastUsed,
    boundary_shape,
    instance_profile_shape,
    role_shape,
)
from opensts.iam.tagging import Tag
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.store.iam_instance_profiles import profile_record
from opensts.store.iam_reports import AwsPolicyReport, EntityReport, PolicyReport
from opensts.store.iam_roles import role_record

ENTITY_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")

# AWS's default quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
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


def read_filters(reader: ParamReader) -> list[str]:
    """``Filter.member.N``: each one of :data:`ENTITY_FILTERS` (``EntityType`` in botocore's model)."""
    filters = reader.list("Filter")
    for i, item in enumerate(filters, start=1):
        if item not in ENTITY_FILTERS:
            reader.fail(item, f"filter.{i}.member", f"Member must satisfy enum value set: [{', '.join(ENTITY_FILTERS)}]")
    return filters


# --- Requests and results -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class GetAccountAuthorizationDetailsRequest:
    filter: list[str] = custom(read_filters, default=[])  # empty: every kind
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


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
    instance_profile_list: list[InstanceProfile]
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
        "AccountSigningCertificatesPresent": 1 if ctx.runtime.store.user_credentials.certificates(account, None) else 0,
        "ServerCertificates": len(ctx.runtime.store.server_certificates.list(account)),
        "InstanceProfiles": counts.instance_profiles,
        # SetSecurityTokenServicePreferences' choice, reported back as AWS does (1 unless v2Token).
        "GlobalEndpointTokenVersion": 2 if ctx.runtime.store.account_settings.global_endpoint_token_version(account) == "v2Token" else 1,
        **QUOTAS,
    }


@action("iam", "GetAccountSummary", request=NoParameters)
def get_account_summary(ctx: ActionContext, request: NoParameters) -> GetAccountSummaryResult:
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
    # The profiles that hold this role hold only it (one role per profile).
    role = role_shape(role_record(r), full=False)
    profiles = [instance_profile_shape(profile_record(p), [role]) for p in report.instance_profiles]
    return RoleDetail(
        r.path, r.name, r.role_id, arns.role_arn(account, r.name, r.path), r.created_at,
        encode_policy_document(r.assume_role_policy), profiles, _policy_list(report.inline),
        _attached_list(report.attached),
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


def _aws_policy_detail(report: AwsPolicyReport) -> ManagedPolicyDetail:
    p = report.policy
    # The source keeps no version dates: the policy's UpdateDate is when its default version became so.
    version = PolicyVersion(encode_policy_document(p.document), p.default_version_id, True, p.updated_at)
    return ManagedPolicyDetail(
        p.name, p.policy_id, p.arn, p.path, p.default_version_id, report.attachment_count,
        report.boundary_usage_count, True, None, p.created_at, p.updated_at, [version],
    )


@action("iam", "GetAccountAuthorizationDetails", request=GetAccountAuthorizationDetailsRequest)
def get_account_authorization_details(
    ctx: ActionContext, request: GetAccountAuthorizationDetailsRequest
) -> GetAccountAuthorizationDetailsResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "GetAccountAuthorizationDetails", "*")
    kinds = set(request.filter) if request.filter else set(ENTITY_FILTERS)
    reports = ctx.runtime.store.reports
    page = paginate(reports.page_keys(account, kinds), request.marker, request.max_items, key=lambda e: e[0])
    by_kind: dict[str, list[str]] = {"1": [], "2": [], "3": [], "4": [], "5": []}
    for sort_key, entity_id in page.items:
        by_kind[sort_key[0]].append(entity_id)
    return GetAccountAuthorizationDetailsResult(
        [_user_detail(account, r) for r in reports.users(by_kind["1"])],
        [_group_detail(account, r) for r in reports.groups(by_kind["2"])],
        [_role_detail(account, r) for r in reports.roles(by_kind["3"])],
        [_policy_detail(r) for r in reports.policies(by_kind["4"])]
        + [_aws_policy_detail(r) for r in reports.aws_policies(account, by_kind["5"])],
        page.is_truncated,
        page.marker,
    )
