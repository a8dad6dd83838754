"""Failure counts per subject, shared by every process and node (the policy: ``brute_force.py``).

One row per subject that failed recently. :meth:`AuthFailureRepository.record` counts one failure
for each subject in one transaction and returns each subject's new count: an upsert, so two nodes
counting the same subject at once both count (a row lock on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

from typing import Callable, Iterable

from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from opensts.store import schema


class AuthFailureRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def record(
        self, subjects: Iterable[str], now: float, forget_after: float, block: Callable[[str, int], float]
    ) -> dict[str, float]:
        """Count one failure at ``now`` for each subject (a count older than ``forget_after`` seconds
        starts again at 1) and set its block to ``now + block(subject, failures)`` unless it is
        already blocked longer. Returns subject → blocked until (epoch seconds; 0: not blocked)."""
        table = schema.auth_failures
        blocked: dict[str, float] = {}
        with self._engine.begin() as conn:
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
                failures, until = conn.execute(upsert).one()
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
