"""One-time facts shared by every process and node (SAML assertion ids): a fact can be recorded
once; recording it again fails until it expires and is pruned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.db import Database


class ReplayRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def record_once(self, kind: str, item: str, expires_at: datetime) -> bool:
        """True the first time (kind, item) is recorded; False if it already was (a replay)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(schema.replay_cache).values(kind=kind, item=item, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    def prune(self, kind: str, now: datetime) -> None:
        table = schema.replay_cache
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(table.c.kind == kind, table.c.expires_at < now))
