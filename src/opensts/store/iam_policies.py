"""Inline policies of users, roles and groups; customer managed policies, their versions,
attachments and tags.

Writes that check a quota (inline size per entity, versions per policy, policies attached per
entity) lock the owning row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises
writers with ``BEGIN IMMEDIATE``), so concurrent requests cannot exceed a quota together.

Layout shared with :mod:`opensts.store.principal_policies` (the read side for authorization):
``inline_policies.owner_type`` / ``policy_attachments.entity_type`` are ``user`` | ``role`` |
``group`` with the entity's id; a managed policy's effective document is the version named by
``managed_policies.default_version_id``.

AWS managed policies (``arn:aws:iam::aws:policy/...``) are not rows: they are the shipped catalogue
(:mod:`opensts.store.aws_policies`). Their attachments are rows of ``aws_policy_attachments`` (by
ARN, with the entity's account), and the repository below takes either kind of ARN: attach,
detach, the attached lists and the per-entity quota count both together.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import aws_policies, schema, tags as entity_tags
from opensts.store.errors import EntityExists
from opensts.store.meta import CountedWrites
from opensts.store.queries import under_path

POLICY_TAG_TYPE = entity_tags.POLICY

__all__ = [
    "AttachedPolicyRecord", "EntityRef", "InlinePolicyRepository", "ManagedPolicyRepository", "PolicyRecord",
    "PolicyVersionRecord",
]

_OWNER = {
    "user": (schema.users, "user_id"),
    "role": (schema.roles, "role_id"),
    "group": (schema.groups, "group_id"),
}


@dataclass(frozen=True, slots=True)
class EntityRef:
    entity_type: str  # user | role | group
    entity_id: str
    name: str
    path: str
    permissions_boundary_arn: str | None = None  # users and roles (condition key iam:PermissionsBoundary)


def find_entity(conn: Connection, entity_type: str, account_id: str, name: str, *, lock: bool = False) -> EntityRef | None:
    """A user, role or group of the account by name (case-insensitive, as AWS compares names)."""
    table, id_column = _OWNER[entity_type]
    columns = [table.c[id_column], table.c.name, table.c.path]
    if "permissions_boundary_arn" in table.c:
        columns.append(table.c.permissions_boundary_arn)
    query = select(*columns).where(table.c.account_id == account_id, table.c.name_key == name.lower())
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return None
    return EntityRef(entity_type, row[0], row.name, row.path, getattr(row, "permissions_boundary_arn", None))


# --- inline policies --------------------------------------------------------------------------
class InlinePolicyRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    def owner(self, owner_type: str, account_id: str, name: str) -> EntityRef | None:
        """The user, role or group of that name (also used for attachments)."""
        with self._engine.connect() as conn:
            return find_entity(conn, owner_type, account_id, name)

    def put(
        self,
        owner_type: str,
        account_id: str,
        owner_name: str,
        policy_name: str,
        document: str,
        *,
        size_of: Callable[[str], int],
        max_total: int,
    ) -> tuple[str, EntityRef | None]:
        """Create or replace; ("missing" | "too_large" | "ok", owner)."""
        table = schema.inline_policies
        with self._engine.begin() as conn:
            owner = find_entity(conn, owner_type, account_id, owner_name, lock=True)
            if owner is None:
                return "missing", None
            others = conn.execute(
                select(table.c.document).where(
                    table.c.owner_type == owner_type, table.c.owner_id == owner.entity_id, table.c.name != policy_name
                )
            ).scalars()
            total = size_of(document) + sum(size_of(d) for d in others)
            if total > max_total:
                return "too_large", owner
            key = (table.c.owner_type == owner_type, table.c.owner_id == owner.entity_id, table.c.name == policy_name)
            changed = conn.execute(update(table).where(*key).values(document=document)).rowcount
            if not changed:
                conn.execute(
                    insert(table).values(
                        owner_type=owner_type, owner_id=owner.entity_id, name=policy_name, document=document
                    )
                )
        return "ok", owner

    def get(self, owner_type: str, account_id: str, owner_name: str, policy_name: str) -> tuple[EntityRef | None, str | None]:
        table = schema.inline_policies
        with self._engine.connect() as conn:
            owner = find_entity(conn, owner_type, account_id, owner_name)
            if owner is None:
                return None, None
            document = conn.execute(
                select(table.c.document).where(
                    table.c.owner_type == owner_type, table.c.owner_id == owner.entity_id, table.c.name == policy_name
                )
            ).scalar()
        return owner, document

    def list(self, owner_type: str, account_id: str, owner_name: str) -> list[str] | None:
        table = schema.inline_policies
        with self._engine.connect() as conn:
            owner = find_entity(conn, owner_type, account_id, owner_name)
            if owner is None:
                return None
            return list(
                conn.execute(
                    select(table.c.name)
                    .where(table.c.owner_type == owner_type, table.c.owner_id == owner.entity_id)
                    .order_by(table.c.name)
                ).scalars()
            )

    def delete(self, owner_type: str, account_id: str, owner_name: str, policy_name: str) -> str:
        """"missing_owner" | "missing" | "ok"."""
        table = schema.inline_policies
        with self._engine.begin() as conn:
            owner = find_entity(conn, owner_type, account_id, owner_name, lock=True)
            if owner is None:
                return "missing_owner"
            deleted = conn.execute(
                delete(table).where(
                    table.c.owner_type == owner_type, table.c.owner_id == owner.entity_id, table.c.name == policy_name
                )
            ).rowcount
        return "ok" if deleted else "missing"


# --- managed policies -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PolicyRecord:
    policy_id: str
    account_id: str
    arn: str
    name: str
    path: str
    description: str | None
    default_version_id: str
    created_at: datetime
    updated_at: datetime
    attachment_count: int
    boundary_usage_count: int


@dataclass(frozen=True, slots=True)
class PolicyVersionRecord:
    version_id: str
    document: str
    is_default: bool
    created_at: datetime

    @property
    def number(self) -> int:
        return int(self.version_id[1:])


@dataclass(frozen=True, slots=True)
class AttachedPolicyRecord:
    name: str
    arn: str
    path: str


def attachment_counts(conn: Connection, policy_ids: Sequence[str]) -> dict[str, int]:
    """How many users, groups and roles each policy is attached to (policies attached nowhere: absent)."""
    att = schema.policy_attachments
    if not policy_ids:
        return {}
    rows = conn.execute(
        select(att.c.policy_id, func.count()).where(att.c.policy_id.in_(policy_ids)).group_by(att.c.policy_id)
    ).all()
    return {r[0]: r[1] for r in rows}


def boundary_counts(conn: Connection, arns: Sequence[str]) -> dict[str, int]:
    """How many users and roles use each policy as permissions boundary (unused ones: absent)."""
    counts: dict[str, int] = {}
    if not arns:
        return counts
    for table in (schema.users, schema.roles):
        rows = conn.execute(
            select(table.c.permissions_boundary_arn, func.count())
            .where(table.c.permissions_boundary_arn.in_(arns))
            .group_by(table.c.permissions_boundary_arn)
        ).all()
        for arn, n in rows:
            counts[arn] = counts.get(arn, 0) + n
    return counts


def aws_usage(conn: Connection, account_id: str, arns: Sequence[str] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """AWS managed policies in use in the account: (attachments, boundary uses) by ARN (unused: absent).
    ``arns``: only these (all when None)."""
    aws = schema.aws_policy_attachments
    query = select(aws.c.policy_arn, func.count()).where(aws.c.account_id == account_id)
    if arns is not None:
        query = query.where(aws.c.policy_arn.in_(arns))
    attachments = {r[0]: r[1] for r in conn.execute(query.group_by(aws.c.policy_arn)).all()}
    boundaries: dict[str, int] = {}
    for table in (schema.users, schema.roles):
        column = table.c.permissions_boundary_arn
        where = [table.c.account_id == account_id, column.like(aws_policies.AWS_POLICY_ARN_PREFIX + "%")]
        if arns is not None:
            where = [table.c.account_id == account_id, column.in_(arns)]
        for arn, n in conn.execute(select(column, func.count()).where(*where).group_by(column)).all():
            boundaries[arn] = boundaries.get(arn, 0) + n
    return attachments, boundaries


def _aws_record(policy: aws_policies.AwsPolicy, account_id: str, attachments: int, boundaries: int) -> "PolicyRecord":
    return PolicyRecord(
        policy.policy_id, account_id, policy.arn, policy.name, policy.path, None, policy.default_version_id,
        policy.created_at, policy.updated_at, attachments, boundaries,
    )


def _attached_count(conn: Connection, entity_type: str, entity_id: str) -> int:
    """Managed policies (customer and AWS) attached to the entity: what its quota counts."""
    att, aws = schema.policy_attachments, schema.aws_policy_attachments
    local = conn.execute(
        select(func.count()).select_from(att).where(att.c.entity_type == entity_type, att.c.entity_id == entity_id)
    ).scalar_one()
    shipped = conn.execute(
        select(func.count()).select_from(aws).where(aws.c.entity_type == entity_type, aws.c.entity_id == entity_id)
    ).scalar_one()
    return int(local) + int(shipped)


def _records(conn: Connection, rows: Sequence[Any]) -> list[PolicyRecord]:
    attachments = attachment_counts(conn, [r.policy_id for r in rows])
    boundaries = boundary_counts(conn, [r.arn for r in rows])
    return [
        PolicyRecord(
            r.policy_id, r.account_id, r.arn, r.name, r.path, r.description, r.default_version_id, r.created_at,
            r.updated_at, attachments.get(r.policy_id, 0), boundaries.get(r.arn, 0),
        )
        for r in rows
    ]


def aws_attached_record(arn: str) -> AttachedPolicyRecord:
    """An attached AWS managed policy; its name and path come from the ARN (so one that a later
    catalogue no longer holds is still listed, and can be detached)."""
    resource = arn[len("arn:aws:iam::aws:policy"):]
    path, _, name = resource.rpartition("/")
    return AttachedPolicyRecord(name, arn, path + "/")


def _policy_row(conn: Connection, account_id: str, arn: str, *, lock: bool = False) -> Any:
    mp = schema.managed_policies
    query = select(mp).where(mp.c.account_id == account_id, mp.c.arn == arn)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def _attachment_ends(
    conn: Connection, entity_type: str, account_id: str, entity_name: str, arn: str
) -> tuple[EntityRef, Any] | str:
    """The entity (locked, as attachment quotas are per entity) and the policy row an attach or
    detach joins; "missing_entity" or "missing" if either is not there."""
    entity = find_entity(conn, entity_type, account_id, entity_name, lock=True)
    if entity is None:
        return "missing_entity"
    row = _policy_row(conn, account_id, arn)
    if row is None:
        return "missing"
    return entity, row


class ManagedPolicyRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # policies
    def create(
        self,
        *,
        policy_id: str,
        account_id: str,
        arn: str,
        name: str,
        path: str,
        description: str | None,
        document: str,
        created_at: datetime,
        tags: Sequence[tuple[str, str]] = (),
    ) -> PolicyRecord:
        mp = schema.managed_policies
        try:
            with self._engine.begin() as conn:
                clash = conn.execute(
                    select(mp.c.policy_id).where(mp.c.account_id == account_id, mp.c.name_key == name.lower())
                ).first()
                if clash is not None:
                    raise EntityExists(name)
                conn.execute(
                    insert(mp).values(
                        policy_id=policy_id, account_id=account_id, arn=arn, name=name, name_key=name.lower(),
                        path=path, description=description, default_version_id="v1", next_version=2,
                        created_at=created_at, updated_at=created_at,
                    )
                )
                conn.execute(
                    insert(schema.policy_versions).values(
                        policy_id=policy_id, version_id="v1", document=document, created_at=created_at
                    )
                )
                entity_tags.tag_new_entity(conn, POLICY_TAG_TYPE, policy_id, tags)
        except IntegrityError as exc:
            raise EntityExists(name) from exc
        return PolicyRecord(policy_id, account_id, arn, name, path, description, "v1", created_at, created_at, 0, 0)

    def get(self, account_id: str, arn: str) -> PolicyRecord | None:
        with self._engine.connect() as conn:
            row = _policy_row(conn, account_id, arn)
            return _records(conn, [row])[0] if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[PolicyRecord]:
        mp = schema.managed_policies
        query = select(mp).where(mp.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(under_path(mp.c.path, path_prefix))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(mp.c.name_key)).all()
            return _records(conn, rows)

    def delete(self, account_id: str, arn: str) -> str:
        """"missing" | "attached" (to entities or as a boundary) | "versions" | "deleted"."""
        mp, pv, att = schema.managed_policies, schema.policy_versions, schema.policy_attachments
        with self._engine.begin() as conn:
            row = _policy_row(conn, account_id, arn, lock=True)
            if row is None:
                return "missing"
            if attachment_counts(conn, [row.policy_id]) or boundary_counts(conn, [arn]):
                return "attached"
            versions = conn.execute(
                select(func.count()).select_from(pv).where(pv.c.policy_id == row.policy_id)
            ).scalar_one()
            if versions > 1:
                return "versions"
            conn.execute(delete(att).where(att.c.policy_id == row.policy_id))
            conn.execute(delete(pv).where(pv.c.policy_id == row.policy_id))
            entity_tags.drop_tags(conn, POLICY_TAG_TYPE, row.policy_id)
            conn.execute(delete(mp).where(mp.c.policy_id == row.policy_id))
        return "deleted"

    # versions
    def create_version(
        self, account_id: str, arn: str, document: str, *, set_default: bool, now: datetime, max_versions: int
    ) -> tuple[str, PolicyVersionRecord | None]:
        """("missing" | "limit" | "ok", the new version)."""
        mp, pv = schema.managed_policies, schema.policy_versions
        with self._engine.begin() as conn:
            row = _policy_row(conn, account_id, arn, lock=True)
            if row is None:
                return "missing", None
            count = conn.execute(
                select(func.count()).select_from(pv).where(pv.c.policy_id == row.policy_id)
            ).scalar_one()
            if count >= max_versions:
                return "limit", None
            version_id = f"v{row.next_version}"
            conn.execute(
                insert(pv).values(policy_id=row.policy_id, version_id=version_id, document=document, created_at=now)
            )
            changes: dict[str, Any] = {"next_version": row.next_version + 1, "updated_at": now}
            if set_default:
                changes["default_version_id"] = version_id
            conn.execute(update(mp).where(mp.c.policy_id == row.policy_id).values(**changes))
        return "ok", PolicyVersionRecord(version_id, document, set_default, now)

    def versions(self, account_id: str, arn: str) -> builtins.list[PolicyVersionRecord] | None:
        """Newest first, as AWS lists them; None if there is no such policy."""
        pv = schema.policy_versions
        with self._engine.connect() as conn:
            row = _policy_row(conn, account_id, arn)
            if row is None:
                return None
            rows = conn.execute(select(pv).where(pv.c.policy_id == row.policy_id)).all()
        records = [
            PolicyVersionRecord(r.version_id, r.document, r.version_id == row.default_version_id, r.created_at)
            for r in rows
        ]
        return sorted(records, key=lambda v: v.number, reverse=True)

    def get_version(self, account_id: str, arn: str, version_id: str) -> tuple[bool, PolicyVersionRecord | None]:
        """(policy exists, the version or None)."""
        versions = self.versions(account_id, arn)
        if versions is None:
            return False, None
        return True, next((v for v in versions if v.version_id == version_id), None)

    def default_document(self, account_id: str, arn: str) -> str | None:
        mp, pv = schema.managed_policies, schema.policy_versions
        with self._engine.connect() as conn:
            return conn.execute(
                select(pv.c.document)
                .select_from(
                    mp.join(pv, and_(pv.c.policy_id == mp.c.policy_id, pv.c.version_id == mp.c.default_version_id))
                )
                .where(mp.c.account_id == account_id, mp.c.arn == arn)
            ).scalar()

    def set_default_version(self, account_id: str, arn: str, version_id: str, now: datetime) -> str:
        """"missing" | "missing_version" | "ok"."""
        mp, pv = schema.managed_policies, schema.policy_versions
        with self._engine.begin() as conn:
            row = _policy_row(conn, account_id, arn, lock=True)
            if row is None:
                return "missing"
            exists = conn.execute(
                select(pv.c.version_id).where(pv.c.policy_id == row.policy_id, pv.c.version_id == version_id)
            ).first()
            if exists is None:
                return "missing_version"
            conn.execute(
                update(mp).where(mp.c.policy_id == row.policy_id).values(default_version_id=version_id, updated_at=now)
            )
        return "ok"

    def delete_version(self, account_id: str, arn: str, version_id: str) -> str:
        """"missing" | "missing_version" | "default" | "ok"."""
        pv = schema.policy_versions
        with self._engine.begin() as conn:
            row = _policy_row(conn, account_id, arn, lock=True)
            if row is None:
                return "missing"
            if row.default_version_id == version_id:
                return "default"
            deleted = conn.execute(
                delete(pv).where(pv.c.policy_id == row.policy_id, pv.c.version_id == version_id)
            ).rowcount
        return "ok" if deleted else "missing_version"

    # attachments
    def attach(self, entity_type: str, account_id: str, entity_name: str, arn: str, *, max_attached: int) -> str:
        """"missing_entity" | "missing" | "limit" | "ok" (attaching twice is a no-op, as in AWS)."""
        if aws_policies.is_aws_policy_arn(arn):
            return self._attach_aws(entity_type, account_id, entity_name, arn, max_attached=max_attached)
        att = schema.policy_attachments
        with self._engine.begin() as conn:
            ends = _attachment_ends(conn, entity_type, account_id, entity_name, arn)
            if isinstance(ends, str):
                return ends
            entity, row = ends
            already = conn.execute(
                select(att.c.policy_id).where(
                    att.c.policy_id == row.policy_id, att.c.entity_type == entity_type,
                    att.c.entity_id == entity.entity_id,
                )
            ).first()
            if already is not None:
                return "ok"
            if _attached_count(conn, entity_type, entity.entity_id) >= max_attached:
                return "limit"
            conn.execute(insert(att).values(policy_id=row.policy_id, entity_type=entity_type, entity_id=entity.entity_id))
        return "ok"

    def _attach_aws(self, entity_type: str, account_id: str, entity_name: str, arn: str, *, max_attached: int) -> str:
        aws = schema.aws_policy_attachments
        shipped = aws_policies.find(arn) is not None  # before the transaction: the first use loads the catalogue
        with self._engine.begin() as conn:
            entity = find_entity(conn, entity_type, account_id, entity_name, lock=True)
            if entity is None:
                return "missing_entity"
            if not shipped:
                return "missing"
            key = (aws.c.policy_arn == arn, aws.c.entity_type == entity_type, aws.c.entity_id == entity.entity_id)
            if conn.execute(select(aws.c.policy_arn).where(*key)).first() is not None:
                return "ok"
            if _attached_count(conn, entity_type, entity.entity_id) >= max_attached:
                return "limit"
            conn.execute(
                insert(aws).values(
                    policy_arn=arn, entity_type=entity_type, entity_id=entity.entity_id, account_id=account_id
                )
            )
        return "ok"

    def detach(self, entity_type: str, account_id: str, entity_name: str, arn: str) -> str:
        """"missing_entity" | "missing" (no such policy or not attached) | "ok"."""
        att = schema.policy_attachments
        if aws_policies.is_aws_policy_arn(arn):
            return self._detach_aws(entity_type, account_id, entity_name, arn)
        with self._engine.begin() as conn:
            ends = _attachment_ends(conn, entity_type, account_id, entity_name, arn)
            if isinstance(ends, str):
                return ends
            entity, row = ends
            deleted = conn.execute(
                delete(att).where(
                    att.c.policy_id == row.policy_id, att.c.entity_type == entity_type,
                    att.c.entity_id == entity.entity_id,
                )
            ).rowcount
        return "ok" if deleted else "missing"

    def _detach_aws(self, entity_type: str, account_id: str, entity_name: str, arn: str) -> str:
        aws = schema.aws_policy_attachments
        with self._engine.begin() as conn:
            entity = find_entity(conn, entity_type, account_id, entity_name, lock=True)
            if entity is None:
                return "missing_entity"
            deleted = conn.execute(
                delete(aws).where(
                    aws.c.policy_arn == arn, aws.c.entity_type == entity_type, aws.c.entity_id == entity.entity_id
                )
            ).rowcount
        return "ok" if deleted else "missing"

    def attached(
        self, entity_type: str, account_id: str, entity_name: str
    ) -> builtins.list[AttachedPolicyRecord] | None:
        """Customer and AWS managed policies attached to the entity, by name (case-insensitively)."""
        att, mp, aws = schema.policy_attachments, schema.managed_policies, schema.aws_policy_attachments
        with self._engine.connect() as conn:
            entity = find_entity(conn, entity_type, account_id, entity_name)
            if entity is None:
                return None
            rows = conn.execute(
                select(mp.c.name, mp.c.arn, mp.c.path)
                .select_from(att.join(mp, att.c.policy_id == mp.c.policy_id))
                .where(att.c.entity_type == entity_type, att.c.entity_id == entity.entity_id)
            ).all()
            aws_arns = conn.execute(
                select(aws.c.policy_arn).where(aws.c.entity_type == entity_type, aws.c.entity_id == entity.entity_id)
            ).scalars().all()
        records = [AttachedPolicyRecord(r.name, r.arn, r.path) for r in rows]
        records += [aws_attached_record(arn) for arn in aws_arns]
        return sorted(records, key=lambda r: (r.name.lower(), r.arn))

    # AWS managed policies (the catalogue, with the account's use of them)
    def aws_policy(self, account_id: str, arn: str) -> PolicyRecord | None:
        """The AWS managed policy ``arn`` names, with its attachment and boundary counts in the account."""
        policy = aws_policies.find(arn)
        if policy is None:
            return None
        with self._engine.connect() as conn:
            attachments, boundaries = aws_usage(conn, account_id, [arn])
        return _aws_record(policy, account_id, attachments.get(arn, 0), boundaries.get(arn, 0))

    def aws_list(self, account_id: str, path_prefix: str = "/") -> builtins.list[PolicyRecord]:
        """Every AWS managed policy under ``path_prefix`` (by name), with its counts in the account."""
        with self._engine.connect() as conn:
            attachments, boundaries = aws_usage(conn, account_id)
        return [
            _aws_record(p, account_id, attachments.get(p.arn, 0), boundaries.get(p.arn, 0))
            for p in aws_policies.catalogue().policies
            if p.path.startswith(path_prefix)
        ]

    def entities(
        self, account_id: str, arn: str, *, attachments: bool, boundaries: bool
    ) -> builtins.list[EntityRef] | None:
        """Users, groups and roles using the policy (attached and/or as permissions boundary)."""
        att, aws = schema.policy_attachments, schema.aws_policy_attachments
        shipped = aws_policies.find(arn) is not None
        with self._engine.connect() as conn:
            row = None if shipped else _policy_row(conn, account_id, arn)
            if row is None and not shipped:
                return None
            found: dict[tuple[str, str], EntityRef] = {}
            for entity_type, (table, id_column) in _OWNER.items():
                conditions: builtins.list[ColumnElement[bool]] = []
                if attachments:
                    ids = (
                        select(att.c.entity_id).where(att.c.policy_id == row.policy_id, att.c.entity_type == entity_type)
                        if row is not None
                        else select(aws.c.entity_id).where(
                            aws.c.account_id == account_id, aws.c.policy_arn == arn, aws.c.entity_type == entity_type
                        )
                    )
                    conditions.append(table.c[id_column].in_(ids))
                if boundaries and entity_type != "group":
                    conditions.append(table.c.permissions_boundary_arn == arn)
                if not conditions:
                    continue
                rows = conn.execute(
                    select(table.c[id_column], table.c.name, table.c.path).where(
                        table.c.account_id == account_id, or_(*conditions)
                    )
                ).all()
                for r in rows:
                    found[(entity_type, r[0])] = EntityRef(entity_type, r[0], r.name, r.path)
        return sorted(found.values(), key=lambda e: (e.entity_type, e.name.lower()))

    # tags
    def tags(self, policy_id: str) -> entity_tags.Tags:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, POLICY_TAG_TYPE, policy_id)

    def tag(self, policy_id: str, tags: Sequence[tuple[str, str]]) -> None:
        """Add or overwrite tags (keys case-insensitive); TooManyTags past the per-entity limit."""
        with self._engine.begin() as conn:
            entity_tags.tag_entity(conn, POLICY_TAG_TYPE, policy_id, tags)

    def untag(self, policy_id: str, keys: Sequence[str]) -> None:
        with self._engine.begin() as conn:
            entity_tags.untag_entity(conn, POLICY_TAG_TYPE, policy_id, keys)
