"""IAM groups and their members. Names are unique per account case-insensitively."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.meta import CountedWrites
from opensts.store.errors import DeleteBlocked, NameTaken
from opensts.store.iam_users import UserRecord, user_record
from opensts.store.queries import first_blocker, lock_row, policy_blockers, rename, under_path


@dataclass(frozen=True, slots=True)
class GroupRecord:
    group_id: str
    account_id: str
    name: str
    path: str
    created_at: datetime


def _record(row) -> GroupRecord:
    return GroupRecord(row.group_id, row.account_id, row.name, row.path, row.created_at)


class GroupRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- reads ---------------------------------------------------------------------------------
    def get(self, account_id: str, name: str) -> GroupRecord | None:
        groups = schema.groups
        with self._engine.connect() as conn:
            row = conn.execute(
                select(groups).where(groups.c.account_id == account_id, groups.c.name_key == name.lower())
            ).first()
        return _record(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[GroupRecord]:
        groups = schema.groups
        query = select(groups).where(groups.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(under_path(groups.c.path, path_prefix))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(groups.c.name_key)).all()
        return [_record(r) for r in rows]

    def members(self, group_id: str) -> builtins.list[UserRecord]:
        users, members = schema.users, schema.group_members
        query = (
            select(users)
            .select_from(members.join(users, members.c.user_id == users.c.user_id))
            .where(members.c.group_id == group_id)
            .order_by(users.c.name_key)
        )
        with self._engine.connect() as conn:
            return [user_record(r) for r in conn.execute(query).all()]

    def groups_for_user(self, user_id: str) -> builtins.list[GroupRecord]:
        groups, members = schema.groups, schema.group_members
        query = (
            select(groups)
            .select_from(members.join(groups, members.c.group_id == groups.c.group_id))
            .where(members.c.user_id == user_id)
            .order_by(groups.c.name_key)
        )
        with self._engine.connect() as conn:
            return [_record(r) for r in conn.execute(query).all()]

    # --- writes --------------------------------------------------------------------------------
    def create(self, account_id: str, group_id: str, name: str, path: str = "/") -> GroupRecord:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(schema.groups).values(
                        group_id=group_id, account_id=account_id, name=name, name_key=name.lower(),
                        path=path, created_at=now,
                    )
                )
        except IntegrityError as exc:
            raise NameTaken(name) from exc
        return GroupRecord(group_id, account_id, name, path, now)

    def update(self, group_id: str, *, new_name: str | None = None, new_path: str | None = None) -> None:
        rename(self._engine, schema.groups.c.group_id, group_id, new_name, new_path)

    def delete(self, group_id: str) -> None:
        """DeleteBlocked (``groups`` = has members, ``policies``, ``attached_policies``) unless empty."""
        members = schema.group_members
        try:
            with self._engine.begin() as conn:
                lock_row(conn, schema.groups.c.group_id, group_id)
                reason = first_blocker(
                    conn,
                    (
                        ("groups", select(members.c.user_id).where(members.c.group_id == group_id)),
                        *policy_blockers("group", group_id),
                    ),
                )
                if reason:
                    raise DeleteBlocked(reason)
                conn.execute(delete(schema.groups).where(schema.groups.c.group_id == group_id))
        except IntegrityError as exc:
            raise DeleteBlocked("groups") from exc

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Add the user; False if it was a member already (adding again is not an error in AWS)."""
        members = schema.group_members
        try:
            with self._engine.begin() as conn:
                if _is_member(conn, group_id, user_id):
                    return False
                conn.execute(insert(members).values(group_id=group_id, user_id=user_id))
        except IntegrityError:
            return False  # a concurrent add won, or the user or group was deleted meanwhile
        return True

    def remove_member(self, group_id: str, user_id: str) -> bool:
        members = schema.group_members
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(members).where(members.c.group_id == group_id, members.c.user_id == user_id)
            )
        return bool(result.rowcount)


def _is_member(conn: Connection, group_id: str, user_id: str) -> bool:
    members = schema.group_members
    return (
        conn.execute(
            select(members.c.user_id).where(members.c.group_id == group_id, members.c.user_id == user_id)
        ).first()
        is not None
    )
