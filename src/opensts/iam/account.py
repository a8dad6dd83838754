"""Account-level reads: GetAccountSummary (entity counts and quotas) and
GetAccountAuthorizationDetails (every user, group, role and managed policy with its policies, for
audits and backups). Both are authorized on ``*``: AWS defines no resource for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from opensts.actions import ActionContext, Params, action
from opensts.iam.shapes import AttachedPolicy, PermissionsBoundary, PolicyVersion, RoleLastUsed, boundary_shape
from opensts.iam.common import Tag, authorize_iam, caller_account, encode_policy_document, paginate, read_pagination
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.store import schema

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
def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def account_summary(ctx: ActionContext, account: str) -> dict[str, int]:
    with ctx.runtime.store.engine.connect() as conn:
        users = _count(conn, schema.users, schema.users.c.account_id == account)
        groups = _count(conn, schema.groups, schema.groups.c.account_id == account)
        roles = _count(conn, schema.roles, schema.roles.c.account_id == account)
        policies = _count(conn, schema.managed_policies, schema.managed_policies.c.account_id == account)
        mp, att = schema.managed_policies, schema.policy_attachments
        attachments = int(
            conn.execute(
                select(func.count()).select_from(att.join(mp, att.c.policy_id == mp.c.policy_id)).where(mp.c.account_id == account)
            ).scalar_one()
        )
        boundaries = 0
        for table in (schema.users, schema.roles):
            boundaries += _count(conn, table, table.c.account_id == account, table.c.permissions_boundary_arn.is_not(None))
        mfa = _count(conn, schema.mfa_devices, schema.mfa_devices.c.account_id == account)
        mfa_in_use = _count(
            conn, schema.mfa_devices, schema.mfa_devices.c.account_id == account, schema.mfa_devices.c.user_id.is_not(None)
        )
        providers = _count(conn, schema.oidc_providers, schema.oidc_providers.c.account_id == account) + _count(
            conn, schema.saml_providers, schema.saml_providers.c.account_id == account
        )
        keys = schema.access_keys
        root_keys = _count(conn, keys, keys.c.account_id == account, keys.c.user_id.is_(None))
    summary = {
        "Users": users,
        "Groups": groups,
        "Roles": roles,
        "Policies": policies,
        "PolicyVersionsInUse": attachments + boundaries,
        "MFADevices": mfa,
        "MFADevicesInUse": mfa_in_use,
        "Providers": providers,
        "AccountMFAEnabled": 0,
        "AccountAccessKeysPresent": 1 if root_keys else 0,
        "AccountPasswordPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "ServerCertificates": 0,
        "InstanceProfiles": 0,
        "GlobalEndpointTokenVersion": 1,
        **QUOTAS,
    }
    return summary


@action("iam", "GetAccountSummary")
def get_account_summary(ctx: ActionContext, params: Params) -> GetAccountSummaryResult:
    ParamReader(params).done()
    account = caller_account(ctx)
    authorize_iam(ctx, "GetAccountSummary", "*")
    return GetAccountSummaryResult(account_summary(ctx, account))


# --- GetAccountAuthorizationDetails -------------------------------------------------------------
def _inline(conn: Connection, owner_type: str, owner_ids: list[str]) -> dict[str, list[PolicyDetail]]:
    table = schema.inline_policies
    out: dict[str, list[PolicyDetail]] = {i: [] for i in owner_ids}
    if not owner_ids:
        return out
    rows = conn.execute(
        select(table.c.owner_id, table.c.name, table.c.document)
        .where(table.c.owner_type == owner_type, table.c.owner_id.in_(owner_ids))
        .order_by(table.c.owner_id, table.c.name)
    ).all()
    for r in rows:
        out[r.owner_id].append(PolicyDetail(r.name, encode_policy_document(r.document)))
    return out


def _attached(conn: Connection, entity_type: str, entity_ids: list[str]) -> dict[str, list[AttachedPolicy]]:
    att, mp = schema.policy_attachments, schema.managed_policies
    out: dict[str, list[AttachedPolicy]] = {i: [] for i in entity_ids}
    if not entity_ids:
        return out
    rows = conn.execute(
        select(att.c.entity_id, mp.c.name, mp.c.arn)
        .select_from(att.join(mp, att.c.policy_id == mp.c.policy_id))
        .where(att.c.entity_type == entity_type, att.c.entity_id.in_(entity_ids))
        .order_by(att.c.entity_id, mp.c.name_key)
    ).all()
    for r in rows:
        out[r.entity_id].append(AttachedPolicy(r.name, r.arn))
    return out


def _tags(conn: Connection, entity_type: str, entity_ids: list[str]) -> dict[str, list[Tag]]:
    table = schema.tags
    out: dict[str, list[Tag]] = {i: [] for i in entity_ids}
    if not entity_ids:
        return out
    rows = conn.execute(
        select(table.c.entity_id, table.c.key, table.c.value)
        .where(table.c.entity_type == entity_type, table.c.entity_id.in_(entity_ids))
        .order_by(table.c.entity_id, table.c.key_lower)
    ).all()
    for r in rows:
        out[r.entity_id].append(Tag(r.key, r.value))
    return out




def _entries(conn: Connection, account: str, kinds: set[str]) -> list[tuple[str, str]]:
    """(sort key, id) of every entity to list, in the order pages are cut: users, groups, roles,
    policies, each by name."""
    out: list[tuple[str, str]] = []
    plan = [
        ("1", "User", schema.users, "user_id"),
        ("2", "Group", schema.groups, "group_id"),
        ("3", "Role", schema.roles, "role_id"),
        ("4", "LocalManagedPolicy", schema.managed_policies, "policy_id"),
    ]
    for prefix, kind, table, id_column in plan:
        if kind not in kinds:
            continue
        rows = conn.execute(
            select(table.c.name_key, table.c[id_column]).where(table.c.account_id == account).order_by(table.c.name_key)
        ).all()
        out += [(f"{prefix}|{r[0]}", r[1]) for r in rows]
    return out


def _users(conn: Connection, account: str, ids: list[str]) -> list[UserDetail]:
    if not ids:
        return []
    users, gm, groups = schema.users, schema.group_members, schema.groups
    rows = conn.execute(select(users).where(users.c.user_id.in_(ids)).order_by(users.c.name_key)).all()
    memberships: dict[str, list[str]] = {i: [] for i in ids}
    for r in conn.execute(
        select(gm.c.user_id, groups.c.name)
        .select_from(gm.join(groups, gm.c.group_id == groups.c.group_id))
        .where(gm.c.user_id.in_(ids))
        .order_by(groups.c.name_key)
    ).all():
        memberships[r.user_id].append(r.name)
    inline, attached, tags = _inline(conn, "user", ids), _attached(conn, "user", ids), _tags(conn, "user", ids)
    return [
        UserDetail(
            r.path, r.name, r.user_id, arns.user_arn(account, r.name, r.path), r.created_at, inline[r.user_id],
            memberships[r.user_id], attached[r.user_id], boundary_shape(r.permissions_boundary_arn), tags[r.user_id],
        )
        for r in rows
    ]


def _groups(conn: Connection, account: str, ids: list[str]) -> list[GroupDetail]:
    if not ids:
        return []
    groups = schema.groups
    rows = conn.execute(select(groups).where(groups.c.group_id.in_(ids)).order_by(groups.c.name_key)).all()
    inline, attached = _inline(conn, "group", ids), _attached(conn, "group", ids)
    return [
        GroupDetail(
            r.path, r.name, r.group_id, arns.group_arn(account, r.name, r.path), r.created_at, inline[r.group_id],
            attached[r.group_id],
        )
        for r in rows
    ]


def _roles(conn: Connection, account: str, ids: list[str]) -> list[RoleDetail]:
    if not ids:
        return []
    roles = schema.roles
    rows = conn.execute(select(roles).where(roles.c.role_id.in_(ids)).order_by(roles.c.name_key)).all()
    inline, attached, tags = _inline(conn, "role", ids), _attached(conn, "role", ids), _tags(conn, "role", ids)
    return [
        RoleDetail(
            r.path, r.name, r.role_id, arns.role_arn(account, r.name, r.path), r.created_at,
            encode_policy_document(r.assume_role_policy), [], inline[r.role_id], attached[r.role_id],
            boundary_shape(r.permissions_boundary_arn), tags[r.role_id], RoleLastUsed(r.last_used_at, r.last_used_region),
        )
        for r in rows
    ]


def _policies(conn: Connection, ids: list[str]) -> list[ManagedPolicyDetail]:
    if not ids:
        return []
    mp, pv, att = schema.managed_policies, schema.policy_versions, schema.policy_attachments
    rows = conn.execute(select(mp).where(mp.c.policy_id.in_(ids)).order_by(mp.c.name_key)).all()
    versions: dict[str, list[Any]] = {i: [] for i in ids}
    for v in conn.execute(select(pv).where(pv.c.policy_id.in_(ids))).all():
        versions[v.policy_id].append(v)
    counts = dict(
        conn.execute(
            select(att.c.policy_id, func.count()).where(att.c.policy_id.in_(ids)).group_by(att.c.policy_id)
        ).all()
    )
    arns_of = [r.arn for r in rows]
    boundary_use: dict[str, int] = {}
    for table in (schema.users, schema.roles):
        for arn, n in conn.execute(
            select(table.c.permissions_boundary_arn, func.count())
            .where(table.c.permissions_boundary_arn.in_(arns_of))
            .group_by(table.c.permissions_boundary_arn)
        ).all():
            boundary_use[arn] = boundary_use.get(arn, 0) + int(n)
    out = []
    for r in rows:
        vs = sorted(versions[r.policy_id], key=lambda v: int(v.version_id.lstrip("v") or 0), reverse=True)
        out.append(
            ManagedPolicyDetail(
                r.name, r.policy_id, r.arn, r.path, r.default_version_id, int(counts.get(r.policy_id, 0)),
                boundary_use.get(r.arn, 0), True, r.description, r.created_at, r.updated_at,
                [
                    PolicyVersion(encode_policy_document(v.document), v.version_id, v.version_id == r.default_version_id, v.created_at)
                    for v in vs
                ],
            )
        )
    return out


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
    with ctx.runtime.store.engine.connect() as conn:
        entries = _entries(conn, account, kinds)
        page = paginate(entries, marker, max_items, key=lambda e: e[0])
        by_kind: dict[str, list[str]] = {"1": [], "2": [], "3": [], "4": []}
        for sort_key, entity_id in page.items:
            by_kind[sort_key[0]].append(entity_id)
        return GetAccountAuthorizationDetailsResult(
            _users(conn, account, by_kind["1"]),
            _groups(conn, account, by_kind["2"]),
            _roles(conn, account, by_kind["3"]),
            _policies(conn, by_kind["4"]),
            page.is_truncated,
            page.marker,
        )
