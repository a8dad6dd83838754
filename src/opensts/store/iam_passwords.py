"""IAM users' console passwords (login profiles) and the hashes of their recent passwords.

A password is stored only as an argon2id hash (``argon2-cffi``'s :class:`~argon2.PasswordHasher`
with its default parameters: RFC 9106's second recommended profile, 64 MiB of memory, 3 passes, a
random 16-byte salt per hash, in the PHC string format that records the parameters). It is never
sealed (nothing could ever decrypt it back), never returned by any action and never logged.

Every password set (CreateLoginProfile, UpdateLoginProfile with a password, ChangePassword) also
appends its hash to the user's history, trimmed to the newest :data:`HISTORY_KEPT` (AWS's largest
``PasswordReusePrevention``). The history lives as long as the user (DeleteLoginProfile keeps it, so
deleting and re-creating a profile does not escape reuse prevention) and goes with DeleteUser.

:func:`verify_password` is what the web console's sign-in will call: a pure check (no write), doing
the same hashing work whether or not the user or its profile exists, so that its timing does not
tell which user names have passwords.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.errors import EntityExists
from opensts.store.meta import CountedWrites

if TYPE_CHECKING:
    from opensts.store import Store

HISTORY_KEPT: Final = 24  # passwordReusePreventionType's maximum

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Each hash or check takes 64 MiB and tens of milliseconds of one core: at most two at once per
# process, so that a burst of password calls (a reuse check alone verifies up to 24 hashes) queues
# instead of taking a worker's memory and every thread of its pool.
_HASHING_SLOTS = threading.BoundedSemaphore(2)


@functools.cache
def _dummy_hash() -> str:
    """What a failed lookup verifies against, so that it costs what a real check does (hashed once
    per process, on first use: not at import, which every CLI command pays)."""
    with _HASHING_SLOTS:
        return _hasher.hash("opensts: no such login profile")


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``: a fresh random salt each time."""
    with _HASHING_SLOTS:
        return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from (constant-time compare)."""
    try:
        with _HASHING_SLOTS:
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class LoginProfileRecord:
    user_id: str
    account_id: str
    password_hash: str = field(repr=False)  # kept out of reprs (tracebacks, debug logs)
    password_reset_required: bool
    max_signin_session_duration: int | None
    created_at: datetime
    password_changed_at: datetime
    password_last_used: datetime | None


def _record(row) -> LoginProfileRecord:
    return LoginProfileRecord(
        row.user_id, row.account_id, row.password_hash, row.password_reset_required,
        row.max_signin_session_duration, row.created_at, row.password_changed_at, row.password_last_used,
    )


def password_expired(changed_at: datetime, max_password_age_days: int | None, now: datetime) -> bool:
    """Whether a password set at ``changed_at`` has outlived the account's ``MaxPasswordAge``
    (None or 0: passwords never expire). An expired password must be changed at the next sign-in."""
    if not max_password_age_days:
        return False
    return now >= changed_at + timedelta(days=max_password_age_days)


class _Unset:
    pass


UNSET: Final = _Unset()  # "leave as it is" for optional updates whose None means "clear"


class PasswordRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- reads ---------------------------------------------------------------------------------
    def get(self, user_id: str) -> LoginProfileRecord | None:
        table = schema.login_profiles
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.user_id == user_id)).first()
        return _record(row) if row else None

    def recent_hashes(self, user_id: str, count: int) -> list[str]:
        """The hashes of the user's ``count`` most recent passwords (the current one first)."""
        history = schema.password_history
        count = max(0, min(count, HISTORY_KEPT))
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(history.c.password_hash)
                .where(history.c.user_id == user_id)
                .order_by(history.c.seq.desc())
                .limit(count)
            ).all()
        return [r.password_hash for r in rows]

    # --- writes --------------------------------------------------------------------------------
    def create(
        self,
        user_id: str,
        account_id: str,
        password_hash: str,
        *,
        reset_required: bool,
        max_signin_session_duration: int | None,
        now: datetime,
    ) -> LoginProfileRecord:
        """Create the profile; :class:`EntityExists` if the user has one (nothing stored then)."""
        now = now.replace(microsecond=0)
        table = schema.login_profiles
        try:
            with self._engine.begin() as conn:
                if conn.execute(select(table.c.user_id).where(table.c.user_id == user_id)).first():
                    raise EntityExists(user_id)
                conn.execute(
                    insert(table).values(
                        user_id=user_id, account_id=account_id, password_hash=password_hash,
                        password_reset_required=reset_required, max_signin_session_duration=max_signin_session_duration,
                        created_at=now, password_changed_at=now,
                    )
                )
                _remember(conn, user_id, password_hash, now)
        except IntegrityError as exc:
            # A concurrent create won, or the user was deleted meanwhile.
            raise EntityExists(user_id) from exc
        return LoginProfileRecord(
            user_id, account_id, password_hash, reset_required, max_signin_session_duration, now, now, None
        )

    def update(
        self,
        user_id: str,
        *,
        now: datetime,
        password_hash: str | None = None,
        reset_required: bool | None = None,
        max_signin_session_duration: int | None | _Unset = UNSET,
    ) -> bool:
        """Change what is given; False if the user has no profile. A new password restarts its age."""
        table = schema.login_profiles
        now = now.replace(microsecond=0)
        values: dict[str, object] = {}
        if password_hash is not None:
            values.update(password_hash=password_hash, password_changed_at=now)
        if reset_required is not None:
            values["password_reset_required"] = reset_required
        if not isinstance(max_signin_session_duration, _Unset):
            values["max_signin_session_duration"] = max_signin_session_duration
        with self._engine.begin() as conn:
            if not values:
                return conn.execute(select(table.c.user_id).where(table.c.user_id == user_id)).first() is not None
            result = conn.execute(update(table).where(table.c.user_id == user_id).values(**values))
            if not result.rowcount:
                return False
            if password_hash is not None:
                _remember(conn, user_id, password_hash, now)
        return True

    def record_use(self, user_id: str, when: datetime) -> None:
        """A console sign-in used the password (``PasswordLastUsed``): no cache holds it, so the
        write is uncounted (a sign-in must not drop every node's caches)."""
        table = schema.login_profiles
        with self._engine.begin_uncounted() as conn:
            conn.execute(update(table).where(table.c.user_id == user_id).values(password_last_used=when))

    def delete(self, user_id: str) -> bool:
        """Delete the profile (the history stays with the user); False if there was none."""
        table = schema.login_profiles
        with self._engine.begin() as conn:
            return bool(conn.execute(delete(table).where(table.c.user_id == user_id)).rowcount)


def _remember(conn: Connection, user_id: str, password_hash: str, now: datetime) -> None:
    """Append to the user's password history and keep only the newest :data:`HISTORY_KEPT`."""
    history = schema.password_history
    last = conn.execute(select(func.max(history.c.seq)).where(history.c.user_id == user_id)).scalar()
    seq = (last or 0) + 1
    conn.execute(insert(history).values(user_id=user_id, seq=seq, password_hash=password_hash, set_at=now))
    conn.execute(delete(history).where(history.c.user_id == user_id, history.c.seq <= seq - HISTORY_KEPT))


def drop_user_passwords(conn: Connection, user_id: str) -> None:
    """DeleteUser's part: the user's password history (its profile must be gone already)."""
    conn.execute(delete(schema.password_history).where(schema.password_history.c.user_id == user_id))


def verify_password(store: Store, account_id: str, user_name: str, password: str) -> bool:
    """Whether ``password`` is the console password of IAM user ``user_name`` of ``account_id``.

    For the web console's sign-in. Pure (it writes nothing: recording ``PasswordLastUsed`` and the
    rules of a password that must be changed — reset required, expired under MaxPasswordAge,
    HardExpiry — are the sign-in's to apply with :func:`password_expired`). When the user or its
    login profile does not exist, the password is checked against a dummy hash, so the call does the
    same work and answers False in about the same time.
    """
    user = store.users.get(account_id, user_name)
    profile = store.passwords.get(user.user_id) if user is not None else None
    if profile is None:
        password_matches(_dummy_hash(), password)
        return False
    return password_matches(profile.password_hash, password)
