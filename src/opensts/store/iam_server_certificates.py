"""Server certificates: the certificate and chain in clear, the private key sealed under the master
key (purpose :data:`KEY_PURPOSE`), their tags.

The sealed key is written once, by :meth:`ServerCertificateRepository.upload`, and no method here
reads it back: nothing in OpenSTS answers it. Names are unique per account case-insensitively.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from opensts.store import schema, tags as entity_tags
from opensts.store.errors import NameTaken
from opensts.store.iam_user_credentials import CredentialLimitExceeded
from opensts.store.meta import CountedWrites
from opensts.store.queries import lock_row, rename, under_path
from opensts.tokens.master_key import MasterKey

KEY_PURPOSE = "server-certificate-key"
TAG_TYPE = "server-cert"  # tags.entity_type is 16 characters at most


@dataclass(frozen=True, slots=True)
class ServerCertificateRecord:
    certificate_id: str
    account_id: str
    name: str
    path: str
    body: str
    chain: str | None
    uploaded_at: datetime
    expires_at: datetime


def _record(row) -> ServerCertificateRecord:
    return ServerCertificateRecord(
        row.certificate_id, row.account_id, row.name, row.path, row.body, row.chain, row.uploaded_at, row.expires_at
    )


def _columns():
    t = schema.server_certificates
    # Every column but the sealed key: reads never load it.
    return select(
        t.c.certificate_id, t.c.account_id, t.c.name, t.c.path, t.c.body, t.c.chain, t.c.uploaded_at, t.c.expires_at
    )


class ServerCertificateRepository:
    def __init__(self, engine: CountedWrites, master_key: MasterKey) -> None:
        self._engine = engine
        self._master_key = master_key

    def upload(
        self,
        record: ServerCertificateRecord,
        private_key_pem: bytes,
        tags: Iterable[tuple[str, str]],
        limit: int,
    ) -> None:
        """Store the certificate with its key sealed; NameTaken, or CredentialLimitExceeded when the
        account holds ``limit`` certificates already."""
        t = schema.server_certificates
        sealed = self._master_key.seal(private_key_pem, KEY_PURPOSE)  # outside the transaction
        try:
            with self._engine.begin() as conn:
                lock_row(conn, schema.accounts.c.account_id, record.account_id)
                count = conn.execute(
                    select(func.count()).select_from(t).where(t.c.account_id == record.account_id)
                ).scalar_one()
                if count >= limit:
                    raise CredentialLimitExceeded(limit)
                conn.execute(
                    insert(t).values(
                        certificate_id=record.certificate_id, account_id=record.account_id, name=record.name,
                        name_key=record.name.lower(), path=record.path, body=record.body, chain=record.chain,
                        key_sealed=sealed, uploaded_at=record.uploaded_at, expires_at=record.expires_at,
                    )
                )
                entity_tags.tag_new_entity(conn, TAG_TYPE, record.certificate_id, tags)
        except IntegrityError as exc:
            raise NameTaken(record.name) from exc

    def get(self, account_id: str, name: str) -> ServerCertificateRecord | None:
        t = schema.server_certificates
        with self._engine.connect() as conn:
            row = conn.execute(_columns().where(t.c.account_id == account_id, t.c.name_key == name.lower())).first()
        return _record(row) if row else None

    def list(self, account_id: str, path_prefix: str = "/") -> builtins.list[ServerCertificateRecord]:
        t = schema.server_certificates
        query = _columns().where(t.c.account_id == account_id)
        if path_prefix != "/":
            query = query.where(under_path(t.c.path, path_prefix))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.name_key)).all()
        return [_record(r) for r in rows]

    def update(self, certificate_id: str, *, new_name: str | None, new_path: str | None) -> None:
        rename(self._engine, schema.server_certificates.c.certificate_id, certificate_id, new_name, new_path)

    def delete(self, certificate_id: str) -> bool:
        t = schema.server_certificates
        with self._engine.begin() as conn:
            entity_tags.drop_tags(conn, TAG_TYPE, certificate_id)
            result = conn.execute(delete(t).where(t.c.certificate_id == certificate_id))
        return bool(result.rowcount)

    # --- tags --------------------------------------------------------------------------------------
    def tags(self, certificate_id: str) -> entity_tags.Tags:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, TAG_TYPE, certificate_id)

    def tag(self, certificate_id: str, tags: Iterable[tuple[str, str]]) -> bool:
        """Add or overwrite tags; TooManyTags past 50 keys; False if the certificate is gone."""
        with self._engine.begin() as conn:
            if not lock_row(conn, schema.server_certificates.c.certificate_id, certificate_id):
                return False
            entity_tags.merge_tags(conn, TAG_TYPE, certificate_id, tags)
        return True

    def untag(self, certificate_id: str, keys: Iterable[str]) -> bool:
        with self._engine.begin() as conn:
            if not lock_row(conn, schema.server_certificates.c.certificate_id, certificate_id):
                return False
            entity_tags.remove_tags(conn, TAG_TYPE, certificate_id, keys)
        return True
