"""Audit events in the store: appended in batches to each account's hash chain, looked up, pruned.

:meth:`AuditRepository.append` writes a batch of events (from any number of requests and accounts)
in one transaction: for each account it locks the chain head (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), numbers the events after it,
links their hashes (``audit_chain.py``) and moves the head. Several processes and nodes append to
one store without conflicts: they queue on the head's lock, in account order (no deadlocks).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.audit_chain import GENESIS_HASH, chain_hash
from opensts.store.db import Database


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``record`` is the CloudTrail record's JSON text, hashed as is."""

    account_id: str
    event_id: str
    event_time: datetime
    event_source: str
    event_name: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    error_code: str | None
    resources: tuple[tuple[str, str], ...]
    record: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    account_id: str
    seq: int
    event_id: str
    event_time: datetime
    event_source: str
    event_name: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    error_code: str | None
    record: str
    chain_hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    account_id: str
    seq: int
    chain_hash: str
    pruned_seq: int
    pruned_hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: ``account_id``'s chain had reached ``seq`` with ``chain_hash`` at
    ``signed_at`` (``audit/verify.py`` makes and checks ``signature``)."""

    account_id: str
    seq: int
    chain_hash: str
    signed_at: datetime
    signature: str


APPEND_LOCK_TIMEOUT_MS = 2000  # waiting for another writer (a chain head's lock, SQLite's write lock)
APPEND_STATEMENT_TIMEOUT_MS = 5000


# LookupEvents' attribute keys → the column they filter (ResourceType/Name: the resources table).
EVENT_COLUMNS = {
    "EventId": schema.audit_events.c.event_id,
    "EventName": schema.audit_events.c.event_name,
    "Username": schema.audit_events.c.username,
    "EventSource": schema.audit_events.c.event_source,
    "AccessKeyId": schema.audit_events.c.access_key_id,
}


class AuditRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._append_connection: Any = None  # a pooled driver connection, kept (see append)
        self._append_lock = threading.Lock()
        mark = "%s" if self._postgres else "?"
        self._insert_event = (
            "INSERT INTO audit_events (account_id, seq, event_id, event_time, event_source, event_name, read_only, "
            "username, access_key_id, error_code, record, chain_hash) VALUES (" + ", ".join([mark] * 12) + ")"
        )
        self._insert_resource = (
            "INSERT INTO audit_resources (account_id, seq, position, resource_type, resource_name) "
            "VALUES (" + ", ".join([mark] * 5) + ")"
        )
        self._select_head = (
            f"SELECT seq, chain_hash FROM audit_chain_heads WHERE account_id = {mark}"
            + (" FOR UPDATE" if self._postgres else "")
        )
        self._insert_head = (
            "INSERT INTO audit_chain_heads (account_id, seq, chain_hash, pruned_seq, pruned_hash) "
            f"VALUES ({mark}, 0, '{GENESIS_HASH}', 0, '{GENESIS_HASH}') ON CONFLICT DO NOTHING"
        )
        self._update_head = f"UPDATE audit_chain_heads SET seq = {mark}, chain_hash = {mark} WHERE account_id = {mark}"

    def _stamp(self, when: datetime) -> object:
        """``when`` as the event_time column stores it (schema.UtcDateTime: naive UTC; SQLite: its text)."""
        naive = when.astimezone(timezone.utc).replace(tzinfo=None)
        if self._postgres:
            return naive
        return naive.isoformat(" ", "microseconds")  # SQLAlchemy's SQLite DATETIME storage format

    # --- Appending -----------------------------------------------------------------------------------
    def append(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append ``events`` (in order within each account) in one transaction; returns them stored."""
        if not events:
            return []
        by_account: dict[str, list[NewEvent]] = {}
        for event in events:
            by_account.setdefault(event.account_id, []).append(event)
        stored: list[StoredEvent] = []
        rows: list[tuple[object, ...]] = []
        resource_rows: list[tuple[object, ...]] = []
        stamp = self._stamp
        # Plain SQL on a connection of the driver's, kept for appends: this runs once per group
        # of recorded calls, and SQLAlchemy's transaction and statement machinery cost more than
        # the statements themselves (measured: a fifth of a GetCallerIdentity's time under load).
        with self._append_lock, self._transaction() as cursor:
            for account_id in sorted(by_account):
                seq, previous = self._head_for_append(cursor, account_id)
                for event in by_account[account_id]:
                    seq += 1
                    previous = chain_hash(account_id, seq, previous, event.record)
                    rows.append((
                        account_id, seq, event.event_id, stamp(event.event_time), event.event_source,
                        event.event_name, event.read_only, event.username, event.access_key_id, event.error_code,
                        event.record, previous,
                    ))
                    for position, (kind, name) in enumerate(event.resources):
                        resource_rows.append((account_id, seq, position, kind, name))
                    stored.append(StoredEvent(
                        account_id, seq, event.event_id, event.event_time, event.event_source, event.event_name,
                        event.read_only, event.username, event.access_key_id, event.error_code, event.record, previous,
                    ))
                cursor.execute(self._update_head, (seq, previous, account_id))
            cursor.executemany(self._insert_event, rows)
            if resource_rows:
                cursor.executemany(self._insert_resource, resource_rows)
        return stored

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor in a transaction on the append connection: committed, or rolled back and the
        connection dropped (the next append opens a new one) if anything fails."""
        if self._append_connection is None:
            self._append_connection = self._append_connection_opened()
        connection = self._append_connection
        try:
            cursor = connection.cursor()
            if not self._postgres:
                cursor.execute("BEGIN IMMEDIATE")  # the pool's SQLite connections are in autocommit mode
            yield cursor
            connection.commit() if self._postgres else cursor.execute("COMMIT")
        except BaseException:
            self._append_connection = None
            with contextlib.suppress(Exception):
                connection.rollback() if self._postgres else connection.execute("ROLLBACK")
            with contextlib.suppress(Exception):
                connection.invalidate()
            raise

    def _append_connection_opened(self) -> Any:
        """A driver connection for appends, with short waits: appends run on the server's event loop,
        which must not stall for long on another node's lock or a busy SQLite file (the caller gives
        up and the waiting requests hear ServiceUnavailable)."""
        connection = self._engine.raw_connection()
        cursor = connection.cursor()
        if self._postgres:
            cursor.execute(f"SET lock_timeout = '{APPEND_LOCK_TIMEOUT_MS}ms'")
            cursor.execute(f"SET statement_timeout = '{APPEND_STATEMENT_TIMEOUT_MS}ms'")
            connection.commit()
        else:
            cursor.execute(f"PRAGMA busy_timeout = {APPEND_LOCK_TIMEOUT_MS}")
        return connection

    def close(self) -> None:
        """Drop the append connection (the store is closing). Invalidated, not returned to the pool:
        its timeouts are for appends only."""
        with self._append_lock:
            connection, self._append_connection = self._append_connection, None
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.invalidate()

    def _head_for_append(self, cursor: Any, account_id: str) -> tuple[int, str]:
        """(seq, hash) of the account's chain head, locked until the transaction ends (created at 0)."""
        cursor.execute(self._select_head, (account_id,))
        row = cursor.fetchone()
        if row is None:
            cursor.execute(self._insert_head, (account_id,))
            cursor.execute(self._select_head, (account_id,))
            row = cursor.fetchone()
            assert row is not None
        return int(row[0]), str(row[1])

    def _locked_head(self, conn: Connection, account_id: str) -> ChainHead:
        heads = schema.audit_chain_heads
        query = select(heads).where(heads.c.account_id == account_id)
        if self._postgres:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            values = {"account_id": account_id, "seq": 0, "chain_hash": GENESIS_HASH, "pruned_seq": 0,
                      "pruned_hash": GENESIS_HASH}
            if self._postgres:
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                conn.execute(pg_insert(heads).values(**values).on_conflict_do_nothing())
                row = conn.execute(query).first()
            else:
                conn.execute(insert(heads).values(**values))
                row = conn.execute(query).first()
        assert row is not None
        return ChainHead(row.account_id, row.seq, row.chain_hash, row.pruned_seq, row.pruned_hash)

    # --- Reading -------------------------------------------------------------------------------------
    def lookup(
        self,
        account_id: str,
        *,
        attribute: tuple[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """Newest first: ``account_id``'s events matching one LookupEvents attribute and the time range.

        ``attribute``: (key, value) with a key of :data:`EVENT_COLUMNS`, ``ReadOnly`` ("true"/"false"),
        ``ResourceType`` or ``ResourceName``. ``before_seq``: continue after a page that ended there."""
        events = schema.audit_events
        conditions = [events.c.account_id == account_id]
        if start is not None:
            conditions.append(events.c.event_time >= start)
        if end is not None:
            conditions.append(events.c.event_time <= end)
        if before_seq is not None:
            conditions.append(events.c.seq < before_seq)
        query = select(events)
        if attribute is not None:
            key, value = attribute
            if key in EVENT_COLUMNS:
                conditions.append(EVENT_COLUMNS[key] == value)
            elif key == "ReadOnly":
                conditions.append(events.c.read_only == (value.lower() == "true"))
            elif key in ("ResourceType", "ResourceName"):
                resources = schema.audit_resources
                column = resources.c.resource_type if key == "ResourceType" else resources.c.resource_name
                matching = (
                    select(resources.c.seq)
                    .where(resources.c.account_id == account_id, column == value)
                    .distinct()
                )
                conditions.append(events.c.seq.in_(matching))
            else:
                raise ValueError(f"unknown lookup attribute {key}")
        query = query.where(and_(*conditions)).order_by(events.c.seq.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def resources(self, account_id: str, seqs: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """The resources of the given events: {seq: [(type, name), ...]} in recorded order."""
        if not seqs:
            return {}
        table = schema.audit_resources
        query = (
            select(table.c.seq, table.c.resource_type, table.c.resource_name)
            .where(table.c.account_id == account_id, table.c.seq.in_(list(seqs)))
            .order_by(table.c.seq, table.c.position)
        )
        out: dict[int, list[tuple[str, str]]] = {}
        with self._engine.connect() as conn:
            for seq, kind, name in conn.execute(query):
                out.setdefault(seq, []).append((kind, name))
        return out

    def heads(self) -> list[ChainHead]:
        table = schema.audit_chain_heads
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.account_id)).all()
        return [ChainHead(r.account_id, r.seq, r.chain_hash, r.pruned_seq, r.pruned_hash) for r in rows]

    def chain(self, account_id: str, *, after_seq: int = 0, batch: int = 1000) -> Iterator[StoredEvent]:
        """``account_id``'s events in chain order, read in batches (for verify and exports)."""
        events = schema.audit_events
        while True:
            query = (
                select(events)
                .where(events.c.account_id == account_id, events.c.seq > after_seq)
                .order_by(events.c.seq)
                .limit(batch)
            )
            with self._engine.connect() as conn:
                rows = [_stored(row) for row in conn.execute(query)]
            yield from rows
            if len(rows) < batch:
                return
            after_seq = rows[-1].seq

    def after(self, *, after: dict[str, int], limit: int = 500) -> list[StoredEvent]:
        """Events of every account recorded after the given per-account seqs (``audit tail``), oldest first."""
        events = schema.audit_events
        out: list[StoredEvent] = []
        for head in self.heads():
            start = after.get(head.account_id, 0)
            if head.seq <= start:
                continue
            query = (
                select(events)
                .where(events.c.account_id == head.account_id, events.c.seq > start)
                .order_by(events.c.seq)
                .limit(limit)
            )
            with self._engine.connect() as conn:
                out.extend(_stored(row) for row in conn.execute(query))
        out.sort(key=lambda e: (e.event_time, e.account_id, e.seq))
        return out

    # --- Checkpoints ---------------------------------------------------------------------------------
    def checkpoints(self, account_id: str) -> list[Checkpoint]:
        """``account_id``'s checkpoints, oldest first."""
        table = schema.audit_checkpoints
        query = select(table).where(table.c.account_id == account_id).order_by(table.c.seq)
        with self._engine.connect() as conn:
            return [_checkpoint(row) for row in conn.execute(query)]

    def latest_checkpoints(self) -> dict[str, Checkpoint]:
        """Each account's newest checkpoint."""
        table = schema.audit_checkpoints
        newest = (
            select(table.c.account_id, func.max(table.c.seq).label("seq"))
            .group_by(table.c.account_id)
            .subquery()
        )
        query = select(table).join(
            newest, and_(table.c.account_id == newest.c.account_id, table.c.seq == newest.c.seq)
        )
        with self._engine.connect() as conn:
            return {row.account_id: _checkpoint(row) for row in conn.execute(query)}

    def add_checkpoint(self, checkpoint: Checkpoint) -> bool:
        """Insert ``checkpoint``; False (and nothing changed) if that account and seq already have one
        (several workers and nodes sign the same heads: the first one wins)."""
        values = _checkpoint_values(checkpoint)
        try:
            with self._engine.begin() as conn:
                if conn.execute(
                    select(schema.audit_checkpoints.c.seq).where(
                        schema.audit_checkpoints.c.account_id == checkpoint.account_id,
                        schema.audit_checkpoints.c.seq == checkpoint.seq,
                    )
                ).first() is not None:
                    return False
                conn.execute(insert(schema.audit_checkpoints).values(**values))
        except IntegrityError:  # a concurrent signer inserted it between our read and write
            return False
        return True

    # --- Retention -----------------------------------------------------------------------------------
    def prune(
        self,
        account_id: str,
        older_than: datetime,
        *,
        batch: int = 1000,
        checkpoint: Callable[[str, int, str], Checkpoint] | None = None,
    ) -> int:
        """Delete up to ``batch`` of ``account_id``'s oldest events recorded before ``older_than``;
        the head remembers where the chain now starts. Returns how many were deleted (call again
        while it returns ``batch``: short transactions, so appends are never blocked long).

        ``checkpoint(account_id, seq, chain_hash)``: signs the new boundary; it replaces, in the
        same transaction, every checkpoint at or below it, so the boundary is never unsigned."""
        events, resources, heads = schema.audit_events, schema.audit_resources, schema.audit_chain_heads
        with self._engine.begin() as conn:
            head = self._locked_head(conn, account_id)
            last = conn.execute(
                select(events.c.seq, events.c.chain_hash)
                .where(events.c.account_id == account_id, events.c.seq > head.pruned_seq,
                       events.c.event_time < older_than)
                .order_by(events.c.seq)
                .limit(batch)
            ).all()
            # Only a prefix of the chain may go: stop at the first event that is young enough.
            kept = []
            expected = head.pruned_seq + 1
            for seq, hash_ in last:
                if seq != expected:
                    break
                kept.append((seq, hash_))
                expected += 1
            if not kept:
                return 0
            through_seq, through_hash = kept[-1]
            conn.execute(delete(resources).where(resources.c.account_id == account_id, resources.c.seq <= through_seq))
            conn.execute(delete(events).where(events.c.account_id == account_id, events.c.seq <= through_seq))
            conn.execute(
                update(heads).where(heads.c.account_id == account_id)
                .values(pruned_seq=through_seq, pruned_hash=through_hash)
            )
            checkpoints = schema.audit_checkpoints
            if checkpoint is None:
                conn.execute(
                    delete(checkpoints).where(checkpoints.c.account_id == account_id, checkpoints.c.seq < through_seq)
                )
            else:
                conn.execute(
                    delete(checkpoints).where(checkpoints.c.account_id == account_id, checkpoints.c.seq <= through_seq)
                )
                conn.execute(insert(checkpoints).values(**_checkpoint_values(checkpoint(account_id, through_seq, through_hash))))
            return len(kept)


def _checkpoint(row: object) -> Checkpoint:
    r = row  # a Row with the audit_checkpoints columns
    return Checkpoint(r.account_id, r.seq, r.chain_hash, r.signed_at, r.signature)  # type: ignore[attr-defined]


def _checkpoint_values(checkpoint: Checkpoint) -> dict[str, object]:
    return {
        "account_id": checkpoint.account_id, "seq": checkpoint.seq, "chain_hash": checkpoint.chain_hash,
        "signed_at": checkpoint.signed_at, "signature": checkpoint.signature,
    }


def _stored(row: object) -> StoredEvent:
    r = row  # a Row with the audit_events columns
    return StoredEvent(
        r.account_id, r.seq, r.event_id, r.event_time, r.event_source, r.event_name,  # type: ignore[attr-defined]
        r.read_only, r.username, r.access_key_id, r.error_code, r.record, r.chain_hash,  # type: ignore[attr-defined]
    )
