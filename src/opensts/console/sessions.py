"""Console sessions: server-side, bound to the temporary credentials the console signs its calls with.

The browser holds only a random session id (:data:`COOKIE_NAME`, 256 bits, ``HttpOnly``,
``SameSite=Strict``, ``Secure`` under TLS: the edge sets it); the store keeps its SHA-256 with the
credentials' session token (``store/console_sessions.py``). A session ends when its credentials
expire or at sign-out, which deletes it for every node. Each session has a CSRF token, an HMAC of
the session id: a page that changes something carries it, and a request without it is refused. A
site that cannot read the cookie cannot compute it. All functions here are blocking (store access).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from opensts.console.federation import session_claims, token_hash
from opensts.runtime import Runtime
from opensts.tokens.session_token import SessionClaims

COOKIE_NAME = "opensts-console"
_MAX_COOKIE_CHARS = 128


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser: who, until when, and the credentials its pages call the APIs with."""

    session_id: str = field(repr=False)
    account_id: str
    principal_arn: str
    claims: SessionClaims = field(repr=False)
    session_token: str = field(repr=False)
    expires_at: datetime

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.session_id)


def open_session(runtime: Runtime, session_token: str, expires_at: datetime, now: datetime) -> ConsoleSession:
    """A new console session for these credentials until ``expires_at`` (its ``session_id`` is the cookie)."""
    claims = session_claims(runtime, session_token)
    session_id = secrets.token_urlsafe(32)
    runtime.store.console.open_session(
        token_hash(session_id), claims.account_id, claims.principal_arn, session_token, now, expires_at
    )
    return ConsoleSession(session_id, claims.account_id, claims.principal_arn, claims, session_token, expires_at)


def pending_session(runtime: Runtime, session_token: str, expires_at: datetime) -> ConsoleSession:
    """A session not opened (nothing stored, no cookie): the credentials of a sign-in that must first
    change its password, to make that one call with."""
    claims = session_claims(runtime, session_token)
    return ConsoleSession("", claims.account_id, claims.principal_arn, claims, session_token, expires_at)


def find_session(runtime: Runtime, session_id: str | None, now: datetime) -> ConsoleSession | None:
    """The open session with this id, or None (unknown, signed out or expired)."""
    if not session_id or len(session_id) > _MAX_COOKIE_CHARS:
        return None
    record = runtime.store.console.get_session(token_hash(session_id), now)
    if record is None:
        return None
    claims = session_claims(runtime, record.session_token)
    return ConsoleSession(
        session_id, record.account_id, record.principal_arn, claims, record.session_token, record.expires_at
    )


def close_session(runtime: Runtime, session_id: str) -> bool:
    """Sign out: the session ends on every node. False if it was not open."""
    if not session_id or len(session_id) > _MAX_COOKIE_CHARS:
        return False
    return runtime.store.console.close_session(token_hash(session_id))


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"opensts/console/csrf", hashlib.sha256).hexdigest()


def csrf_matches(session: ConsoleSession, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf_token.encode(), (sent or "").encode("utf-8", "replace"))
