"""IAM reports in the store: each account's credential report, service-last-accessed jobs, and the
account-wide reads that feed them (users with their keys and MFA devices; usage from the audit trail).

Neither table holds IAM data that a cache depends on, so writes go through the plain engine, not
``CountedWrites`` (a report does not change what anyone may do).

- ``credential_reports``: one row per account. :meth:`ReportJobRepository.claim_credential_report`
  decides, in one locked transaction, whether the caller must generate a new report (none yet, the
  last one older than ``fresh``, or a generation abandoned for longer than ``abandoned``), another
  node is generating one, or the current one is still fresh.
- ``service_access_jobs``: one row per job with its parameters, the ARN of the caller that created
  it, and the computed report as JSON. Jobs older than :data:`JOB_RETENTION` are deleted as new
  ones are added.
- :meth:`ReportJobRepository.usage` aggregates one principal's audit events by event source and
  name. The principal is found in the stored CloudTrail record by a ``LIKE`` on the exact text the
  trail writes for its ``userIdentity`` (compact JSON whose keys come first in a fixed order,
  ``audit/record.py``): JSON escapes quotes inside values, so that text can only be the record's
  own identity, never a parameter value.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from opensts.store import schema
from opensts.store.access_keys import AccessKeyMetadata
from opensts.store.db import Database
from opensts.store.iam_users import UserRecord, user_record

JOB_RETENTION = timedelta(days=30)
MAX_USAGE_ROWS = 5000  # distinct (service, action) pairs read per principal: bounds a job's work
_IN_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True, slots=True)
class CredentialReportRow:
    state: str  # INPROGRESS | COMPLETE
    started_at: datetime
    generated_at: datetime | None
    content: bytes | None


@dataclass(frozen=True, slots=True)
class CredentialFacts:
    """What the credential report shows of an account, read in three queries."""

    users: list[UserRecord]  # by name, case-insensitively
    keys: dict[str | None, list[AccessKeyMetadata]]  # by user id (None: the root's), oldest first
    mfa_users: set[str]  # ids of users with an enabled MFA device


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    account_id: str
    arn: str
    granularity: str
    created_by: str
    created_at: datetime
    completed_at: datetime
    result: str


@dataclass(frozen=True, slots=True)
class UsageRow:
    """A principal's newest event (its seq) for one (event source, event name)."""

    event_source: str
    event_name: str
    last_seq: int


@dataclass(frozen=True, slots=True)
class EventPlace:
    event_time: datetime
    record: str


class ReportJobRepository:
    def __init__(self, engine: Database) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    # --- Credential report ---------------------------------------------------------------------
    def credential_report(self, account_id: str) -> CredentialReportRow | None:
        table = schema.credential_reports
        with self._engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.account_id == account_id)).first()
        return _report(row) if row else None

    def claim_credential_report(
        self, account_id: str, now: datetime, *, fresh: timedelta, abandoned: timedelta
    ) -> tuple[str, CredentialReportRow]:
        """("STARTED", row): the caller must generate the report and call :meth:`complete_credential_report`
        with ``row.started_at``; ("INPROGRESS", row): another request is generating it; ("COMPLETE",
        row): the current report is younger than ``fresh``."""
        table = schema.credential_reports
        for _ in range(2):  # a concurrent first claim may win the insert: read its row then
            with self._engine.begin() as conn:
                query = select(table).where(table.c.account_id == account_id)
                row = conn.execute(query.with_for_update() if self._postgres else query).first()
                if row is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(insert(table).values(account_id=account_id, state="INPROGRESS", started_at=now))
                    except IntegrityError:
                        continue
                    return "STARTED", CredentialReportRow("INPROGRESS", now, None, None)
                current = _report(row)
                if current.state == "INPROGRESS" and now - current.started_at < abandoned:
                    return "INPROGRESS", current
                if current.state == "COMPLETE" and current.generated_at and now - current.generated_at < fresh:
                    return "COMPLETE", current
                conn.execute(update(table).where(table.c.account_id == account_id).values(state="INPROGRESS", started_at=now))
                return "STARTED", CredentialReportRow("INPROGRESS", now, current.generated_at, current.content)
        raise RuntimeError("credential report row vanished while claimed")  # rows are never deleted

    def complete_credential_report(self, account_id: str, started_at: datetime, generated_at: datetime, content: bytes) -> bool:
        """Store the report of the generation claimed at ``started_at``; False if a newer claim took over."""
        table = schema.credential_reports
        with self._engine.begin() as conn:
            done = conn.execute(
                update(table)
                .where(table.c.account_id == account_id, table.c.started_at == started_at, table.c.state == "INPROGRESS")
                .values(state="COMPLETE", generated_at=generated_at, content=content)
            ).rowcount
        return bool(done)

    def release_credential_report(self, account_id: str, started_at: datetime) -> None:
        """A claimed generation failed: the previous report (if any) stands again, or the row goes."""
        table = schema.credential_reports
        mine = (table.c.account_id == account_id) & (table.c.started_at == started_at) & (table.c.state == "INPROGRESS")
        with self._engine.begin() as conn:
            conn.execute(update(table).where(mine, table.c.generated_at.is_not(None)).values(state="COMPLETE"))
            conn.execute(delete(table).where(mine, table.c.generated_at.is_(None)))

    def credential_facts(self, account_id: str) -> CredentialFacts:
        users, keys, mfa = schema.users, schema.access_keys, schema.mfa_devices
        with self._engine.connect() as conn:
            user_rows = conn.execute(select(users).where(users.c.account_id == account_id).order_by(users.c.name_key)).all()
            key_rows = conn.execute(
                select(keys.c.access_key_id, keys.c.account_id, keys.c.user_id, keys.c.status, keys.c.created_at,
                       keys.c.last_used_at, keys.c.last_used_service, keys.c.last_used_region)
                .where(keys.c.account_id == account_id)
                .order_by(keys.c.created_at, keys.c.access_key_id)
            ).all()
            mfa_rows = conn.execute(
                select(mfa.c.user_id).where(mfa.c.account_id == account_id, mfa.c.user_id.is_not(None),
                                            mfa.c.enabled_at.is_not(None))
            ).all()
        by_owner: dict[str | None, list[AccessKeyMetadata]] = {}
        for r in key_rows:
            by_owner.setdefault(r.user_id, []).append(AccessKeyMetadata(
                r.access_key_id, r.account_id, r.user_id, None, r.status, r.created_at,
                r.last_used_at, r.last_used_service, r.last_used_region,
            ))
        return CredentialFacts([user_record(r) for r in user_rows], by_owner, {r.user_id for r in mfa_rows})

    # --- Service last accessed jobs ------------------------------------------------------------
    def add_job(self, job: JobRow) -> None:
        """Store a computed job; the account's jobs older than :data:`JOB_RETENTION` go."""
        table = schema.service_access_jobs
        with self._engine.begin() as conn:
            conn.execute(
                delete(table).where(table.c.account_id == job.account_id, table.c.created_at < job.created_at - JOB_RETENTION)
            )
            conn.execute(insert(table).values(
                job_id=job.job_id, account_id=job.account_id, arn=job.arn, granularity=job.granularity,
                created_by=job.created_by, created_at=job.created_at, completed_at=job.completed_at, result=job.result,
            ))

    def job(self, account_id: str, job_id: str) -> JobRow | None:
        table = schema.service_access_jobs
        with self._engine.connect() as conn:
            r = conn.execute(select(table).where(table.c.job_id == job_id, table.c.account_id == account_id)).first()
        if r is None:
            return None
        return JobRow(r.job_id, r.account_id, r.arn, r.granularity, r.created_by, r.created_at, r.completed_at, r.result)

    # --- Usage from the audit trail ------------------------------------------------------------
    def usage(self, account_id: str, identity_prefix: str, username: str | None = None) -> builtins.list[UsageRow]:
        """The newest event of each (source, name) whose record's ``userIdentity`` starts with
        ``identity_prefix`` (the exact JSON text, e.g. ``{"type":"IAMUser","principalId":"AIDA..."``).
        ``username``: also match the indexed Username column (an IAM user's events), which narrows
        the scan."""
        events = schema.audit_events
        pattern = '%"userIdentity":' + _like_escape(identity_prefix) + "%"
        conditions = [events.c.account_id == account_id, events.c.record.like(pattern, escape="\\")]
        if username is not None:
            conditions.append(events.c.username == username)
        last = func.max(events.c.seq).label("last_seq")
        query = (
            select(events.c.event_source, events.c.event_name, last)
            .where(*conditions)
            .group_by(events.c.event_source, events.c.event_name)
            .order_by(last.desc())
            .limit(MAX_USAGE_ROWS)
        )
        with self._engine.connect() as conn:
            return [UsageRow(r.event_source, r.event_name, int(r.last_seq)) for r in conn.execute(query)]

    def events_at(self, account_id: str, seqs: Iterable[int]) -> dict[int, EventPlace]:
        """Time and record of the given events of ``account_id``."""
        events = schema.audit_events
        wanted = sorted(set(seqs))
        out: dict[int, EventPlace] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start : start + _IN_CHUNK]
                query = select(events.c.seq, events.c.event_time, events.c.record).where(
                    events.c.account_id == account_id, events.c.seq.in_(chunk)
                )
                for r in conn.execute(query):
                    out[int(r.seq)] = EventPlace(r.event_time, r.record)
        return out

    def members(self, group_ids: Sequence[str]) -> builtins.list[UserRecord]:
        """The users of the given groups, each once, by name."""
        users, members = schema.users, schema.group_members
        found: dict[str, UserRecord] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(group_ids), _IN_CHUNK):
                chunk = list(group_ids[start : start + _IN_CHUNK])
                query = select(users).select_from(members.join(users, members.c.user_id == users.c.user_id)).where(
                    members.c.group_id.in_(chunk)
                )
                for r in conn.execute(query):
                    found[r.user_id] = user_record(r)
        return sorted(found.values(), key=lambda u: u.name.lower())


def _report(row: object) -> CredentialReportRow:
    r = row
    return CredentialReportRow(r.state, r.started_at, r.generated_at, r.content)  # type: ignore[attr-defined]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
