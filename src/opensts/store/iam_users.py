"""IAM users: names unique per account case-insensitively, their tags and permissions boundary.

Every write is one transaction; the checks a write depends on (a name free, nothing left that
blocks a delete) run inside it, so concurrent callers cannot slip between check and write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema, tags as entity_tags
from opensts.store.errors import DeleteBlocked, NameTaken
from opensts.store.iam_passwords import drop_user_passwords
from opensts.store.iam_user_credentials import user_credential_blockers
from opensts.store.meta import CountedWrites
from opensts.store.queries import first_blocker, lock_row, policy_blockers, rename, under_path

USER_TAG_TYPE = entity_tags.USER


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    account_id: str
    name: str
    path: str
    permissions_boundary_arn: str | None
    created_at: datetime


def user_record(row) -> UserRecord:
    """The record of a ``users`` row, also of rows other repositories read (group members, reports)."""
    return UserRecord(
        row.user_id, row.account_id, row.name, row.path, row.permissions_boundary_arn, row.created_at
    )


class UserRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- reads ---------------------------------------------------------------------------------
    def get(self, account_id: str, name: str) -> UserRecord | None:
        users = schema.users
        with self._engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.account_id == account_id, users.c.name_key == name.lower())
            ).first()
        return user_record(row) if row else None

    def get_by_id(self, user_id: str) -> UserRecord | None:
        users = schema.users
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
        return user_record(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[UserRecord]:
        """The account's users under ``path_prefix``, sorted by name (case-insensitively)."""
        users = schema.users
        query = select(users).where(users.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(under_path(users.c.path, path_prefix))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(users.c.name_key)).all()
        return [user_record(r) for r in rows]

    def managed_policy_exists(self, account_id: str, policy_arn: str) -> bool:
        """Whether a managed policy with this ARN exists in the account (boundary checks)."""
        table = schema.managed_policies
        with self._engine.connect() as conn:
            row = conn.execute(
                select(table.c.policy_id).where(table.c.arn == policy_arn, table.c.account_id == account_id)
            ).first()
        return row is not None

    def tags(self, user_id: str) -> entity_tags.Tags:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, USER_TAG_TYPE, user_id)

    # --- writes --------------------------------------------------------------------------------
    def create(
        self,
        account_id: str,
        user_id: str,
        name: str,
        path: str = "/",
        permissions_boundary_arn: str | None = None,
        tags: Iterable[tuple[str, str]] = (),
    ) -> UserRecord:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        record = UserRecord(user_id, account_id, name, path, permissions_boundary_arn, now)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(schema.users).values(
                        user_id=user_id,
                        account_id=account_id,
                        name=name,
                        name_key=name.lower(),
                        path=path,
                        permissions_boundary_arn=permissions_boundary_arn,
                        created_at=now,
                    )
                )
                entity_tags.tag_new_entity(conn, USER_TAG_TYPE, user_id, tags)
        except IntegrityError as exc:
            raise NameTaken(name) from exc
        return record

    def update(self, user_id: str, *, new_name: str | None = None, new_path: str | None = None) -> None:
        rename(self._engine, schema.users.c.user_id, user_id, new_name, new_path)

    def set_permissions_boundary(self, user_id: str, policy_arn: str | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(schema.users)
                .where(schema.users.c.user_id == user_id)
                .values(permissions_boundary_arn=policy_arn)
            )

    def delete(self, user_id: str) -> None:
        """Delete the user, its tags and password history; DeleteBlocked if it still has a login profile,
        keys, certificates, service credentials, policies, MFA or groups."""
        try:
            with self._engine.begin() as conn:
                reason = _user_delete_blocker(conn, user_id)
                if reason:
                    raise DeleteBlocked(reason)
                entity_tags.drop_tags(conn, USER_TAG_TYPE, user_id)
                drop_user_passwords(conn, user_id)
                conn.execute(delete(schema.users).where(schema.users.c.user_id == user_id))
        except IntegrityError as exc:
            # Something was attached concurrently, between our checks and the delete.
            raise DeleteBlocked("access_keys") from exc

    def tag(
        self, user_id: str, tags: Iterable[tuple[str, str]], max_tags: int = entity_tags.MAX_TAGS_PER_ENTITY
    ) -> None:
        """Add or overwrite tags (keys case-insensitive); TooManyTags if the user would have more
        than ``max_tags`` distinct keys."""
        with self._engine.begin() as conn:
            entity_tags.tag_entity(conn, USER_TAG_TYPE, user_id, tags, limit=max_tags)

    def untag(self, user_id: str, keys: Iterable[str]) -> None:
        with self._engine.begin() as conn:
            entity_tags.untag_entity(conn, USER_TAG_TYPE, user_id, keys)


def _user_delete_blocker(conn: Connection, user_id: str) -> str | None:
    lock_row(conn, schema.users.c.user_id, user_id)
    s = schema
    return first_blocker(
        conn,
        (
            ("login_profile", select(s.login_profiles.c.user_id).where(s.login_profiles.c.user_id == user_id)),
            ("access_keys", select(s.access_keys.c.access_key_id).where(s.access_keys.c.user_id == user_id)),
            *user_credential_blockers(user_id),
            *policy_blockers("user", user_id),
            ("mfa_devices", select(s.mfa_devices.c.serial_number).where(s.mfa_devices.c.user_id == user_id)),
            ("groups", select(s.group_members.c.group_id).where(s.group_members.c.user_id == user_id)),
        ),
    )
