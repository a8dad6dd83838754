"""Each account's outbound identity federation: on or off, and the opaque id of its issuer URL.

The issuer id is 16 random bytes in lower-case base32 (26 characters): it says nothing of the
account, and is kept when the feature is turned off and on again, so that an account's issuer URL
never changes. Enabling and disabling are IAM writes (``CountedWrites``): every node's caches follow.
Each write is one transaction with its check inside it; two concurrent enables of an account
cannot both succeed (the second meets the row or the primary key).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.db import Database
from opensts.store.errors import FederationAlreadyDisabled, FederationAlreadyEnabled
from opensts.store.meta import CountedWrites

ISSUER_ID_BYTES = 16


def new_issuer_id() -> str:
    return base64.b32encode(secrets.token_bytes(ISSUER_ID_BYTES)).decode("ascii").rstrip("=").lower()


@dataclass(frozen=True, slots=True)
class OutboundFederation:
    account_id: str
    issuer_id: str
    enabled: bool
    enabled_at: datetime
    disabled_at: datetime | None


def _record(row) -> OutboundFederation:
    return OutboundFederation(row.account_id, row.issuer_id, row.enabled, row.enabled_at, row.disabled_at)


class OutboundFederationRepository:
    def __init__(self, writes: CountedWrites, engine: Database) -> None:
        self._writes = writes
        self._engine = engine

    def get(self, account_id: str) -> OutboundFederation | None:
        table = schema.outbound_federation
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.account_id == account_id)).first()
        return _record(row) if row else None

    def by_issuer(self, issuer_id: str) -> OutboundFederation | None:
        table = schema.outbound_federation
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.issuer_id == issuer_id)).first()
        return _record(row) if row else None

    def enable(self, account_id: str, now: datetime) -> OutboundFederation:
        """Turn it on (a new issuer id the first time); :class:`FederationAlreadyEnabled` when on."""
        table = schema.outbound_federation
        try:
            with self._writes.begin() as conn:
                row = conn.execute(select(table).where(table.c.account_id == account_id).with_for_update()).first()
                if row is not None and row.enabled:
                    raise FederationAlreadyEnabled(account_id)
                if row is None:
                    issuer_id = new_issuer_id()
                    conn.execute(insert(table).values(
                        account_id=account_id, issuer_id=issuer_id, enabled=True, enabled_at=now, disabled_at=None
                    ))
                else:
                    issuer_id = row.issuer_id
                    conn.execute(update(table).where(table.c.account_id == account_id).values(
                        enabled=True, enabled_at=now, disabled_at=None
                    ))
        except IntegrityError:  # a concurrent first enable inserted the row first
            raise FederationAlreadyEnabled(account_id) from None
        return OutboundFederation(account_id, issuer_id, True, now, None)

    def disable(self, account_id: str, now: datetime) -> OutboundFederation:
        """Turn it off; :class:`FederationAlreadyDisabled` when off or never on."""
        table = schema.outbound_federation
        with self._writes.begin() as conn:
            row = conn.execute(select(table).where(table.c.account_id == account_id).with_for_update()).first()
            if row is None or not row.enabled:
                raise FederationAlreadyDisabled(account_id)
            conn.execute(update(table).where(table.c.account_id == account_id).values(enabled=False, disabled_at=now))
        return OutboundFederation(account_id, row.issuer_id, False, row.enabled_at, now)
