"""Access keys: secrets sealed under the master key at rest, opened only for signature checks."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine, delete, insert, select, update

from opensts.store import schema
from opensts.store.records import Credential
from opensts.tokens.master_key import MasterKey

SECRET_PURPOSE = "access-key-secret"


class AccessKeyRepository:
    def __init__(self, engine: Engine, master_key: MasterKey) -> None:
        self._engine = engine
        self._master_key = master_key

    def create(
        self, access_key_id: str, secret_access_key: str, account_id: str, user_id: str | None = None
    ) -> Credential:
        now = datetime.now(timezone.utc)
        sealed = self._master_key.seal(secret_access_key.encode(), SECRET_PURPOSE)
        with self._engine.begin() as conn:
            conn.execute(
                insert(schema.access_keys).values(
                    access_key_id=access_key_id,
                    account_id=account_id,
                    user_id=user_id,
                    secret_sealed=sealed,
                    status="Active",
                    created_at=now,
                )
            )
        return Credential(access_key_id, secret_access_key, "Active", account_id, now, user_id)

    def replace_secret(self, access_key_id: str, secret_access_key: str) -> None:
        sealed = self._master_key.seal(secret_access_key.encode(), SECRET_PURPOSE)
        with self._engine.begin() as conn:
            conn.execute(
                update(schema.access_keys)
                .where(schema.access_keys.c.access_key_id == access_key_id)
                .values(secret_sealed=sealed)
            )

    def get(self, access_key_id: str) -> Credential | None:
        """The key, its opened secret and its owner; None if no such key."""
        keys, users = schema.access_keys, schema.users
        query = (
            select(keys, users.c.name.label("user_name"), users.c.path.label("user_path"))
            .select_from(keys.outerjoin(users, keys.c.user_id == users.c.user_id))
            .where(keys.c.access_key_id == access_key_id)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        secret = self._master_key.open(row.secret_sealed, SECRET_PURPOSE).decode()
        return Credential(
            row.access_key_id,
            secret,
            row.status,
            row.account_id,
            row.created_at,
            row.user_id,
            row.user_name,
            row.user_path,
        )

    def root_key_ids(self, account_id: str) -> list[str]:
        keys = schema.access_keys
        query = select(keys.c.access_key_id).where(keys.c.account_id == account_id, keys.c.user_id.is_(None))
        with self._engine.connect() as conn:
            return [r.access_key_id for r in conn.execute(query)]

    def delete(self, access_key_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(schema.access_keys).where(schema.access_keys.c.access_key_id == access_key_id))
