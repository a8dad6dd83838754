"""Access keys: secrets sealed under the master key at rest, opened only for signature checks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import ColumnElement, Connection, delete, func, insert, or_, select, update

from opensts.store import schema
from opensts.store.errors import KeyLimitExceeded
from opensts.store.meta import CountedWrites
from opensts.store.queries import lock_row
from opensts.store.records import Credential
from opensts.tokens.master_key import MasterKey

SECRET_PURPOSE = "access-key-secret"
log = logging.getLogger("opensts.store")


@dataclass(frozen=True, slots=True)
class AccessKeyMetadata:
    """A key without its secret: what ListAccessKeys and GetAccessKeyLastUsed show."""

    access_key_id: str
    account_id: str
    user_id: str | None  # None: a root key
    user_name: str | None
    status: str
    created_at: datetime
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


class AccessKeyRepository:
    def __init__(self, engine: CountedWrites, master_key: MasterKey) -> None:
        self._engine = engine
        self._master_key = master_key

    def create(
        self, access_key_id: str, secret_access_key: str, account_id: str, user_id: str | None = None
    ) -> Credential:
        now = datetime.now(timezone.utc)
        sealed = self._master_key.seal(secret_access_key.encode(), SECRET_PURPOSE)
        with self._engine.begin() as conn:
            _insert(conn, access_key_id, sealed, account_id, user_id, now)
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

    # --- IAM management (metadata, no secrets) -------------------------------------------------
    def create_limited(
        self,
        access_key_id: str,
        secret_access_key: str,
        account_id: str,
        user_id: str | None,
        limit: int,
    ) -> Credential:
        """Create a key unless its owner (a user, or the account root when ``user_id`` is None)
        already has ``limit`` keys: KeyLimitExceeded. The count and the insert are one transaction,
        with the owner's row locked on PostgreSQL."""
        keys = schema.access_keys
        now = datetime.now(timezone.utc).replace(microsecond=0)
        sealed = self._master_key.seal(secret_access_key.encode(), SECRET_PURPOSE)
        owner: ColumnElement[bool]
        with self._engine.begin() as conn:
            if user_id is None:
                lock_row(conn, schema.accounts.c.account_id, account_id)
                owner = (keys.c.account_id == account_id) & keys.c.user_id.is_(None)
            else:
                lock_row(conn, schema.users.c.user_id, user_id)
                owner = keys.c.user_id == user_id
            count = conn.execute(select(func.count()).select_from(keys).where(owner)).scalar_one()
            if count >= limit:
                raise KeyLimitExceeded(limit)
            _insert(conn, access_key_id, sealed, account_id, user_id, now)
        return Credential(access_key_id, secret_access_key, "Active", account_id, now, user_id)

    def metadata(self, access_key_id: str) -> AccessKeyMetadata | None:
        rows = self._metadata_query(schema.access_keys.c.access_key_id == access_key_id)
        return rows[0] if rows else None

    def list_for_owner(self, account_id: str, user_id: str | None) -> list[AccessKeyMetadata]:
        """A user's keys, or the account root's when ``user_id`` is None; oldest first."""
        keys = schema.access_keys
        if user_id is None:
            where = (keys.c.account_id == account_id) & keys.c.user_id.is_(None)
        else:
            where = (keys.c.account_id == account_id) & (keys.c.user_id == user_id)
        return self._metadata_query(where)

    def _metadata_query(self, where) -> list[AccessKeyMetadata]:
        keys, users = schema.access_keys, schema.users
        query = (
            select(
                keys.c.access_key_id,
                keys.c.account_id,
                keys.c.user_id,
                users.c.name.label("user_name"),
                keys.c.status,
                keys.c.created_at,
                keys.c.last_used_at,
                keys.c.last_used_service,
                keys.c.last_used_region,
            )
            .select_from(keys.outerjoin(users, keys.c.user_id == users.c.user_id))
            .where(where)
            .order_by(keys.c.created_at, keys.c.access_key_id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AccessKeyMetadata(
                r.access_key_id, r.account_id, r.user_id, r.user_name, r.status, r.created_at,
                r.last_used_at, r.last_used_service, r.last_used_region,
            )
            for r in rows
        ]

    def set_status(self, access_key_id: str, status: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(schema.access_keys)
                .where(schema.access_keys.c.access_key_id == access_key_id)
                .values(status=status)
            )

    def record_last_used(self, uses: list[tuple[str, datetime, str, str]]) -> None:
        """Store (key id, when, service, region) facts; never moves a key's last use backwards."""
        if not uses:
            return
        keys = schema.access_keys
        with self._engine.begin_uncounted() as conn:
            for key_id, when, service, region in uses:
                service, region = service[:32], region[:32]  # the columns' size; names come from clients
                conn.execute(
                    update(keys)
                    .where(
                        keys.c.access_key_id == key_id,
                        or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < when),
                    )
                    .values(last_used_at=when, last_used_service=service, last_used_region=region)
                )


def _insert(
    conn: Connection, access_key_id: str, secret_sealed: bytes, account_id: str, user_id: str | None, now: datetime
) -> None:
    """Store a new active key (its secret already sealed: sealing stays out of the transaction)."""
    conn.execute(
        insert(schema.access_keys).values(
            access_key_id=access_key_id,
            account_id=account_id,
            user_id=user_id,
            secret_sealed=secret_sealed,
            status="Active",
            created_at=now,
        )
    )
