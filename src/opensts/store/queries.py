"""Small query pieces the repositories share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.errors import NameTaken
from opensts.store.meta import CountedWrites


def under_path(path_column: Any, prefix: str) -> ColumnElement[bool]:
    """Rows whose path starts with ``prefix``, compared case-sensitively as AWS does (the List*
    actions' ``PathPrefix``). Not ``LIKE``: SQLite's ``LIKE`` ignores the case of ASCII letters."""
    return func.substr(path_column, 1, len(prefix)) == prefix


def lock_row(conn: Connection, id_column: Any, value: str) -> bool:
    """Lock the row whose ``id_column`` is ``value`` until ``conn``'s transaction ends, so writers of
    one entity take turns (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite write transactions are
    serial already). False if there is no such row."""
    return conn.execute(select(id_column).where(id_column == value).with_for_update()).first() is not None


def policy_blockers(owner_type: str, owner_id: str) -> tuple[tuple[str, Select[Any]], ...]:
    """What keeps a user or group from being deleted on the policy side, as (reason, query) for
    :func:`first_blocker`: inline policies (``policies``), then attached ones (``attached_policies``:
    customer or AWS managed)."""
    inline, attached, aws = schema.inline_policies, schema.policy_attachments, schema.aws_policy_attachments
    return (
        ("policies", select(inline.c.name).where(inline.c.owner_type == owner_type, inline.c.owner_id == owner_id)),
        (
            "attached_policies",
            select(attached.c.policy_id).where(attached.c.entity_type == owner_type, attached.c.entity_id == owner_id),
        ),
        (
            "attached_policies",
            select(aws.c.policy_arn).where(aws.c.entity_type == owner_type, aws.c.entity_id == owner_id),
        ),
    )


def first_blocker(conn: Connection, checks: Iterable[tuple[str, Select[Any]]]) -> str | None:
    """The reason of the first (reason, query) whose query finds a row; None if none does."""
    for reason, query in checks:
        if conn.execute(query.limit(1)).first() is not None:
            return reason
    return None


def rename(engine: CountedWrites, id_column: Any, entity_id: str, new_name: str | None, new_path: str | None) -> None:
    """UpdateUser/UpdateGroup/UpdateServerCertificate: a new name (unique case-insensitively) and/or path; NameTaken on a clash."""
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
