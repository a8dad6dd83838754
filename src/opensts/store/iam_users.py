"""IAM users: names unique per account case-insensitively, their tags and permissions boundary.

Every write is one transaction; the checks a write depends on (a name free, nothing left that
blocks a delete) run inside it, so concurrent callers cannot slip between check and write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.meta import CountedWrites

USER_TAG_TYPE = "user"


def rename(engine: CountedWrites, id_column: Any, entity_id: str, new_name: str | None, new_path: str | None) -> None:
    """UpdateUser/UpdateGroup: a new name (unique case-insensitively) and/or path; NameTaken on a clash."""
    values: dict[str, str] = {}
    if new_name is not None:
        values.update(name=new_name, name_key=new_name.lower())
    if new_path is not None:
        values["path"] = new_path
    if not values:
        return
    try:
        with engine.begin() as conn:
            conn.execute(update(id_column.table).where(id_column == entity_id).values(**values))
    except IntegrityError as exc:
        raise NameTaken(new_name) from exc


class NameTaken(Exception):
    """Another entity of the account already has this name (compared case-insensitively)."""


class DeleteBlocked(Exception):
    """The entity still owns something that must be removed first; ``args[0]`` says what:
    ``access_keys``, ``policies`` (inline), ``attached_policies``, ``mfa_devices`` or ``groups``."""

    @property
    def reason(self) -> str:
        return str(self.args[0])


class TooManyTags(Exception):
    """The entity would have more tags than allowed."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    account_id: str
    name: str
    path: str
    permissions_boundary_arn: str | None
    created_at: datetime


def _record(row) -> UserRecord:  # type: ignore[no-untyped-def]
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
        return _record(row) if row else None

    def get_by_id(self, user_id: str) -> UserRecord | None:
        users = schema.users
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.user_id == user_id)).first()
        return _record(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> list[UserRecord]:
        """The account's users under ``path_prefix``, sorted by name (case-insensitively)."""
        users = schema.users
        query = select(users).where(users.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(func.substr(users.c.path, 1, len(path_prefix)) == path_prefix)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(users.c.name_key)).all()
        return [_record(r) for r in rows]

    def managed_policy_exists(self, account_id: str, policy_arn: str) -> bool:
        """Whether a managed policy with this ARN exists in the account (boundary checks)."""
        table = schema.managed_policies
        with self._engine.connect() as conn:
            row = conn.execute(
                select(table.c.policy_id).where(table.c.arn == policy_arn, table.c.account_id == account_id)
            ).first()
        return row is not None

    def tags(self, user_id: str) -> list[tuple[str, str]]:
        with self._engine.connect() as conn:
            return entity_tags(conn, USER_TAG_TYPE, user_id)

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
                add_tags(conn, USER_TAG_TYPE, user_id, tags)
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
        """Delete the user and its tags; DeleteBlocked if it still has keys, policies, MFA or groups."""
        try:
            with self._engine.begin() as conn:
                reason = _user_delete_blocker(conn, user_id)
                if reason:
                    raise DeleteBlocked(reason)
                delete_tags(conn, USER_TAG_TYPE, user_id)
                conn.execute(delete(schema.users).where(schema.users.c.user_id == user_id))
        except IntegrityError as exc:
            # Something was attached concurrently, between our checks and the delete.
            raise DeleteBlocked("access_keys") from exc

    def tag(self, user_id: str, tags: Iterable[tuple[str, str]], max_tags: int = 50) -> None:
        """Add or overwrite tags (keys case-insensitive); TooManyTags if the total would pass max_tags."""
        with self._engine.begin() as conn:
            _lock_user(conn, user_id)
            add_tags(conn, USER_TAG_TYPE, user_id, tags, max_tags=max_tags)

    def untag(self, user_id: str, keys: Iterable[str]) -> None:
        table = schema.tags
        lowered = [k.lower() for k in keys]
        if not lowered:
            return
        with self._engine.begin() as conn:
            conn.execute(
                delete(table).where(
                    table.c.entity_type == USER_TAG_TYPE,
                    table.c.entity_id == user_id,
                    table.c.key_lower.in_(lowered),
                )
            )


def _lock_user(conn: Connection, user_id: str) -> None:
    """Serialise writers of one user (PostgreSQL row lock; SQLite transactions are serial already)."""
    conn.execute(select(schema.users.c.user_id).where(schema.users.c.user_id == user_id).with_for_update())


def _exists(conn: Connection, query) -> bool:  # type: ignore[no-untyped-def]
    return conn.execute(query.limit(1)).first() is not None


def _user_delete_blocker(conn: Connection, user_id: str) -> str | None:
    _lock_user(conn, user_id)
    s = schema
    checks = (
        ("access_keys", select(s.access_keys.c.access_key_id).where(s.access_keys.c.user_id == user_id)),
        (
            "policies",
            select(s.inline_policies.c.name).where(
                s.inline_policies.c.owner_type == "user", s.inline_policies.c.owner_id == user_id
            ),
        ),
        (
            "attached_policies",
            select(s.policy_attachments.c.policy_id).where(
                s.policy_attachments.c.entity_type == "user", s.policy_attachments.c.entity_id == user_id
            ),
        ),
        ("mfa_devices", select(s.mfa_devices.c.serial_number).where(s.mfa_devices.c.user_id == user_id)),
        ("groups", select(s.group_members.c.group_id).where(s.group_members.c.user_id == user_id)),
    )
    for reason, query in checks:
        if _exists(conn, query):
            return reason
    return None


# --- Tags (any entity type) ---------------------------------------------------------------------
def entity_tags(conn: Connection, entity_type: str, entity_id: str) -> list[tuple[str, str]]:
    table = schema.tags
    rows = conn.execute(
        select(table.c.key, table.c.value)
        .where(table.c.entity_type == entity_type, table.c.entity_id == entity_id)
        .order_by(table.c.key_lower)
    ).all()
    return [(r.key, r.value) for r in rows]


def add_tags(
    conn: Connection,
    entity_type: str,
    entity_id: str,
    tags: Iterable[tuple[str, str]],
    *,
    max_tags: int | None = None,
) -> None:
    """Insert or overwrite tags by case-insensitive key (the key's new spelling wins)."""
    table = schema.tags
    tags = list(tags)
    if not tags:
        return
    lowered = [k.lower() for k, _ in tags]
    conn.execute(
        delete(table).where(
            table.c.entity_type == entity_type, table.c.entity_id == entity_id, table.c.key_lower.in_(lowered)
        )
    )
    if max_tags is not None:
        existing = conn.execute(
            select(func.count())
            .select_from(table)
            .where(table.c.entity_type == entity_type, table.c.entity_id == entity_id)
        ).scalar_one()
        if existing + len(tags) > max_tags:
            raise TooManyTags(max_tags)
    conn.execute(
        insert(table),
        [
            {"entity_type": entity_type, "entity_id": entity_id, "key_lower": k.lower(), "key": k, "value": v}
            for k, v in tags
        ],
    )


def delete_tags(conn: Connection, entity_type: str, entity_id: str) -> None:
    table = schema.tags
    conn.execute(delete(table).where(table.c.entity_type == entity_type, table.c.entity_id == entity_id))
