"""Tamper evidence: ``verify`` finds each way of tampering with the store directly, and passes
an untouched one; retention keeps the chain verifiable (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from opensts.audit.retention import prune_expired
from opensts.audit.verify import PRUNED, Report, sign_checkpoints, signer_for, verify
from opensts.config import Settings
from opensts.runtime import Runtime, open_runtime
from opensts.store.audit import NewEvent
from opensts.store.audit_chain import chain_hash

OTHER = "210987654321"
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = open_runtime(Settings(data_dir=tmp_path / "data", database_url=database_url))
    rt.store.accounts.create(OTHER, "other")
    yield rt
    rt.close()


def event(account: str, when: datetime, name: str = "GetCallerIdentity") -> NewEvent:
    event_id = str(uuid.uuid4())
    record = json.dumps({"eventID": event_id, "eventName": name, "eventTime": when.isoformat(),
                         "recipientAccountId": account})
    return NewEvent(account, event_id, when, "sts.amazonaws.com", name, True, "root", None, None, (), record)


def fill(runtime: Runtime, count: int = 20, start: datetime = NOW - timedelta(hours=1)) -> list[str]:
    """``count`` events in the default account (interleaved with the other's); their ids by seq - 1."""
    ids = []
    for i in range(count):
        mine = event(runtime.default_account_id, start + timedelta(seconds=i))
        ids.append(mine.event_id)
        runtime.store.audit.append([mine, event(OTHER, start + timedelta(seconds=i))])
    return ids


def sql(runtime: Runtime, statement: str, **params: object) -> None:
    with runtime.store.engine.begin() as conn:
        conn.execute(text(statement), {"account": runtime.default_account_id, **params})


def problem(report: Report, runtime: Runtime):  # type: ignore[no-untyped-def]
    results = {r.account_id: r for r in report.accounts}
    assert results[OTHER].intact, results[OTHER].problem  # the other account's chain is untouched
    found = results[runtime.default_account_id].problem
    assert found is not None
    return found


def rows(runtime: Runtime) -> dict[int, tuple[str, str]]:
    with runtime.store.engine.connect() as conn:
        return {seq: (record, hash_) for seq, record, hash_ in conn.execute(
            text("SELECT seq, record, chain_hash FROM audit_events WHERE account_id = :a"),
            {"a": runtime.default_account_id})}


def set_seq(runtime: Runtime, old: int, new: int) -> None:
    sql(runtime, "UPDATE audit_events SET seq = :new WHERE account_id = :account AND seq = :old", old=old, new=new)


# --- Untouched -----------------------------------------------------------------------------------------
def test_an_untouched_store_verifies(runtime: Runtime) -> None:
    fill(runtime)
    assert sign_checkpoints(runtime, NOW) == 2
    assert sign_checkpoints(runtime, NOW) == 0  # nothing new: nothing signed twice
    fill(runtime, 3)
    report = verify(runtime)
    assert report.intact
    mine = next(r for r in report.accounts if r.account_id == runtime.default_account_id)
    assert (mine.events, mine.last_seq, mine.checkpoints) == (23, 23, 1)


def test_verify_with_the_store_and_key(runtime: Runtime) -> None:
    fill(runtime, 3)
    sign_checkpoints(runtime, NOW)
    assert verify(runtime.store, runtime.master_key.derive("audit-checkpoint")).intact
    forged = verify(runtime.store, b"k" * 32)
    assert not forged.intact and {r.problem.kind for r in forged.accounts if r.problem} == {"bad-signature"}


# --- The four ways of the issue ----------------------------------------------------------------------------
def test_a_modified_record_is_found(runtime: Runtime) -> None:
    ids = fill(runtime)
    sign_checkpoints(runtime, NOW)
    sql(runtime, "UPDATE audit_events SET record = replace(record, 'GetCallerIdentity', 'Nothing') "
                 "WHERE account_id = :account AND seq = 7")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq, found.event_id) == ("modified", 7, ids[6])


def test_a_deleted_event_is_found(runtime: Runtime) -> None:
    fill(runtime)
    sql(runtime, "DELETE FROM audit_events WHERE account_id = :account AND seq = 7")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("deleted", 7)
    assert "seq 7 missing" in found.message


def test_a_deleted_event_is_found_when_the_later_ones_are_renumbered(runtime: Runtime) -> None:
    ids = fill(runtime)
    sql(runtime, "DELETE FROM audit_events WHERE account_id = :account AND seq = 7")
    for seq in range(8, 21):
        set_seq(runtime, seq, seq - 1)
    sql(runtime, "UPDATE audit_chain_heads SET seq = 19 WHERE account_id = :account")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq, found.event_id) == ("deleted", 7, ids[7])


def test_an_inserted_event_is_found(runtime: Runtime) -> None:
    fill(runtime)
    for seq in range(20, 6, -1):
        set_seq(runtime, seq, seq + 1)
    forged = event(runtime.default_account_id, NOW - timedelta(minutes=30), "CreateUser")
    sql(runtime, "INSERT INTO audit_events (account_id, seq, event_id, event_time, event_source, event_name, "
                 "read_only, record, chain_hash) VALUES (:account, 7, :id, :t, 'iam.amazonaws.com', 'CreateUser', "
                 "false, :record, :hash)", id=forged.event_id, t=forged.event_time.replace(tzinfo=None),
        record=forged.record, hash="f" * 64)
    sql(runtime, "UPDATE audit_chain_heads SET seq = 21 WHERE account_id = :account")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq, found.event_id) == ("inserted", 7, forged.event_id)


def test_an_inserted_event_with_a_well_made_hash_is_found(runtime: Runtime) -> None:
    fill(runtime)
    for seq in range(20, 6, -1):
        set_seq(runtime, seq, seq + 1)
    forged = event(runtime.default_account_id, NOW - timedelta(minutes=30), "CreateUser")
    previous = rows(runtime)[6][1]
    sql(runtime, "INSERT INTO audit_events (account_id, seq, event_id, event_time, event_source, event_name, "
                 "read_only, record, chain_hash) VALUES (:account, 7, :id, :t, 'iam.amazonaws.com', 'CreateUser', "
                 "false, :record, :hash)", id=forged.event_id, t=forged.event_time.replace(tzinfo=None),
        record=forged.record, hash=chain_hash(runtime.default_account_id, 7, previous, forged.record))
    sql(runtime, "UPDATE audit_chain_heads SET seq = 21 WHERE account_id = :account")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq, found.event_id) == ("inserted", 7, forged.event_id)


def test_an_event_appended_behind_the_heads_back_is_found(runtime: Runtime) -> None:
    fill(runtime, 5)
    forged = event(runtime.default_account_id, NOW, "CreateUser")
    previous = rows(runtime)[5][1]
    sql(runtime, "INSERT INTO audit_events (account_id, seq, event_id, event_time, event_source, event_name, "
                 "read_only, record, chain_hash) VALUES (:account, 6, :id, :t, 'iam.amazonaws.com', 'CreateUser', "
                 "false, :record, :hash)", id=forged.event_id, t=forged.event_time.replace(tzinfo=None),
        record=forged.record, hash=chain_hash(runtime.default_account_id, 6, previous, forged.record))
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq, found.event_id) == ("inserted", 6, forged.event_id)


@pytest.mark.parametrize("first,second", [(5, 9), (5, 6)])
def test_reordered_events_are_found(runtime: Runtime, first: int, second: int) -> None:
    ids = fill(runtime)
    set_seq(runtime, first, -1)
    set_seq(runtime, second, first)
    set_seq(runtime, -1, second)
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq, found.event_id) == ("reordered", first, ids[second - 1])
    assert ids[first - 1] in found.message


def test_swapped_records_are_found(runtime: Runtime) -> None:
    ids = fill(runtime)
    before = rows(runtime)
    sql(runtime, "UPDATE audit_events SET record = :r WHERE account_id = :account AND seq = 4", r=before[12][0])
    sql(runtime, "UPDATE audit_events SET record = :r WHERE account_id = :account AND seq = 12", r=before[4][0])
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("reordered", 4)
    assert ids[3] in found.message or found.event_id == ids[3]


# --- Beyond the four: rehashing, truncation, forged checkpoints and boundaries ----------------------------
def rehash_from(runtime: Runtime, start: int) -> None:
    """What an attacker who knows the (unkeyed) chain function does after an edit."""
    current = rows(runtime)
    previous = current[start - 1][1]
    for seq in range(start, max(current) + 1):
        previous = chain_hash(runtime.default_account_id, seq, previous, current[seq][0])
        sql(runtime, "UPDATE audit_events SET chain_hash = :h WHERE account_id = :account AND seq = :s",
            h=previous, s=seq)
    sql(runtime, "UPDATE audit_chain_heads SET chain_hash = :h WHERE account_id = :account", h=previous)


def test_a_rehashed_chain_is_caught_by_its_checkpoint(runtime: Runtime) -> None:
    fill(runtime, 10)
    sign_checkpoints(runtime, NOW)
    fill(runtime, 10)
    sign_checkpoints(runtime, NOW + timedelta(minutes=1))
    sql(runtime, "UPDATE audit_events SET record = replace(record, 'GetCallerIdentity', 'Nothing') "
                 "WHERE account_id = :account AND seq = 14")
    rehash_from(runtime, 14)
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("modified", 11)
    assert "seqs 11..20" in found.message
    assert sign_checkpoints(runtime, NOW + timedelta(minutes=2)) == 0


def test_the_signer_does_not_sign_a_broken_chain(runtime: Runtime) -> None:
    fill(runtime, 10)
    sign_checkpoints(runtime, NOW)
    fill(runtime, 5)
    sql(runtime, "UPDATE audit_events SET record = 'x' WHERE account_id = :account AND seq = 12")
    assert sign_checkpoints(runtime, NOW + timedelta(minutes=1)) == 1  # the other account only
    assert problem(verify(runtime), runtime).kind == "modified"


def test_a_truncated_tail_is_found(runtime: Runtime) -> None:
    fill(runtime)
    sign_checkpoints(runtime, NOW)
    hash14 = rows(runtime)[14][1]
    sql(runtime, "DELETE FROM audit_events WHERE account_id = :account AND seq > 14")
    sql(runtime, "UPDATE audit_chain_heads SET seq = 14, chain_hash = :h WHERE account_id = :account", h=hash14)
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("truncated", 15)
    assert "15..20" in found.message


def test_a_tail_cut_without_moving_the_head_is_found(runtime: Runtime) -> None:
    fill(runtime)
    sql(runtime, "DELETE FROM audit_events WHERE account_id = :account AND seq > 17")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("truncated", 18)


def test_an_altered_checkpoint_is_found(runtime: Runtime) -> None:
    fill(runtime)
    sign_checkpoints(runtime, NOW)
    sql(runtime, "UPDATE audit_checkpoints SET seq = 25 WHERE account_id = :account")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("bad-signature", 25)


def test_a_forged_pruned_boundary_is_found(runtime: Runtime) -> None:
    fill(runtime)
    sign_checkpoints(runtime, NOW)  # a signed (head) checkpoint at seq 20 does not vouch for a boundary
    hash20 = rows(runtime)[20][1]
    fill(runtime, 5)
    sql(runtime, "DELETE FROM audit_events WHERE account_id = :account AND seq <= 20")
    sql(runtime, "UPDATE audit_chain_heads SET pruned_seq = 20, pruned_hash = :h WHERE account_id = :account",
        h=hash20)
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("unsigned-boundary", 20)


def test_old_events_deleted_without_moving_the_boundary_are_found(runtime: Runtime) -> None:
    fill(runtime)
    sql(runtime, "DELETE FROM audit_events WHERE account_id = :account AND seq <= 3")
    found = problem(verify(runtime), runtime)
    assert (found.kind, found.seq) == ("deleted", 1)


# --- Retention ----------------------------------------------------------------------------------------------
def test_retention_removes_old_events_and_signs_the_boundary(runtime: Runtime) -> None:
    days = runtime.settings.audit_retention_days
    old = fill(runtime, 12, start=NOW - timedelta(days=days, hours=1))
    sign_checkpoints(runtime, NOW - timedelta(days=days))
    young = fill(runtime, 4, start=NOW - timedelta(days=1))
    assert prune_expired(runtime, NOW, batch=5) == 24  # both accounts, in batches of 5
    remaining = runtime.store.audit.chain(runtime.default_account_id)
    assert [e.event_id for e in remaining] == young
    head = next(h for h in runtime.store.audit.heads() if h.account_id == runtime.default_account_id)
    assert (head.pruned_seq, head.seq) == (12, 16)
    boundary = runtime.store.audit.checkpoints(runtime.default_account_id)
    assert [c.seq for c in boundary] == [12]
    assert signer_for(runtime).kind_of(boundary[0]) == PRUNED
    assert verify(runtime).intact
    assert prune_expired(runtime, NOW) == 0
    fill(runtime, 2)
    assert sign_checkpoints(runtime, NOW) == 2
    assert verify(runtime).intact
    assert old[0] not in {e.event_id for e in runtime.store.audit.chain(runtime.default_account_id)}


def test_retention_of_a_whole_chain(runtime: Runtime) -> None:
    fill(runtime, 3, start=NOW - timedelta(days=400))
    sign_checkpoints(runtime, NOW - timedelta(days=400))
    assert prune_expired(runtime, NOW) == 6
    assert verify(runtime).intact
    assert sign_checkpoints(runtime, NOW) == 0
    fill(runtime, 2)
    assert sign_checkpoints(runtime, NOW) == 2
    assert verify(runtime).intact


def test_verify_during_appends_reports_no_tampering(runtime: Runtime) -> None:
    """A live store: events committed while verify reads (beyond the head it read first) are an
    append, not an insertion."""
    import threading

    fill(runtime, 5)
    sign_checkpoints(runtime)
    stop = threading.Event()

    def append() -> None:
        while not stop.is_set():
            runtime.store.audit.append([event(runtime.default_account_id, NOW) for _ in range(5)])

    writer = threading.Thread(target=append)
    writer.start()
    try:
        reports = [verify(runtime) for _ in range(10)]
    finally:
        stop.set()
        writer.join()
    assert all(report.intact for report in reports), [problem(r, runtime) for r in reports if not r.intact]
