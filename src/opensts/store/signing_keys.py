"""Session-token signing keys, stored sealed under the master key so every node can share them.

Rows are :class:`~opensts.tokens.keyring.KeyRecord` objects: the rotation policy lives in
``tokens.keyring`` as pure functions; this repository only persists their result.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine, delete, insert, select, update

from opensts.store import schema
from opensts.tokens.keyring import KeyRecord


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


class SigningKeyRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self) -> list[KeyRecord]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(schema.signing_keys).order_by(schema.signing_keys.c.created_at)).all()
        return [
            KeyRecord(r.key_id, r.key_sealed, _epoch(r.created_at) or 0, r.active, _epoch(r.not_after)) for r in rows
        ]

    def save(self, records: list[KeyRecord] | tuple[KeyRecord, ...], *, only_if_empty: bool = False) -> bool:
        """Make the stored set equal to ``records`` in one transaction.

        With ``only_if_empty``, do nothing (and return False) if another process stored keys first.
        """
        table = schema.signing_keys
        wanted = {r.key_id: r for r in records}
        with self._engine.begin() as conn:
            existing = {r.key_id for r in conn.execute(select(table.c.key_id))}
            if only_if_empty and existing:
                return False
            stale = existing - wanted.keys()
            if stale:
                conn.execute(delete(table).where(table.c.key_id.in_(stale)))
            for record in records:
                values = {"active": record.active, "not_after": _datetime(record.not_after)}
                if record.key_id in existing:
                    conn.execute(update(table).where(table.c.key_id == record.key_id).values(**values))
                else:
                    conn.execute(
                        insert(table).values(
                            key_id=record.key_id,
                            key_sealed=record.sealed_key,
                            created_at=_datetime(record.created_at),
                            **values,
                        )
                    )
        return True
