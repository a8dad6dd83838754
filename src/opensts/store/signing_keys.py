"""Session-token signing keys, stored sealed under the master key so every node can share them.

Rows are :class:`~opensts.tokens.keyring.KeyRecord` objects: the rotation policy lives in
``tokens.keyring`` as pure functions; this repository only persists their result.
"""

from __future__ import annotations

from datetime import datetime, timezone

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, text, update

from opensts.store import schema
from opensts.store.db import Database
from opensts.tokens.keyring import KeyRecord


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


# Arbitrary constant: the PostgreSQL advisory lock that serialises key-ring changes across nodes.
_KEYRING_LOCK_ID = 0x0575_7302

KeyRingChange = Callable[[list[KeyRecord]], "Sequence[KeyRecord] | None"]


def _records(conn: Connection) -> list[KeyRecord]:
    rows = conn.execute(select(schema.signing_keys).order_by(schema.signing_keys.c.created_at)).all()
    return [KeyRecord(r.key_id, r.key_sealed, _epoch(r.created_at) or 0, r.active, _epoch(r.not_after)) for r in rows]


class SigningKeyRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def load(self) -> list[KeyRecord]:
        with self._engine.connect() as conn:
            return _records(conn)

    def change(self, compute: KeyRingChange) -> bool:
        """Read the rows, let ``compute`` return the new set (or None for no change) and store it, in
        one transaction that excludes every other writer of the key ring (SQLite: the write lock
        taken at BEGIN; PostgreSQL: an advisory transaction lock). Two nodes rotating at once thus
        rotate one after the other, and neither loses the other's key."""
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEYRING_LOCK_ID})
            new = compute(_records(conn))
            if new is None:
                return False
            self._write(conn, list(new))
        return True

    def save(self, records: list[KeyRecord] | tuple[KeyRecord, ...], *, only_if_empty: bool = False) -> bool:
        """Make the stored set equal to ``records`` in one transaction.

        With ``only_if_empty``, do nothing (and return False) if another process stored keys first.
        """
        return self.change(lambda current: None if (only_if_empty and current) else list(records))

    @staticmethod
    def _write(conn: Connection, records: list[KeyRecord]) -> None:
        write_key_rows(conn, schema.signing_keys, records, lambda record: {"key_sealed": record.sealed_key})


def write_key_rows(conn: Connection, table: Table, records: Sequence[Any], new_row: Callable[[Any], dict[str, Any]]) -> None:
    """Make a key table's rows equal to ``records`` (each with ``key_id``, ``active``, ``not_after``
    and ``created_at``): stale keys deleted, kept ones' state updated, new ones inserted with
    ``new_row(record)``'s columns besides. A key's material is never rewritten. Shared by the
    session-token key ring and the JWT signing keys (store/jwt_signing_keys.py)."""
    wanted = {r.key_id for r in records}
    existing = {r.key_id for r in conn.execute(select(table.c.key_id))}
    stale = existing - wanted
    if stale:
        conn.execute(delete(table).where(table.c.key_id.in_(stale)))
    for record in records:
        values = {"active": record.active, "not_after": _datetime(record.not_after)}
        if record.key_id in existing:
            conn.execute(update(table).where(table.c.key_id == record.key_id).values(**values))
        else:
            conn.execute(insert(table).values(
                key_id=record.key_id, created_at=_datetime(record.created_at), **new_row(record), **values
            ))
