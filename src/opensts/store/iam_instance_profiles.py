"""IAM instance profiles, the role each holds, and their tags.

A profile holds at most one role: ``instance_profile_roles`` is keyed by the profile alone, so the
database itself refuses a second role, even from two concurrent calls. Names are unique per account
case-insensitively. Tags are kept in ``tags`` under entity type ``instance_profile``
(:mod:`opensts.store.tags`). A role in a profile cannot be deleted
(:meth:`opensts.store.iam_roles.RoleRepository.delete` checks ``instance_profile_roles``); a
profile is deleted only once it holds no role.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from opensts.store import schema, tags as entity_tags
from opensts.store.errors import DeleteBlocked, NameTaken
from opensts.store.iam_roles import RoleRecord, role_record
from opensts.store.meta import CountedWrites
from opensts.store.queries import lock_row, under_path

INSTANCE_PROFILE_TAG_TYPE = "instance_profile"


@dataclass(frozen=True, slots=True)
class InstanceProfileRecord:
    instance_profile_id: str
    account_id: str
    name: str
    path: str
    created_at: datetime

    @property
    def arn(self) -> str:
        return instance_profile_arn(self.account_id, self.name, self.path)


def instance_profile_arn(account_id: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{account_id}:instance-profile{path}{name}"


def profile_record(row: Any) -> InstanceProfileRecord:
    """The record of an ``instance_profiles`` row."""
    return InstanceProfileRecord(row.instance_profile_id, row.account_id, row.name, row.path, row.created_at)


class AddRoleOutcome(Enum):
    ADDED = "added"
    FULL = "full"  # the profile holds a role already (the same one or another)
    GONE = "gone"  # the profile or the role was deleted meanwhile


class InstanceProfileRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- reads ---------------------------------------------------------------------------------
    def get(self, account_id: str, name: str) -> InstanceProfileRecord | None:
        t = schema.instance_profiles
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.account_id == account_id, t.c.name_key == name.lower())).first()
        return profile_record(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[InstanceProfileRecord]:
        t = schema.instance_profiles
        query = select(t).where(t.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(under_path(t.c.path, path_prefix))
        with self._engine.connect() as conn:
            return [profile_record(r) for r in conn.execute(query.order_by(t.c.name_key)).all()]

    def for_role(self, role_id: str) -> builtins.list[InstanceProfileRecord]:
        """The profiles that hold the role, by name."""
        t, links = schema.instance_profiles, schema.instance_profile_roles
        query = (
            select(t)
            .select_from(links.join(t, links.c.instance_profile_id == t.c.instance_profile_id))
            .where(links.c.role_id == role_id)
            .order_by(t.c.name_key)
        )
        with self._engine.connect() as conn:
            return [profile_record(r) for r in conn.execute(query).all()]

    def roles_of(self, profile_ids: Iterable[str]) -> dict[str, builtins.list[RoleRecord]]:
        """The roles of several profiles in one query: every id maps to its roles (at most one)."""
        out: dict[str, builtins.list[RoleRecord]] = {i: [] for i in profile_ids}
        if not out:
            return out
        roles, links = schema.roles, schema.instance_profile_roles
        query = (
            select(links.c.instance_profile_id, roles)
            .select_from(links.join(roles, links.c.role_id == roles.c.role_id))
            .where(links.c.instance_profile_id.in_(builtins.list(out)))
        )
        with self._engine.connect() as conn:
            for row in conn.execute(query).all():
                out[row.instance_profile_id].append(role_record(row))
        return out

    def tags(self, profile_id: str) -> entity_tags.Tags:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, INSTANCE_PROFILE_TAG_TYPE, profile_id)

    # --- writes --------------------------------------------------------------------------------
    def create(
        self,
        *,
        profile_id: str,
        account_id: str,
        name: str,
        path: str,
        created_at: datetime,
        tags: Sequence[tuple[str, str]] = (),
    ) -> InstanceProfileRecord:
        """NameTaken if the account has a profile of that name (case-insensitively)."""
        t = schema.instance_profiles
        created_at = created_at.replace(microsecond=0)
        try:
            with self._engine.begin() as conn:
                clash = conn.execute(
                    select(t.c.instance_profile_id).where(t.c.account_id == account_id, t.c.name_key == name.lower())
                ).first()
                if clash is not None:
                    raise NameTaken(name)
                conn.execute(
                    insert(t).values(
                        instance_profile_id=profile_id, account_id=account_id, name=name, name_key=name.lower(),
                        path=path, created_at=created_at,
                    )
                )
                entity_tags.tag_new_entity(conn, INSTANCE_PROFILE_TAG_TYPE, profile_id, tags)
        except IntegrityError as exc:  # a concurrent create of the same name
            raise NameTaken(name) from exc
        return InstanceProfileRecord(profile_id, account_id, name, path, created_at)

    def delete(self, profile_id: str) -> bool:
        """Delete the profile and its tags; DeleteBlocked("roles") while it holds a role. False if
        there is no such profile."""
        t, links = schema.instance_profiles, schema.instance_profile_roles
        with self._engine.begin() as conn:
            if not lock_row(conn, t.c.instance_profile_id, profile_id):
                return False
            held = conn.execute(
                select(links.c.role_id).where(links.c.instance_profile_id == profile_id).limit(1)
            ).first()
            if held is not None:
                raise DeleteBlocked("roles")
            entity_tags.drop_tags(conn, INSTANCE_PROFILE_TAG_TYPE, profile_id)
            conn.execute(delete(t).where(t.c.instance_profile_id == profile_id))
        return True

    def add_role(self, profile_id: str, role_id: str) -> AddRoleOutcome:
        t, links, roles = schema.instance_profiles, schema.instance_profile_roles, schema.roles
        try:
            with self._engine.begin() as conn:
                if not lock_row(conn, t.c.instance_profile_id, profile_id):
                    return AddRoleOutcome.GONE
                held = conn.execute(
                    select(links.c.role_id).where(links.c.instance_profile_id == profile_id)
                ).first()
                if held is not None:
                    return AddRoleOutcome.FULL
                if conn.execute(select(roles.c.role_id).where(roles.c.role_id == role_id)).first() is None:
                    return AddRoleOutcome.GONE
                conn.execute(insert(links).values(instance_profile_id=profile_id, role_id=role_id))
        except IntegrityError:
            # The key refused a second role (a concurrent add won), or the role was deleted meanwhile.
            return AddRoleOutcome.FULL if self._holds_role(profile_id) else AddRoleOutcome.GONE
        return AddRoleOutcome.ADDED

    def remove_role(self, profile_id: str, role_id: str) -> bool:
        """False if the profile does not hold that role."""
        links = schema.instance_profile_roles
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(links).where(links.c.instance_profile_id == profile_id, links.c.role_id == role_id)
            )
        return bool(result.rowcount)

    def tag(self, profile_id: str, tags: Sequence[tuple[str, str]]) -> bool:
        """Add or overwrite tags; TooManyTags past the per-entity limit. False if the profile is gone."""
        with self._engine.begin() as conn:
            if not lock_row(conn, schema.instance_profiles.c.instance_profile_id, profile_id):
                return False
            entity_tags.merge_tags(conn, INSTANCE_PROFILE_TAG_TYPE, profile_id, tags)
        return True

    def untag(self, profile_id: str, keys: Sequence[str]) -> bool:
        with self._engine.begin() as conn:
            if not lock_row(conn, schema.instance_profiles.c.instance_profile_id, profile_id):
                return False
            entity_tags.remove_tags(conn, INSTANCE_PROFILE_TAG_TYPE, profile_id, keys)
        return True

    def _holds_role(self, profile_id: str) -> bool:
        links = schema.instance_profile_roles
        with self._engine.connect() as conn:
            return (
                conn.execute(select(links.c.role_id).where(links.c.instance_profile_id == profile_id)).first()
                is not None
            )
