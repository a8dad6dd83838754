"""Read-side queries that gather every policy document applying to a user or a role.

One call per entity returns what authorization needs: inline and attached managed policies (the
default version), those of the user's groups, the permissions boundary, and the entity's tags.
The access layer caches the result and parses each document once. AWS managed policies
(attached, as boundary or as a session's PolicyArns) come from the shipped catalogue
(:mod:`opensts.store.aws_policies`); one that the catalogue no longer holds applies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, select

from opensts.store import aws_policies, schema
from opensts.store.db import Database
from opensts.store.tags import read_tags


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    name: str  # inline: "user/NAME/POLICY"-style label; managed: the policy ARN
    document: str


@dataclass(frozen=True, slots=True)
class EntityPolicies:
    entity_id: str
    arn_path: str
    name: str
    identity: tuple[PolicyDocument, ...]
    boundary: PolicyDocument | None
    tags: tuple[tuple[str, str], ...]


class PrincipalPolicyRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def for_user(self, user_id: str) -> EntityPolicies | None:
        users = schema.users
        with self._engine.connect() as conn:
            user = conn.execute(select(users).where(users.c.user_id == user_id)).first()
            if user is None:
                return None
            docs = list(_inline(conn, "user", user_id, f"user/{user.name}"))
            docs += _attached(conn, "user", user_id)
            group_rows = conn.execute(
                select(schema.groups.c.group_id, schema.groups.c.name)
                .select_from(schema.group_members.join(schema.groups))
                .where(schema.group_members.c.user_id == user_id)
            ).all()
            for group in group_rows:
                docs += _inline(conn, "group", group.group_id, f"group/{group.name}")
                docs += _attached(conn, "group", group.group_id)
            boundary = _managed_by_arn(conn, user.permissions_boundary_arn)
            tags = _tags(conn, "user", user_id)
        return EntityPolicies(user_id, user.path, user.name, tuple(docs), boundary, tags)

    def for_role(self, role_id: str) -> EntityPolicies | None:
        roles = schema.roles
        with self._engine.connect() as conn:
            role = conn.execute(select(roles).where(roles.c.role_id == role_id)).first()
            if role is None:
                return None
            docs = list(_inline(conn, "role", role_id, f"role/{role.name}"))
            docs += _attached(conn, "role", role_id)
            boundary = _managed_by_arn(conn, role.permissions_boundary_arn)
            tags = _tags(conn, "role", role_id)
        return EntityPolicies(role_id, role.path, role.name, tuple(docs), boundary, tags)

    def for_group(self, group_id: str) -> tuple[PolicyDocument, ...] | None:
        """A group's inline and attached policies (what its members get from it); None if no such group."""
        groups = schema.groups
        with self._engine.connect() as conn:
            group = conn.execute(select(groups.c.name).where(groups.c.group_id == group_id)).first()
            if group is None:
                return None
            return tuple(_inline(conn, "group", group_id, f"group/{group.name}") + _attached(conn, "group", group_id))

    def managed_documents(self, arns: tuple[str, ...]) -> tuple[PolicyDocument | None, ...]:
        """Default-version documents of managed policies by ARN (None where no such policy)."""
        with self._engine.connect() as conn:
            return tuple(_managed_by_arn(conn, arn) for arn in arns)


def _inline(conn: Connection, owner_type: str, owner_id: str, label: str) -> list[PolicyDocument]:
    table = schema.inline_policies
    rows = conn.execute(
        select(table.c.name, table.c.document)
        .where(table.c.owner_type == owner_type, table.c.owner_id == owner_id)
        .order_by(table.c.name)
    ).all()
    return [PolicyDocument(f"{label}/{r.name}", r.document) for r in rows]


def _attached(conn: Connection, entity_type: str, entity_id: str) -> list[PolicyDocument]:
    mp, pv, att = schema.managed_policies, schema.policy_versions, schema.policy_attachments
    rows = conn.execute(
        select(mp.c.arn, pv.c.document)
        .select_from(
            att.join(mp, att.c.policy_id == mp.c.policy_id).join(
                pv, and_(pv.c.policy_id == mp.c.policy_id, pv.c.version_id == mp.c.default_version_id)
            )
        )
        .where(att.c.entity_type == entity_type, att.c.entity_id == entity_id)
        .order_by(mp.c.arn)
    ).all()
    aws = schema.aws_policy_attachments
    aws_arns = conn.execute(
        select(aws.c.policy_arn)
        .where(aws.c.entity_type == entity_type, aws.c.entity_id == entity_id)
        .order_by(aws.c.policy_arn)
    ).scalars().all()
    shipped = [aws_policies.find(arn) for arn in aws_arns]
    return [PolicyDocument(r.arn, r.document) for r in rows] + [
        PolicyDocument(p.arn, p.document) for p in shipped if p is not None
    ]


def _managed_by_arn(conn: Connection, arn: str | None) -> PolicyDocument | None:
    if not arn:
        return None
    if aws_policies.is_aws_policy_arn(arn):
        shipped = aws_policies.find(arn)
        return PolicyDocument(arn, shipped.document) if shipped else None
    mp, pv = schema.managed_policies, schema.policy_versions
    row = conn.execute(
        select(pv.c.document)
        .select_from(mp.join(pv, and_(pv.c.policy_id == mp.c.policy_id, pv.c.version_id == mp.c.default_version_id)))
        .where(mp.c.arn == arn)
    ).first()
    return PolicyDocument(arn, row.document) if row else None


def _tags(conn: Connection, entity_type: str, entity_id: str) -> tuple[tuple[str, str], ...]:
    return tuple(read_tags(conn, entity_type, entity_id))
