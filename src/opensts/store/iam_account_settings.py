"""Account-wide IAM settings: the account password policy, the account alias, and the STS
preferences (SetSecurityTokenServicePreferences).

The password policy is one row per account, replaced whole by each update (AWS's
UpdateAccountPasswordPolicy has no partial updates). An alias is unique across every account of the
deployment (the primary key) and an account has at most one (a unique account id): creating a new
one replaces the old in the same transaction, as AWS's does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields as dataclass_fields
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.errors import EntityExists
from opensts.store.meta import CountedWrites


@dataclass(frozen=True, slots=True)
class PasswordPolicyRecord:
    """An account's password policy, with AWS's defaults for what the update left out."""

    minimum_password_length: int = 6
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase_characters: bool = False
    require_lowercase_characters: bool = False
    allow_users_to_change_password: bool = False
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool | None = None


_POLICY_COLUMNS = tuple(f.name for f in dataclass_fields(PasswordPolicyRecord))


class AccountSettingsRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- password policy ---------------------------------------------------------------------------
    def password_policy(self, account_id: str) -> PasswordPolicyRecord | None:
        table = schema.account_password_policies
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.account_id == account_id)).first()
        if row is None:
            return None
        return PasswordPolicyRecord(**{name: getattr(row, name) for name in _POLICY_COLUMNS})

    def put_password_policy(self, account_id: str, policy: PasswordPolicyRecord, now: datetime) -> None:
        table = schema.account_password_policies
        values = {name: getattr(policy, name) for name in _POLICY_COLUMNS}
        with self._engine.begin() as conn:
            # Under the account row's lock on PostgreSQL, so two first updates cannot both insert.
            _lock_account(conn, account_id)
            done = conn.execute(update(table).where(table.c.account_id == account_id).values(updated_at=now, **values))
            if not done.rowcount:
                conn.execute(insert(table).values(account_id=account_id, updated_at=now, **values))

    def delete_password_policy(self, account_id: str) -> bool:
        table = schema.account_password_policies
        with self._engine.begin() as conn:
            return bool(conn.execute(delete(table).where(table.c.account_id == account_id)).rowcount)

    # --- account alias -----------------------------------------------------------------------------
    def alias(self, account_id: str) -> str | None:
        table = schema.account_aliases
        with self._engine.connect() as conn:
            return conn.execute(select(table.c.alias).where(table.c.account_id == account_id)).scalar()

    def account_for_alias(self, alias: str) -> str | None:
        """The account that has this alias (the console's sign-in takes an account id or alias)."""
        table = schema.account_aliases
        with self._engine.connect() as conn:
            return conn.execute(select(table.c.account_id).where(table.c.alias == alias)).scalar()

    def set_alias(self, account_id: str, alias: str, now: datetime) -> None:
        """Give the account this alias (replacing its old one); :class:`EntityExists` if another
        account has it. Setting the alias the account already has changes nothing."""
        table = schema.account_aliases
        try:
            with self._engine.begin() as conn:
                _lock_account(conn, account_id)
                owner = conn.execute(select(table.c.account_id).where(table.c.alias == alias)).scalar()
                if owner == account_id:
                    return
                if owner is not None:
                    raise EntityExists(alias)
                conn.execute(delete(table).where(table.c.account_id == account_id))
                conn.execute(insert(table).values(alias=alias, account_id=account_id, created_at=now))
        except IntegrityError as exc:
            raise EntityExists(alias) from exc  # another account took it concurrently

    def delete_alias(self, account_id: str, alias: str) -> bool:
        table = schema.account_aliases
        with self._engine.begin() as conn:
            done = conn.execute(delete(table).where(table.c.account_id == account_id, table.c.alias == alias))
            return bool(done.rowcount)

    # --- STS preferences -----------------------------------------------------------------------------
    def global_endpoint_token_version(self, account_id: str) -> str | None:
        table = schema.account_settings
        with self._engine.connect() as conn:
            return conn.execute(
                select(table.c.global_endpoint_token_version).where(table.c.account_id == account_id)
            ).scalar()

    def set_global_endpoint_token_version(self, account_id: str, version: str, now: datetime) -> None:
        table = schema.account_settings
        with self._engine.begin() as conn:
            _lock_account(conn, account_id)
            done = conn.execute(
                update(table).where(table.c.account_id == account_id)
                .values(global_endpoint_token_version=version, updated_at=now)
            )
            if not done.rowcount:
                conn.execute(
                    insert(table).values(account_id=account_id, global_endpoint_token_version=version, updated_at=now)
                )


def _lock_account(conn: Connection, account_id: str) -> None:
    """Serialise an account's settings writers (PostgreSQL row lock; SQLite writers are serial)."""
    accounts = schema.accounts
    conn.execute(select(accounts.c.account_id).where(accounts.c.account_id == account_id).with_for_update())
