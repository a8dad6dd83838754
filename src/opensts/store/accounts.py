"""Accounts and their root access keys.

Account ids and account names are unique. The name is checked and the row inserted in one
transaction that concurrent creates cannot interleave: SQLite's write transactions are ``BEGIN
IMMEDIATE`` (one writer at a time), and on PostgreSQL the transaction first takes an advisory
lock (``pg_advisory_xact_lock``, released at commit or rollback), since READ COMMITTED alone would
let two transactions both see the name free. No unique index is needed, so stores made before
names were unique (which may hold duplicates) still migrate.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.db import Database
from opensts.store.errors import AccountExists, AccountNameExists
from opensts.store.records import Account

# Arbitrary constant, distinct from the migrations' lock (store/migrate.py).
_CREATE_LOCK_ID = 0x0575_7302


class AccountRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    def create(self, account_id: str, name: str) -> Account:
        """Insert the account; :class:`AccountExists` / :class:`AccountNameExists` and nothing stored otherwise."""
        account = Account(account_id, name, datetime.now(timezone.utc))
        accounts = schema.accounts
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CREATE_LOCK_ID})
                if conn.execute(select(accounts.c.account_id).where(accounts.c.account_id == account_id)).first():
                    raise AccountExists(account_id)
                if conn.execute(select(accounts.c.account_id).where(accounts.c.name == name).limit(1)).first():
                    raise AccountNameExists(name)
                conn.execute(
                    insert(accounts).values(
                        account_id=account.account_id, name=account.name, created_at=account.created_at
                    )
                )
        except IntegrityError as exc:
            raise AccountExists(account_id) from exc
        return account

    def get(self, account_id: str) -> Account | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(schema.accounts).where(schema.accounts.c.account_id == account_id)).first()
        return Account(row.account_id, row.name, row.created_at) if row else None

    def list(self) -> list[Account]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(schema.accounts).order_by(schema.accounts.c.created_at)).all()
        return [Account(r.account_id, r.name, r.created_at) for r in rows]
