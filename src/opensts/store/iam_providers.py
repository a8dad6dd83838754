"""OIDC and SAML identity providers of an account, and their tags (kept under their ARN).

Every write is one transaction with its checks inside it, so concurrent callers cannot slip
between a check and the write.

An OIDC provider's trusted identity propagation configuration (UpdateOpenIDConnectProvider): the
context provider, kept as the JSON of AWS's ``ContextProvider`` structure, and the IAM Identity
Center instance ARN. Two rules hold in the store's transaction: an Identity Center instance needs a
context provider, so neither can a provider without one be associated, nor can the context provider
of an associated one be removed (``ProviderConfigConflict``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema, tags as entity_tags
from opensts.store.errors import NoSuchProvider, ProviderExists, TooManyClientIds
from opensts.store.meta import CountedWrites
from opensts.store.tags import OIDC as OIDC_TAG_TYPE, SAML as SAML_TAG_TYPE

_UNSET: Any = object()


class ProviderConfigConflict(Exception):
    """An update that would leave an Identity Center instance without a context provider."""


# --- records ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OidcProviderRecord:
    arn: str
    account_id: str
    url: str  # with https://
    client_ids: tuple[str, ...]
    thumbprints: tuple[str, ...]
    created_at: datetime
    context_provider: str | None = None  # JSON of AWS's ContextProvider structure
    identity_center_instance_arn: str | None = None


@dataclass(frozen=True, slots=True)
class SamlProviderRecord:
    arn: str
    account_id: str
    name: str
    metadata_document: str
    valid_until: datetime | None
    created_at: datetime


def _oidc(row) -> OidcProviderRecord:
    return OidcProviderRecord(
        row.arn, row.account_id, row.url, tuple(json.loads(row.client_ids)), tuple(json.loads(row.thumbprints)),
        row.created_at, row.context_provider, row.identity_center_instance_arn,
    )


def _saml(row) -> SamlProviderRecord:
    return SamlProviderRecord(row.arn, row.account_id, row.name, row.metadata_document, row.valid_until, row.created_at)


class ProviderRepository:
    def __init__(self, engine: CountedWrites) -> None:
        self._engine = engine

    # --- OIDC ---------------------------------------------------------------------------------
    def create_oidc(
        self,
        arn: str,
        account_id: str,
        url: str,
        client_ids: list[str],
        thumbprints: list[str],
        tags: list[tuple[str, str]],
        now: datetime,
        context_provider: str | None = None,
        identity_center_instance_arn: str | None = None,
    ) -> OidcProviderRecord:
        table = schema.oidc_providers
        try:
            with self._engine.begin() as conn:
                taken = conn.execute(select(table.c.arn).where(func.lower(table.c.arn) == arn.lower())).first()
                if taken is not None:
                    raise ProviderExists(arn)
                conn.execute(
                    insert(table).values(
                        arn=arn, account_id=account_id, url=url, client_ids=json.dumps(client_ids),
                        thumbprints=json.dumps(thumbprints), created_at=now, context_provider=context_provider,
                        identity_center_instance_arn=identity_center_instance_arn,
                    )
                )
                entity_tags.tag_new_entity(conn, OIDC_TAG_TYPE, arn, tags)
        except IntegrityError:
            raise ProviderExists(arn) from None
        return OidcProviderRecord(
            arn, account_id, url, tuple(client_ids), tuple(thumbprints), now, context_provider,
            identity_center_instance_arn,
        )

    def get_oidc(self, arn: str) -> OidcProviderRecord | None:
        table = schema.oidc_providers
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.arn == arn)).first()
        return _oidc(row) if row else None

    def list_oidc(self, account_id: str) -> list[OidcProviderRecord]:
        table = schema.oidc_providers
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.account_id == account_id).order_by(table.c.arn)).all()
        return [_oidc(r) for r in rows]

    def delete_oidc(self, arn: str) -> None:
        table = schema.oidc_providers
        with self._engine.begin() as conn:
            if conn.execute(delete(table).where(table.c.arn == arn)).rowcount == 0:
                raise NoSuchProvider(arn)
            entity_tags.drop_tags(conn, OIDC_TAG_TYPE, arn)

    def update_oidc_client_ids(self, arn: str, add: str | None = None, remove: str | None = None, limit: int = 100) -> None:
        table = schema.oidc_providers
        with self._engine.begin() as conn:
            row = conn.execute(select(table.c.client_ids).where(table.c.arn == arn).with_for_update()).first()
            if row is None:
                raise NoSuchProvider(arn)
            ids: list[str] = json.loads(row.client_ids)
            if add is not None and add not in ids:
                ids.append(add)
                if len(ids) > limit:
                    raise TooManyClientIds(len(ids))
            if remove is not None and remove in ids:
                ids.remove(remove)
            conn.execute(update(table).where(table.c.arn == arn).values(client_ids=json.dumps(ids)))

    def update_oidc_thumbprints(self, arn: str, thumbprints: list[str]) -> None:
        table = schema.oidc_providers
        with self._engine.begin() as conn:
            result = conn.execute(update(table).where(table.c.arn == arn).values(thumbprints=json.dumps(thumbprints)))
            if result.rowcount == 0:
                raise NoSuchProvider(arn)

    def update_oidc_configuration(
        self, arn: str, *, context_provider: Any = _UNSET, identity_center_instance_arn: Any = _UNSET
    ) -> OidcProviderRecord:
        """Set (a value) or remove (None) the context provider and/or the Identity Center instance;
        NoSuchProvider, ProviderConfigConflict (see the module docstring)."""
        table = schema.oidc_providers
        with self._engine.begin() as conn:
            row = conn.execute(select(table).where(table.c.arn == arn).with_for_update()).first()
            if row is None:
                raise NoSuchProvider(arn)
            changes: dict[str, Any] = {}
            if context_provider is not _UNSET:
                changes["context_provider"] = context_provider
            if identity_center_instance_arn is not _UNSET:
                changes["identity_center_instance_arn"] = identity_center_instance_arn
            after = {**row._asdict(), **changes}
            if after["identity_center_instance_arn"] is not None and after["context_provider"] is None:
                raise ProviderConfigConflict(arn)
            if changes:
                conn.execute(update(table).where(table.c.arn == arn).values(**changes))
            row = conn.execute(select(table).where(table.c.arn == arn)).first()
        return _oidc(row)

    # --- SAML ---------------------------------------------------------------------------------
    def create_saml(
        self,
        arn: str,
        account_id: str,
        name: str,
        metadata_document: str,
        valid_until: datetime | None,
        tags: list[tuple[str, str]],
        now: datetime,
    ) -> SamlProviderRecord:
        table = schema.saml_providers
        try:
            with self._engine.begin() as conn:
                taken = conn.execute(
                    select(table.c.arn).where(table.c.account_id == account_id, func.lower(table.c.name) == name.lower())
                ).first()
                if taken is not None:
                    raise ProviderExists(name)
                conn.execute(
                    insert(table).values(
                        arn=arn, account_id=account_id, name=name, metadata_document=metadata_document,
                        valid_until=valid_until, created_at=now,
                    )
                )
                entity_tags.tag_new_entity(conn, SAML_TAG_TYPE, arn, tags)
        except IntegrityError:
            raise ProviderExists(name) from None
        return SamlProviderRecord(arn, account_id, name, metadata_document, valid_until, now)

    def get_saml(self, arn: str) -> SamlProviderRecord | None:
        table = schema.saml_providers
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.arn == arn)).first()
        return _saml(row) if row else None

    def list_saml(self, account_id: str) -> list[SamlProviderRecord]:
        table = schema.saml_providers
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.account_id == account_id).order_by(table.c.arn)).all()
        return [_saml(r) for r in rows]

    def update_saml(self, arn: str, metadata_document: str, valid_until: datetime | None) -> None:
        table = schema.saml_providers
        with self._engine.begin() as conn:
            result = conn.execute(
                update(table).where(table.c.arn == arn).values(metadata_document=metadata_document, valid_until=valid_until)
            )
            if result.rowcount == 0:
                raise NoSuchProvider(arn)

    def delete_saml(self, arn: str) -> None:
        table = schema.saml_providers
        with self._engine.begin() as conn:
            if conn.execute(delete(table).where(table.c.arn == arn)).rowcount == 0:
                raise NoSuchProvider(arn)
            entity_tags.drop_tags(conn, SAML_TAG_TYPE, arn)

    # --- tags of either kind --------------------------------------------------------------------
    def tags(self, entity_type: str, arn: str) -> list[tuple[str, str]]:
        with self._engine.connect() as conn:
            return entity_tags.read_tags(conn, entity_type, arn)

    def tag(self, entity_type: str, arn: str, tags: list[tuple[str, str]]) -> None:
        """Add or overwrite tags of an OIDC or SAML provider; NoSuchProvider, TooManyTags."""
        with self._engine.begin() as conn:
            if not entity_tags.tag_entity(conn, entity_type, arn, tags):
                raise NoSuchProvider(arn)

    def untag(self, entity_type: str, arn: str, keys: list[str]) -> None:
        with self._engine.begin() as conn:
            if not entity_tags.untag_entity(conn, entity_type, arn, keys):
                raise NoSuchProvider(arn)

    def count(self, account_id: str) -> int:
        with self._engine.connect() as conn:
            n = 0
            for table in (schema.oidc_providers, schema.saml_providers):
                n += conn.execute(
                    select(func.count()).select_from(table).where(table.c.account_id == account_id)
                ).scalar_one()
        return n
