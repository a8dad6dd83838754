"""The web console's server-side state: federation sign-in tokens and console sessions.

Both are shared by every worker and node, so a sign-in token redeemed on one node cannot be redeemed
again on another, and signing out on one ends the session everywhere. Rows are keyed by the SHA-256
of what the browser holds (the caller hashes), so a copy of the database opens no session. The
temporary credentials behind a session or a sign-in token are kept as their session token (which
carries its secret access key, sealed by the key ring), sealed once more under the master key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select

from opensts.store import schema
from opensts.store.db import Database
from opensts.tokens.master_key import MasterKey

TOKEN_PURPOSE = "console-session-token"


@dataclass(frozen=True, slots=True)
class SigninGrant:
    """What a redeemed sign-in token grants: a console session for these credentials until then."""

    session_token: str = field(repr=False)
    session_expires_at: datetime


@dataclass(frozen=True, slots=True)
class ConsoleSessionRecord:
    account_id: str
    principal_arn: str
    session_token: str = field(repr=False)
    created_at: datetime
    expires_at: datetime


class ConsoleSessionRepository:
    def __init__(self, engine: Database, master_key: MasterKey) -> None:
        self._engine = engine
        self._master_key = master_key

    def _seal(self, session_token: str) -> bytes:
        return self._master_key.seal(session_token.encode(), TOKEN_PURPOSE)

    def _open(self, sealed: bytes) -> str:
        return self._master_key.open(sealed, TOKEN_PURPOSE).decode()

    # --- sign-in tokens --------------------------------------------------------------------------
    def add_signin_token(
        self, token_hash: str, session_token: str, session_expires_at: datetime, expires_at: datetime
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(schema.console_signin_tokens).values(
                token_hash=token_hash, session_token_sealed=self._seal(session_token),
                session_expires_at=session_expires_at, expires_at=expires_at,
            ))

    def redeem_signin_token(self, token_hash: str, now: datetime) -> SigninGrant | None:
        """The grant of an unexpired sign-in token, which is deleted: of concurrent redemptions, the
        one whose delete removed the row wins, the others get None."""
        table = schema.console_signin_tokens
        with self._engine.begin() as conn:
            row = conn.execute(
                select(table.c.session_token_sealed, table.c.session_expires_at, table.c.expires_at)
                .where(table.c.token_hash == token_hash)
            ).first()
            if row is None:
                return None
            removed = conn.execute(delete(table).where(table.c.token_hash == token_hash)).rowcount
        if removed != 1 or row.expires_at <= now:
            return None
        return SigninGrant(self._open(row.session_token_sealed), row.session_expires_at)

    # --- console sessions ------------------------------------------------------------------------
    def open_session(
        self, session_hash: str, account_id: str, principal_arn: str, session_token: str,
        created_at: datetime, expires_at: datetime,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(schema.console_sessions).values(
                session_hash=session_hash, account_id=account_id, principal_arn=principal_arn,
                session_token_sealed=self._seal(session_token), created_at=created_at, expires_at=expires_at,
            ))

    def get_session(self, session_hash: str, now: datetime) -> ConsoleSessionRecord | None:
        """The session, unless it was closed or has expired."""
        table = schema.console_sessions
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.session_hash == session_hash)).first()
        if row is None or row.expires_at <= now:
            return None
        return ConsoleSessionRecord(
            row.account_id, row.principal_arn, self._open(row.session_token_sealed), row.created_at, row.expires_at
        )

    def close_session(self, session_hash: str) -> bool:
        table = schema.console_sessions
        with self._engine.begin() as conn:
            return bool(conn.execute(delete(table).where(table.c.session_hash == session_hash)).rowcount)

    def prune(self, now: datetime) -> int:
        """Remove expired sessions and sign-in tokens; how many rows went."""
        removed = 0
        with self._engine.begin() as conn:
            for table in (schema.console_sessions, schema.console_signin_tokens):
                removed += conn.execute(delete(table).where(table.c.expires_at <= now)).rowcount
        return removed
