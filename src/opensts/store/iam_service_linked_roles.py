"""Service-linked roles: their deletion, with its deletion task, in one transaction.

The roles themselves are rows of ``roles`` (``store/iam_roles.py`` creates and reads them); what is
theirs alone is DeleteServiceLinkedRole's deletion task (``schema.service_linked_role_deletions``),
remembered so that GetServiceLinkedRoleDeletionStatus can answer for it later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from opensts.store import schema, tags as entity_tags
from opensts.store.iam_roles import ROLE_TAG_TYPE
from opensts.store.meta import CountedWrites


@dataclass(frozen=True, slots=True)
class DeletionTaskRecord:
    task_id: str
    account_id: str
    role_name: str
    status: str  # SUCCEEDED | IN_PROGRESS | FAILED | NOT_STARTED
    reason: str | None
    created_at: datetime


class ServiceLinkedRoleRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    def delete(self, account_id: str, name: str, path_prefix: str, task_id: str, now: datetime) -> str:
        """Delete the role ``name`` if its path starts with ``path_prefix``, with its inline policies,
        attachments and tags (all its service's), and record the deletion task as SUCCEEDED.

        Returns "deleted", "missing", "not_linked" (the role is an ordinary one: nothing changes) or
        "failed": the role is still in an instance profile, so it stays, and the task is recorded
        as FAILED with the reason (AWS's deletion tasks fail the same way on a role in use).
        """
        roles = schema.roles
        att, inl = schema.policy_attachments, schema.inline_policies
        with self._engine.begin() as conn:
            row = conn.execute(
                select(roles.c.role_id, roles.c.path)
                .where(roles.c.account_id == account_id, roles.c.name_key == name.lower())
                .with_for_update()
            ).first()
            if row is None:
                return "missing"
            if not row.path.startswith(path_prefix):
                return "not_linked"
            role_id = row.role_id
            profiles = schema.instance_profiles.join(
                schema.instance_profile_roles,
                schema.instance_profiles.c.instance_profile_id == schema.instance_profile_roles.c.instance_profile_id,
            )
            in_profile = conn.execute(
                select(schema.instance_profiles.c.name).select_from(profiles)
                .where(schema.instance_profile_roles.c.role_id == role_id).limit(1)
            ).scalar()
            if in_profile is not None:
                conn.execute(
                    insert(schema.service_linked_role_deletions).values(
                        task_id=task_id, account_id=account_id, role_name=name, status="FAILED",
                        reason=f"The role is in instance profile {in_profile}: remove it from the profile first.",
                        created_at=now,
                    )
                )
                return "failed"
            aws_att = schema.aws_policy_attachments
            conn.execute(delete(aws_att).where(aws_att.c.entity_type == "role", aws_att.c.entity_id == role_id))
            conn.execute(delete(att).where(att.c.entity_type == "role", att.c.entity_id == role_id))
            conn.execute(delete(inl).where(inl.c.owner_type == "role", inl.c.owner_id == role_id))
            entity_tags.drop_tags(conn, ROLE_TAG_TYPE, role_id)
            conn.execute(delete(roles).where(roles.c.role_id == role_id))
            conn.execute(
                insert(schema.service_linked_role_deletions).values(
                    task_id=task_id, account_id=account_id, role_name=name, status="SUCCEEDED", reason=None,
                    created_at=now,
                )
            )
        return "deleted"

    def task(self, account_id: str, task_id: str) -> DeletionTaskRecord | None:
        """The deletion task ``task_id`` of the account; None if there is none."""
        table = schema.service_linked_role_deletions
        with self._engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.task_id == task_id, table.c.account_id == account_id)
            ).first()
        if row is None:
            return None
        return DeletionTaskRecord(row.task_id, row.account_id, row.role_name, row.status, row.reason, row.created_at)
