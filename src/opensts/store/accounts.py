"""Accounts and their root access keys."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.records import Account


class AccountExists(Exception):
    pass


class AccountRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, account_id: str, name: str) -> Account:
        account = Account(account_id, name, datetime.now(timezone.utc))
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(schema.accounts).values(
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
