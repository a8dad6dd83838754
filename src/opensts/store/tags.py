"""Tags of IAM entities: users, roles, customer managed policies, OIDC and SAML providers, and
virtual MFA devices, all in the ``tags`` table under (entity type, entity id).

AWS's rules, kept here once for every kind of entity
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html):

- Keys compare case-insensitively and keep the spelling they were last written with: tagging
  ``Team`` over an existing ``team`` replaces both the value and the spelling.
- An entity holds at most 50 tags
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). A Tag* call is
  refused only if the entity would end up with more distinct keys than that; a call that only
  overwrites keys it already has never fails, whatever the count.
- Tags are listed sorted by key, case-insensitively.

Every function works inside the caller's transaction. :func:`tag_entity` and
:func:`untag_entity` lock the entity's row first, so two concurrent Tag* calls on one entity
cannot both pass the limit check (PostgreSQL; SQLite write transactions are serial already).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, insert, select

from opensts.store import schema
from opensts.store.errors import TooManyTags
from opensts.store.queries import lock_row

MAX_TAGS_PER_ENTITY = 50

USER = "user"
ROLE = "role"
POLICY = "policy"
OIDC = "oidc"
SAML = "saml"
MFA = "mfa"

Tags = list[tuple[str, str]]

# The column that identifies each kind of tagged entity (its tags' ``entity_id``).
_ID_COLUMNS = {
    USER: schema.users.c.user_id,
    ROLE: schema.roles.c.role_id,
    POLICY: schema.managed_policies.c.policy_id,
    OIDC: schema.oidc_providers.c.arn,
    SAML: schema.saml_providers.c.arn,
    MFA: schema.mfa_devices.c.serial_number,
}


def read_tags(conn: Connection, entity_type: str, entity_id: str) -> Tags:
    """The entity's tags (key, value), sorted by key case-insensitively."""
    t = schema.tags
    rows = conn.execute(
        select(t.c.key, t.c.value)
        .where(t.c.entity_type == entity_type, t.c.entity_id == entity_id)
        .order_by(t.c.key_lower)
    ).all()
    return [(r.key, r.value) for r in rows]


def read_tags_of(conn: Connection, entity_type: str, entity_ids: Iterable[str]) -> dict[str, Tags]:
    """The tags of several entities of one type in one query (list calls): every id maps to its
    tags as :func:`read_tags` returns them, an entity without tags to ``[]``."""
    out: dict[str, Tags] = {i: [] for i in entity_ids}
    if not out:
        return out
    t = schema.tags
    rows = conn.execute(
        select(t.c.entity_id, t.c.key, t.c.value)
        .where(t.c.entity_type == entity_type, t.c.entity_id.in_(list(out)))
        .order_by(t.c.entity_id, t.c.key_lower)
    ).all()
    for r in rows:
        out[r.entity_id].append((r.key, r.value))
    return out


def merge_tags(
    conn: Connection,
    entity_type: str,
    entity_id: str,
    tags: Iterable[tuple[str, str]],
    *,
    limit: int = MAX_TAGS_PER_ENTITY,
) -> None:
    """Add tags, or overwrite those whose key (compared case-insensitively) the entity has; the
    key's new spelling wins. :class:`TooManyTags` (and nothing written) if the call adds a key and
    the entity would then have more than ``limit`` distinct keys. A key given twice: the last one
    wins (the IAM actions refuse duplicate keys before they get here)."""
    wanted = {key.lower(): (key, value) for key, value in tags}
    if not wanted:
        return
    t = schema.tags
    owner = (t.c.entity_type == entity_type, t.c.entity_id == entity_id)
    existing = set(conn.execute(select(t.c.key_lower).where(*owner)).scalars())
    added = wanted.keys() - existing
    if added and len(existing) + len(added) > limit:
        raise TooManyTags(limit)
    conn.execute(delete(t).where(*owner, t.c.key_lower.in_(list(wanted))))
    conn.execute(
        insert(t),
        [
            {"entity_type": entity_type, "entity_id": entity_id, "key_lower": lower, "key": key, "value": value}
            for lower, (key, value) in wanted.items()
        ],
    )


def remove_tags(conn: Connection, entity_type: str, entity_id: str, keys: Iterable[str]) -> None:
    """Remove the tags with these keys (case-insensitively); keys the entity lacks are ignored."""
    lowered = list({k.lower() for k in keys})
    if not lowered:
        return
    t = schema.tags
    conn.execute(
        delete(t).where(t.c.entity_type == entity_type, t.c.entity_id == entity_id, t.c.key_lower.in_(lowered))
    )


def drop_tags(conn: Connection, entity_type: str, entity_id: str) -> None:
    """Remove all the entity's tags (it is being deleted)."""
    t = schema.tags
    conn.execute(delete(t).where(t.c.entity_type == entity_type, t.c.entity_id == entity_id))


def tag_new_entity(conn: Connection, entity_type: str, entity_id: str, tags: Iterable[tuple[str, str]]) -> None:
    """The tags of an entity just inserted in this transaction. Tags left under its id by an earlier
    entity of the same id (providers and MFA devices are keyed by ARN or serial number, which a
    client can reuse) are dropped first."""
    drop_tags(conn, entity_type, entity_id)
    merge_tags(conn, entity_type, entity_id, tags)


def tag_entity(
    conn: Connection,
    entity_type: str,
    entity_id: str,
    tags: Iterable[tuple[str, str]],
    *,
    limit: int = MAX_TAGS_PER_ENTITY,
) -> bool:
    """Tag* on an existing entity: lock its row, then :func:`merge_tags`. False (nothing written)
    if there is no such entity."""
    if not lock_row(conn, _ID_COLUMNS[entity_type], entity_id):
        return False
    merge_tags(conn, entity_type, entity_id, tags, limit=limit)
    return True


def untag_entity(conn: Connection, entity_type: str, entity_id: str, keys: Iterable[str]) -> bool:
    """Untag* on an existing entity: lock its row, then :func:`remove_tags`. False (nothing
    written) if there is no such entity."""
    if not lock_row(conn, _ID_COLUMNS[entity_type], entity_id):
        return False
    remove_tags(conn, entity_type, entity_id, keys)
    return True
