"""Account-wide reads for GetAccountSummary and GetAccountAuthorizationDetails.

Batched: one query per kind of detail for a whole page of entities, not one per entity. Returns
plain records; the IAM layer turns them into AWS's result shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from opensts.store import aws_policies, schema
from opensts.store.db import Database
from opensts.store.iam_policies import aws_attached_record, aws_usage, attachment_counts, boundary_counts
from opensts.store.tags import ROLE, USER, read_tags_of

Pairs = list[tuple[str, str]]

# The order GetAccountAuthorizationDetails pages through: users, groups, roles, policies, by name.
_PAGE_PLAN = (
    ("1", "User", schema.users, "user_id"),
    ("2", "Group", schema.groups, "group_id"),
    ("3", "Role", schema.roles, "role_id"),
    ("4", "LocalManagedPolicy", schema.managed_policies, "policy_id"),
)
# Then the AWS managed policies the account uses (attached or as a boundary), as AWS lists them.
_AWS_PAGE_PREFIX = "5"


@dataclass(frozen=True, slots=True)
class AccountCounts:
    users: int
    groups: int
    roles: int
    policies: int
    policy_versions_in_use: int  # attachments + boundaries
    mfa_devices: int
    mfa_devices_in_use: int
    providers: int
    root_access_keys: int
    instance_profiles: int = 0


@dataclass(frozen=True, slots=True)
class EntityReport:
    """A user, group or role with its inline policies (name, document), attached policies (name,
    ARN), tags (key, value), for users its groups, and for roles the instance profiles that hold
    them (``instance_profiles`` rows). ``row`` is the entity's table row."""

    row: Any
    inline: Pairs = field(default_factory=list)
    attached: Pairs = field(default_factory=list)
    tags: Pairs = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    instance_profiles: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AwsPolicyReport:
    policy: aws_policies.AwsPolicy
    attachment_count: int
    boundary_usage_count: int


@dataclass(frozen=True, slots=True)
class PolicyReport:
    row: Any
    versions: list[Any]  # policy_versions rows, newest first
    attachment_count: int
    boundary_usage_count: int


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _by_owner(conn: Connection, query: Any, ids: Iterable[str]) -> dict[str, Pairs]:
    out: dict[str, Pairs] = {i: [] for i in ids}
    for owner, a, b in conn.execute(query).all():
        out[owner].append((a, b))
    return out


class AccountReportRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def counts(self, account: str) -> AccountCounts:
        s = schema
        with self._engine.connect() as conn:
            attachments = int(
                conn.execute(
                    select(func.count())
                    .select_from(s.policy_attachments.join(s.managed_policies))
                    .where(s.managed_policies.c.account_id == account)
                ).scalar_one()
            ) + _count(conn, s.aws_policy_attachments, s.aws_policy_attachments.c.account_id == account)
            boundaries = sum(
                _count(conn, t, t.c.account_id == account, t.c.permissions_boundary_arn.is_not(None))
                for t in (s.users, s.roles)
            )
            return AccountCounts(
                users=_count(conn, s.users, s.users.c.account_id == account),
                groups=_count(conn, s.groups, s.groups.c.account_id == account),
                roles=_count(conn, s.roles, s.roles.c.account_id == account),
                policies=_count(conn, s.managed_policies, s.managed_policies.c.account_id == account),
                policy_versions_in_use=attachments + boundaries,
                mfa_devices=_count(conn, s.mfa_devices, s.mfa_devices.c.account_id == account),
                mfa_devices_in_use=_count(
                    conn, s.mfa_devices, s.mfa_devices.c.account_id == account, s.mfa_devices.c.user_id.is_not(None)
                ),
                providers=_count(conn, s.oidc_providers, s.oidc_providers.c.account_id == account)
                + _count(conn, s.saml_providers, s.saml_providers.c.account_id == account),
                root_access_keys=_count(
                    conn, s.access_keys, s.access_keys.c.account_id == account, s.access_keys.c.user_id.is_(None)
                ),
                instance_profiles=_count(conn, s.instance_profiles, s.instance_profiles.c.account_id == account),
            )

    def page_keys(self, account: str, kinds: set[str]) -> list[tuple[str, str]]:
        """(sort key, id) of every entity of the given kinds, in page order."""
        out: list[tuple[str, str]] = []
        with self._engine.connect() as conn:
            for prefix, kind, table, id_column in _PAGE_PLAN:
                if kind in kinds:
                    rows = conn.execute(
                        select(table.c.name_key, table.c[id_column])
                        .where(table.c.account_id == account)
                        .order_by(table.c.name_key)
                    ).all()
                    out += [(f"{prefix}|{r[0]}", r[1]) for r in rows]
            if "AWSManagedPolicy" in kinds:
                attachments, boundaries = aws_usage(conn, account)
                used = sorted(set(attachments) | set(boundaries))
                out += sorted((f"{_AWS_PAGE_PREFIX}|{aws_attached_record(arn).name.lower()}|{arn}", arn) for arn in used)
        return out

    def aws_policies(self, account: str, arns: list[str]) -> list[AwsPolicyReport]:
        """The AWS managed policies named (those the catalogue holds), with their use in the account."""
        if not arns:
            return []
        with self._engine.connect() as conn:
            attachments, boundaries = aws_usage(conn, account, arns)
        found = [aws_policies.find(arn) for arn in arns]
        return [
            AwsPolicyReport(p, attachments.get(p.arn, 0), boundaries.get(p.arn, 0)) for p in found if p is not None
        ]

    def users(self, ids: list[str]) -> list[EntityReport]:
        if not ids:
            return []
        users, gm, groups = schema.users, schema.group_members, schema.groups
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).where(users.c.user_id.in_(ids)).order_by(users.c.name_key)).all()
            memberships: dict[str, list[str]] = {i: [] for i in ids}
            for r in conn.execute(
                select(gm.c.user_id, groups.c.name)
                .select_from(gm.join(groups, gm.c.group_id == groups.c.group_id))
                .where(gm.c.user_id.in_(ids))
                .order_by(groups.c.name_key)
            ).all():
                memberships[r.user_id].append(r.name)
            inline, attached = _inline(conn, "user", ids), _attached(conn, "user", ids)
            tags = read_tags_of(conn, USER, ids)
        return [
            EntityReport(r, inline[r.user_id], attached[r.user_id], tags[r.user_id], memberships[r.user_id]) for r in rows
        ]

    def groups(self, ids: list[str]) -> list[EntityReport]:
        if not ids:
            return []
        groups = schema.groups
        with self._engine.connect() as conn:
            rows = conn.execute(select(groups).where(groups.c.group_id.in_(ids)).order_by(groups.c.name_key)).all()
            inline, attached = _inline(conn, "group", ids), _attached(conn, "group", ids)
        return [EntityReport(r, inline[r.group_id], attached[r.group_id]) for r in rows]

    def roles(self, ids: list[str]) -> list[EntityReport]:
        if not ids:
            return []
        roles = schema.roles
        with self._engine.connect() as conn:
            rows = conn.execute(select(roles).where(roles.c.role_id.in_(ids)).order_by(roles.c.name_key)).all()
            inline, attached = _inline(conn, "role", ids), _attached(conn, "role", ids)
            tags = read_tags_of(conn, ROLE, ids)
            profiles: dict[str, list[Any]] = {i: [] for i in ids}
            ip, links = schema.instance_profiles, schema.instance_profile_roles
            for p in conn.execute(
                select(links.c.role_id, ip)
                .select_from(links.join(ip, links.c.instance_profile_id == ip.c.instance_profile_id))
                .where(links.c.role_id.in_(ids))
                .order_by(ip.c.name_key)
            ).all():
                profiles[p.role_id].append(p)
        return [
            EntityReport(r, inline[r.role_id], attached[r.role_id], tags[r.role_id], instance_profiles=profiles[r.role_id])
            for r in rows
        ]

    def policies(self, ids: list[str]) -> list[PolicyReport]:
        if not ids:
            return []
        mp, pv = schema.managed_policies, schema.policy_versions
        with self._engine.connect() as conn:
            rows = conn.execute(select(mp).where(mp.c.policy_id.in_(ids)).order_by(mp.c.name_key)).all()
            versions: dict[str, list[Any]] = {i: [] for i in ids}
            for v in conn.execute(select(pv).where(pv.c.policy_id.in_(ids))).all():
                versions[v.policy_id].append(v)
            counts = attachment_counts(conn, ids)
            boundary_use = boundary_counts(conn, [r.arn for r in rows])
        return [
            PolicyReport(
                r,
                sorted(versions[r.policy_id], key=lambda v: int(v.version_id.lstrip("v") or 0), reverse=True),
                int(counts.get(r.policy_id, 0)),
                boundary_use.get(r.arn, 0),
            )
            for r in rows
        ]


def _inline(conn: Connection, owner_type: str, ids: list[str]) -> dict[str, Pairs]:
    t = schema.inline_policies
    query = (
        select(t.c.owner_id, t.c.name, t.c.document)
        .where(t.c.owner_type == owner_type, t.c.owner_id.in_(ids))
        .order_by(t.c.owner_id, t.c.name)
    )
    return _by_owner(conn, query, ids)


def _attached(conn: Connection, entity_type: str, ids: list[str]) -> dict[str, Pairs]:
    att, mp = schema.policy_attachments, schema.managed_policies
    query = (
        select(att.c.entity_id, mp.c.name, mp.c.arn)
        .select_from(att.join(mp, att.c.policy_id == mp.c.policy_id))
        .where(att.c.entity_type == entity_type, att.c.entity_id.in_(ids))
        .order_by(att.c.entity_id, mp.c.name_key)
    )
    out = _by_owner(conn, query, ids)
    aws = schema.aws_policy_attachments
    for owner, arn in conn.execute(
        select(aws.c.entity_id, aws.c.policy_arn).where(aws.c.entity_type == entity_type, aws.c.entity_id.in_(ids))
    ).all():
        out[owner].append((aws_attached_record(arn).name, arn))
    for pairs in out.values():
        pairs.sort(key=lambda pair: (pair[0].lower(), pair[1]))
    return out
