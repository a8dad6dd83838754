"""IAM roles: the role rows, their tags (:mod:`opensts.store.tags`), and the checks DeleteRole
makes in one transaction."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import or_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.identity import arn as arns
from opensts.store import schema, tags as entity_tags
from opensts.store.errors import EntityExists
from opensts.store.meta import CountedWrites
from opensts.store.queries import under_path

ROLE_TAG_TYPE = entity_tags.ROLE
_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class RoleRecord:
    role_id: str
    account_id: str
    name: str
    path: str
    description: str | None
    max_session_duration: int
    assume_role_policy: str
    permissions_boundary_arn: str | None
    created_at: datetime
    last_used_at: datetime | None
    last_used_region: str | None
    trust_principal_ids: str | None = None  # JSON {arn: unique id}, see schema.roles

    @property
    def arn(self) -> str:
        return arns.role_arn(self.account_id, self.name, self.path)


def _role(row: Any) -> RoleRecord:
    return RoleRecord(
        row.role_id, row.account_id, row.name, row.path, row.description, row.max_session_duration,
        row.assume_role_policy, row.permissions_boundary_arn, row.created_at, row.last_used_at,
        row.last_used_region, row.trust_principal_ids,
    )


def role_record(row: Any) -> RoleRecord:
    """The record of a ``roles`` row read elsewhere (account reports, instance profiles)."""
    return _role(row)


class RoleRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    def create(
        self,
        *,
        role_id: str,
        account_id: str,
        name: str,
        path: str,
        assume_role_policy: str,
        description: str | None,
        max_session_duration: int,
        permissions_boundary_arn: str | None,
        created_at: datetime,
        tags: Sequence[tuple[str, str]] = (),
        trust_principal_ids: str | None = None,
    ) -> RoleRecord:
        values = dict(
            role_id=role_id, account_id=account_id, name=name, name_key=name.lower(), path=path,
            description=description, max_session_duration=max_session_duration,
            assume_role_policy=assume_role_policy, permissions_boundary_arn=permissions_boundary_arn,
            created_at=created_at, trust_principal_ids=trust_principal_ids,
        )
        roles = schema.roles
        try:
            with self._engine.begin() as conn:
                clash = conn.execute(
                    select(roles.c.role_id).where(roles.c.account_id == account_id, roles.c.name_key == name.lower())
                ).first()
                if clash is not None:
                    raise EntityExists(name)
                conn.execute(insert(roles).values(**values))
                entity_tags.tag_new_entity(conn, ROLE_TAG_TYPE, role_id, tags)
        except IntegrityError as exc:  # a concurrent CreateRole of the same name
            raise EntityExists(name) from exc
        return RoleRecord(
            role_id, account_id, name, path, description, max_session_duration, assume_role_policy,
            permissions_boundary_arn, created_at, None, None, trust_principal_ids,
        )

    def get(self, account_id: str, name: str) -> RoleRecord | None:
        roles = schema.roles
        with self._engine.connect() as conn:
            row = conn.execute(
                select(roles).where(roles.c.account_id == account_id, roles.c.name_key == name.lower())
            ).first()
        return _role(row) if row else None

    def get_by_id(self, role_id: str) -> RoleRecord | None:
        roles = schema.roles
        with self._engine.connect() as conn:
            row = conn.execute(select(roles).where(roles.c.role_id == role_id)).first()
        return _role(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[RoleRecord]:
        roles = schema.roles
        query = select(roles).where(roles.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(under_path(roles.c.path, path_prefix))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(roles.c.name_key)).all()
        return [_role(r) for r in rows]

    def tags(self, role_id: str) -> entity_tags.Tags:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, ROLE_TAG_TYPE, role_id)

    def update(
        self,
        account_id: str,
        name: str,
        *,
        description: Any = _UNSET,
        max_session_duration: Any = _UNSET,
        assume_role_policy: Any = _UNSET,
        permissions_boundary_arn: Any = _UNSET,
        trust_principal_ids: Any = _UNSET,
    ) -> RoleRecord | None:
        """Change the given fields; None if there is no such role."""
        changes: dict[str, Any] = {}
        if description is not _UNSET:
            changes["description"] = description
        if max_session_duration is not _UNSET:
            changes["max_session_duration"] = max_session_duration
        if assume_role_policy is not _UNSET:
            changes["assume_role_policy"] = assume_role_policy
        if permissions_boundary_arn is not _UNSET:
            changes["permissions_boundary_arn"] = permissions_boundary_arn
        if trust_principal_ids is not _UNSET:
            changes["trust_principal_ids"] = trust_principal_ids
        roles = schema.roles
        where = (roles.c.account_id == account_id, roles.c.name_key == name.lower())
        with self._engine.begin() as conn:
            if changes:
                conn.execute(update(roles).where(*where).values(**changes))
            row = conn.execute(select(roles).where(*where)).first()
        return _role(row) if row else None

    def record_uses(self, uses: builtins.list[tuple[str, datetime, str | None]]) -> None:
        """RoleLastUsed facts (role id, when, region), batched by ``store.role_use``; never moves back."""
        roles = schema.roles
        with self._engine.begin_uncounted() as conn:
            for role_id, when, region in uses:
                region = region[:32] if region else region  # the column's size; regions come from clients
                conn.execute(
                    update(roles)
                    .where(roles.c.role_id == role_id, or_(roles.c.last_used_at.is_(None), roles.c.last_used_at < when))
                    .values(last_used_at=when, last_used_region=region)
                )

    def tag(self, role_id: str, tags: Sequence[tuple[str, str]]) -> None:
        """Add or overwrite tags (keys case-insensitive); TooManyTags past the per-entity limit."""
        with self._engine.begin() as conn:
            entity_tags.tag_entity(conn, ROLE_TAG_TYPE, role_id, tags)

    def untag(self, role_id: str, keys: Sequence[str]) -> None:
        with self._engine.begin() as conn:
            entity_tags.untag_entity(conn, ROLE_TAG_TYPE, role_id, keys)

    def delete(self, account_id: str, name: str) -> str:
        """Delete the role: "deleted", "missing", "instance_profiles" (in a profile), "attached"
        (managed policies) or "inline"."""
        roles = schema.roles
        with self._engine.begin() as conn:
            row = conn.execute(
                select(roles.c.role_id)
                .where(roles.c.account_id == account_id, roles.c.name_key == name.lower())
                .with_for_update()
            ).first()
            if row is None:
                return "missing"
            role_id = row.role_id
            profiles = schema.instance_profile_roles
            if conn.execute(select(profiles.c.role_id).where(profiles.c.role_id == role_id).limit(1)).first():
                return "instance_profiles"
            att, inl = schema.policy_attachments, schema.inline_policies
            attached = conn.execute(
                select(func.count()).select_from(att).where(att.c.entity_type == "role", att.c.entity_id == role_id)
            ).scalar_one()
            aws = schema.aws_policy_attachments
            attached += conn.execute(
                select(func.count()).select_from(aws).where(aws.c.entity_type == "role", aws.c.entity_id == role_id)
            ).scalar_one()
            if attached:
                return "attached"
            inline = conn.execute(
                select(func.count()).select_from(inl).where(inl.c.owner_type == "role", inl.c.owner_id == role_id)
            ).scalar_one()
            if inline:
                return "inline"
            entity_tags.drop_tags(conn, ROLE_TAG_TYPE, role_id)
            conn.execute(delete(roles).where(roles.c.role_id == role_id))
        return "deleted"

