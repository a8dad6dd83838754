"""The deployment's JWT signing keys (GetWebIdentityToken), sealed under the master key.

Rows are :class:`~opensts.tokens.jwt_keys.JwtKeyRecord` objects: the rotation policy lives in
``tokens.jwt_keys`` as pure functions; this repository only persists their result, in one
transaction that excludes every other writer of these keys (SQLite: the write lock taken at BEGIN;
PostgreSQL: an advisory transaction lock), so that two nodes creating or rotating keys at once do so
one after the other and agree on the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from sqlalchemy import Connection, select, text

from opensts.store import schema
from opensts.store.db import Database
from opensts.store.signing_keys import write_key_rows
from opensts.tokens.jwt_keys import JwtKeyRecord

# Arbitrary constant, distinct from the key ring's and the accounts' locks.
_JWT_KEYS_LOCK_ID = 0x0575_7307

JwtKeyChange = Callable[[list[JwtKeyRecord]], "Sequence[JwtKeyRecord] | None"]


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _datetime(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _records(conn: Connection) -> list[JwtKeyRecord]:
    table = schema.jwt_signing_keys
    rows = conn.execute(select(table).order_by(table.c.created_at, table.c.key_id)).all()
    return [
        JwtKeyRecord(r.key_id, r.algorithm, r.key_sealed, r.public_jwk, _epoch(r.created_at) or 0, r.active,
                     _epoch(r.not_after))
        for r in rows
    ]


class JwtSigningKeyRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def load(self) -> list[JwtKeyRecord]:
        with self._engine.connect() as conn:
            return _records(conn)

    def change(self, compute: JwtKeyChange) -> list[JwtKeyRecord]:
        """Let ``compute`` turn the current rows into the new set (None: no change) and store it, in
        one exclusive transaction; returns the rows as they are afterwards."""
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _JWT_KEYS_LOCK_ID})
            current = _records(conn)
            new = compute(current)
            if new is None:
                return current
            self._write(conn, list(new))
            return list(new)

    @staticmethod
    def _write(conn: Connection, records: list[JwtKeyRecord]) -> None:
        write_key_rows(conn, schema.jwt_signing_keys, records, lambda record: {
            "algorithm": record.algorithm, "key_sealed": record.sealed_key, "public_jwk": record.public_jwk,
        })
