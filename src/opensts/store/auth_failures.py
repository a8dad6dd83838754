"""Failure counts per subject, shared by every process and node (the policy: ``brute_force.py``).

One row per subject that failed recently. :meth:`AuthFailureRepository.record` counts one failure
for each subject in one transaction: an upsert, so two nodes counting the same subject at once both
count (a row lock on PostgreSQL, the write lock on SQLite). :meth:`AuthFailureRepository.attempt`
does the same for an attempt not yet judged, refusing it (counting nothing) if a subject is
blocked: the check and the count are one step, so concurrent attempts cannot all pass the check
before any is counted. :meth:`AuthFailureRepository.forgive` takes back the count of an attempt
that succeeded.
"""

from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import Connection, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from opensts.store import schema
from opensts.store.db import Database


class _Blocked(Exception):
    pass


class AuthFailureRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def record(
        self, subjects: Iterable[str], now: float, forget_after: float, block: Callable[[str, int], float]
    ) -> dict[str, float]:
        """Count one failure at ``now`` for each subject (a count older than ``forget_after`` seconds
        starts again at 1) and set its block to ``now + block(subject, failures)`` unless it is
        already blocked longer. Returns subject → blocked until (epoch seconds; 0: not blocked)."""
        with self._engine.begin() as conn:
            return self._count(conn, subjects, now, forget_after, block)

    def attempt(
        self, subjects: Iterable[str], now: float, forget_after: float, block: Callable[[str, int], float]
    ) -> bool:
        """False, counting nothing, if a subject is blocked at ``now``; else count the attempt as a
        failure, as :meth:`record` does, and return True (the caller forgives it if it succeeds)."""
        try:
            with self._engine.begin() as conn:
                self._count(conn, subjects, now, forget_after, block, refuse_blocked=True)
        except _Blocked:
            return False
        return True

    def forgive(self, subjects: Iterable[str], free: Callable[[str], int]) -> None:
        """Take back one counted failure of each subject (an attempt that succeeded); a subject left
        with no more than ``free(subject)`` failures is no longer blocked."""
        table = schema.auth_failures
        with self._engine.begin() as conn:
            for subject in sorted(set(subjects)):
                failures = conn.execute(
                    update(table).where(table.c.subject == subject, table.c.failures > 0)
                    .values(failures=table.c.failures - 1).returning(table.c.failures)
                ).scalar()
                if failures is not None and failures <= free(subject):
                    conn.execute(update(table).where(table.c.subject == subject).values(blocked_until=0.0))

    def _count(
        self, conn: Connection, subjects: Iterable[str], now: float, forget_after: float,
        block: Callable[[str, int], float], refuse_blocked: bool = False,
    ) -> dict[str, float]:
        table = schema.auth_failures
        blocked: dict[str, float] = {}
        for subject in sorted(set(subjects)):  # one order everywhere: no deadlock between nodes
            insert = self._insert(table).values(
                subject=subject, failures=1, last_failure_at=now, blocked_until=0.0
            )
            upsert = insert.on_conflict_do_update(
                index_elements=[table.c.subject],
                set_={
                    "failures": case(
                        (table.c.last_failure_at < now - forget_after, 1), else_=table.c.failures + 1
                    ),
                    "last_failure_at": now,
                },
            ).returning(table.c.failures, table.c.blocked_until)
            failures, until = conn.execute(upsert).one()  # the row is now locked until commit
            if refuse_blocked and until > now:
                raise _Blocked()  # rolls the whole transaction back: nothing counted
            wanted = now + block(subject, failures)
            if wanted > until:
                conn.execute(update(table).where(table.c.subject == subject).values(blocked_until=wanted))
                until = wanted
            blocked[subject] = until if until > now else 0.0
        return blocked

    def blocked_until(self, subjects: Iterable[str]) -> float:
        """The latest time any of ``subjects`` is blocked until (0: none is)."""
        table = schema.auth_failures
        with self._engine.connect() as conn:
            values = conn.execute(select(table.c.blocked_until).where(table.c.subject.in_(list(subjects)))).scalars()
            return max(values, default=0.0)

    def prune(self, before: float) -> int:
        """Forget subjects whose last failure is older than ``before``; returns how many."""
        table = schema.auth_failures
        with self._engine.begin() as conn:
            return conn.execute(delete(table).where(table.c.last_failure_at < before)).rowcount or 0
