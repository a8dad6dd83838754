"""The other credentials of IAM users: SSH public keys, X.509 signing certificates and
service-specific credentials.

Every write is one transaction that holds the owning user's row lock while it counts, so two
concurrent uploads cannot both pass a quota. SSH keys and signing certificates are public material
and are stored as uploaded. A service-specific credential's password (or API key secret) is stored
only as a memory-hard hash (:func:`hash_secret`, scrypt from the standard library): it is never
sealed, so nothing, not even the master key, turns the stored row back into the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.errors import StoreError
from opensts.store.meta import CountedWrites
from opensts.store.queries import lock_row


class CredentialLimitExceeded(StoreError):
    """The owner already holds as many of these credentials as allowed."""


class DuplicateCredential(StoreError):
    """The same SSH key (for this user) or certificate (in this account) is stored already."""


# --- Hashing of service passwords ----------------------------------------------------------------
# scrypt with N=2^14, r=8, p=1 (16 MiB, the parameters RFC 7914 and OWASP name for interactive use).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def hash_secret(secret: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64, no padding) of ``secret`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32
    )
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (a :func:`hash_secret` value); False if malformed."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        # Bounded: parameters this code would never write are refused, not computed.
        if n > 2**20 or r > 32 or p > 16:
            return False
        digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM * 4, dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


# --- Records -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SshKeyRecord:
    key_id: str
    account_id: str
    user_id: str
    body: str
    fingerprint: str
    status: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class SigningCertificateRecord:
    certificate_id: str
    account_id: str
    user_id: str | None  # None: the account root's
    body: str
    fingerprint: str
    status: str
    uploaded_at: datetime


@dataclass(frozen=True, slots=True)
class ServiceCredentialRecord:
    credential_id: str
    account_id: str
    user_id: str
    user_name: str
    service_name: str
    service_user_name: str
    status: str
    created_at: datetime
    expires_at: datetime | None


def _ssh(row) -> SshKeyRecord:
    return SshKeyRecord(row.key_id, row.account_id, row.user_id, row.body, row.fingerprint, row.status, row.uploaded_at)


def _cert(row) -> SigningCertificateRecord:
    return SigningCertificateRecord(
        row.certificate_id, row.account_id, row.user_id, row.body, row.fingerprint, row.status, row.uploaded_at
    )


def _service_query():
    c, users = schema.service_specific_credentials, schema.users
    return select(c, users.c.name.label("user_name")).select_from(c.join(users, c.c.user_id == users.c.user_id))


def _service(row) -> ServiceCredentialRecord:
    return ServiceCredentialRecord(
        row.credential_id, row.account_id, row.user_id, row.user_name, row.service_name, row.service_user_name,
        row.status, row.created_at, row.expires_at,
    )


class UserCredentialRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- SSH public keys -------------------------------------------------------------------------
    def upload_ssh_key(
        self, key_id: str, account_id: str, user_id: str, body: str, fingerprint: str, now: datetime, limit: int
    ) -> SshKeyRecord:
        """Store an active key; DuplicateCredential if the user has it, CredentialLimitExceeded at ``limit``."""
        t = schema.ssh_public_keys
        try:
            with self._engine.begin() as conn:
                lock_row(conn, schema.users.c.user_id, user_id)
                if conn.execute(select(t.c.key_id).where(t.c.user_id == user_id, t.c.fingerprint == fingerprint)).first():
                    raise DuplicateCredential(fingerprint)
                if _count(conn, t, t.c.user_id == user_id) >= limit:
                    raise CredentialLimitExceeded(limit)
                conn.execute(
                    insert(t).values(
                        key_id=key_id, account_id=account_id, user_id=user_id, body=body, fingerprint=fingerprint,
                        status="Active", uploaded_at=now,
                    )
                )
        except IntegrityError as exc:
            raise DuplicateCredential(fingerprint) from exc
        return SshKeyRecord(key_id, account_id, user_id, body, fingerprint, "Active", now)

    def ssh_key(self, user_id: str, key_id: str) -> SshKeyRecord | None:
        t = schema.ssh_public_keys
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.key_id == key_id, t.c.user_id == user_id)).first()
        return _ssh(row) if row else None

    def ssh_keys(self, user_id: str) -> list[SshKeyRecord]:
        t = schema.ssh_public_keys
        with self._engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.user_id == user_id).order_by(t.c.key_id)).all()
        return [_ssh(r) for r in rows]

    def set_ssh_key_status(self, user_id: str, key_id: str, status: str) -> bool:
        t = schema.ssh_public_keys
        with self._engine.begin() as conn:
            result = conn.execute(update(t).where(t.c.key_id == key_id, t.c.user_id == user_id).values(status=status))
        return bool(result.rowcount)

    def delete_ssh_key(self, user_id: str, key_id: str) -> bool:
        t = schema.ssh_public_keys
        with self._engine.begin() as conn:
            result = conn.execute(delete(t).where(t.c.key_id == key_id, t.c.user_id == user_id))
        return bool(result.rowcount)

    # --- Signing certificates ------------------------------------------------------------------
    def upload_certificate(
        self,
        certificate_id: str,
        account_id: str,
        user_id: str | None,
        body: str,
        fingerprint: str,
        now: datetime,
        limit: int,
    ) -> SigningCertificateRecord:
        """Store an active certificate of the user (None: the root); DuplicateCredential if the
        account holds it already, CredentialLimitExceeded at ``limit``."""
        t = schema.signing_certificates
        owner = t.c.user_id == user_id if user_id else (t.c.user_id.is_(None) & (t.c.account_id == account_id))
        try:
            with self._engine.begin() as conn:
                if user_id:
                    lock_row(conn, schema.users.c.user_id, user_id)
                else:
                    lock_row(conn, schema.accounts.c.account_id, account_id)
                taken = select(t.c.certificate_id).where(t.c.account_id == account_id, t.c.fingerprint == fingerprint)
                if conn.execute(taken).first():
                    raise DuplicateCredential(fingerprint)
                if _count(conn, t, owner) >= limit:
                    raise CredentialLimitExceeded(limit)
                conn.execute(
                    insert(t).values(
                        certificate_id=certificate_id, account_id=account_id, user_id=user_id, body=body,
                        fingerprint=fingerprint, status="Active", uploaded_at=now,
                    )
                )
        except IntegrityError as exc:
            raise DuplicateCredential(fingerprint) from exc
        return SigningCertificateRecord(certificate_id, account_id, user_id, body, fingerprint, "Active", now)

    def certificates(self, account_id: str, user_id: str | None) -> list[SigningCertificateRecord]:
        t = schema.signing_certificates
        owner = t.c.user_id == user_id if user_id else t.c.user_id.is_(None)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t).where(t.c.account_id == account_id, owner).order_by(t.c.certificate_id)
            ).all()
        return [_cert(r) for r in rows]

    def set_certificate_status(self, account_id: str, user_id: str | None, certificate_id: str, status: str) -> bool:
        t = schema.signing_certificates
        with self._engine.begin() as conn:
            result = conn.execute(
                update(t).where(*_certificate_of(account_id, user_id, certificate_id)).values(status=status)
            )
        return bool(result.rowcount)

    def delete_certificate(self, account_id: str, user_id: str | None, certificate_id: str) -> bool:
        t = schema.signing_certificates
        with self._engine.begin() as conn:
            result = conn.execute(delete(t).where(*_certificate_of(account_id, user_id, certificate_id)))
        return bool(result.rowcount)

    # --- Service-specific credentials -----------------------------------------------------------
    def create_service_credential(
        self,
        credential_id: str,
        account_id: str,
        user_id: str,
        service_name: str,
        service_user_name: str,
        secret_hash: str,
        now: datetime,
        expires_at: datetime | None,
        limit: int,
    ) -> ServiceCredentialRecord:
        """Store an active credential; CredentialLimitExceeded when the user holds ``limit`` for
        this service, DuplicateCredential when one of them has ``service_user_name`` already (a
        concurrent create picked the same name)."""
        t = schema.service_specific_credentials
        with self._engine.begin() as conn:
            lock_row(conn, schema.users.c.user_id, user_id)
            used = set(
                conn.execute(
                    select(t.c.service_user_name).where(t.c.user_id == user_id, t.c.service_name == service_name)
                ).scalars()
            )
            if len(used) >= limit:
                raise CredentialLimitExceeded(limit)
            if service_user_name in used:
                raise DuplicateCredential(service_user_name)
            user_name = conn.execute(select(schema.users.c.name).where(schema.users.c.user_id == user_id)).scalar_one()
            conn.execute(
                insert(t).values(
                    credential_id=credential_id, account_id=account_id, user_id=user_id, service_name=service_name,
                    service_user_name=service_user_name, secret_hash=secret_hash, status="Active", created_at=now,
                    expires_at=expires_at,
                )
            )
        return ServiceCredentialRecord(
            credential_id, account_id, user_id, user_name, service_name, service_user_name, "Active", now, expires_at
        )

    def service_credentials(
        self, account_id: str, user_id: str | None, service_name: str | None = None
    ) -> list[ServiceCredentialRecord]:
        """The user's credentials (``user_id`` None: every user's in the account), by id."""
        t = schema.service_specific_credentials
        query = _service_query().where(t.c.account_id == account_id)
        if user_id is not None:
            query = query.where(t.c.user_id == user_id)
        if service_name is not None:
            query = query.where(t.c.service_name == service_name)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.credential_id)).all()
        return [_service(r) for r in rows]

    def service_credential(self, user_id: str, credential_id: str) -> ServiceCredentialRecord | None:
        t = schema.service_specific_credentials
        with self._engine.connect() as conn:
            row = conn.execute(
                _service_query().where(t.c.credential_id == credential_id, t.c.user_id == user_id)
            ).first()
        return _service(row) if row else None

    def service_secret_hash(self, credential_id: str) -> str | None:
        """The stored hash (for checking a presented password; never answered to a client)."""
        t = schema.service_specific_credentials
        with self._engine.connect() as conn:
            return conn.execute(select(t.c.secret_hash).where(t.c.credential_id == credential_id)).scalar()

    def reset_service_credential(self, user_id: str, credential_id: str, secret_hash: str) -> bool:
        t = schema.service_specific_credentials
        with self._engine.begin() as conn:
            result = conn.execute(
                update(t).where(t.c.credential_id == credential_id, t.c.user_id == user_id).values(secret_hash=secret_hash)
            )
        return bool(result.rowcount)

    def set_service_credential_status(self, user_id: str, credential_id: str, status: str) -> bool:
        t = schema.service_specific_credentials
        with self._engine.begin() as conn:
            result = conn.execute(
                update(t).where(t.c.credential_id == credential_id, t.c.user_id == user_id).values(status=status)
            )
        return bool(result.rowcount)

    def delete_service_credential(self, user_id: str, credential_id: str) -> bool:
        t = schema.service_specific_credentials
        with self._engine.begin() as conn:
            result = conn.execute(delete(t).where(t.c.credential_id == credential_id, t.c.user_id == user_id))
        return bool(result.rowcount)


def _count(conn: Connection, table: Any, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _certificate_of(account_id: str, user_id: str | None, certificate_id: str) -> tuple[Any, ...]:
    t = schema.signing_certificates
    owner = t.c.user_id == user_id if user_id else t.c.user_id.is_(None)
    return (t.c.certificate_id == certificate_id, t.c.account_id == account_id, owner)


def user_credential_blockers(user_id: str) -> tuple[tuple[str, Select[Any]], ...]:
    """What of this module keeps a user from being deleted, as (reason, query) for
    :func:`opensts.store.queries.first_blocker`, in the order AWS's DeleteUser page lists them."""
    s = schema
    return (
        ("signing_certificates", select(s.signing_certificates.c.certificate_id).where(s.signing_certificates.c.user_id == user_id)),
        ("ssh_public_keys", select(s.ssh_public_keys.c.key_id).where(s.ssh_public_keys.c.user_id == user_id)),
        (
            "service_specific_credentials",
            select(s.service_specific_credentials.c.credential_id).where(s.service_specific_credentials.c.user_id == user_id),
        ),
    )
