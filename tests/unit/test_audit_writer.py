"""The audit writer process (audit/writer.py) on every backend: it commits what the trail hands it
and answers each group truthfully; when it cannot take a group or is gone, the trail commits on
the loop and no waiting request is told "recorded" unless it was."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensts.audit import trail as trail_module
from opensts.audit import writer as writer_module
from opensts.audit.record import ApiCall, api_call_events
from opensts.audit.trail import AuditTrail, AuditUnavailable
from opensts.audit.verify import verify
from opensts.audit.writer import WriterSettings, pickled
from opensts.errors import AwsError
from opensts.fields import NoParameters
from opensts.identity.principal import Caller, PrincipalKind
from opensts.store import Store
from opensts.sts.caller_identity import GetCallerIdentityResult
from tests.unit.conftest import ACCOUNT

USER = Caller(PrincipalKind.USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAEXAMPLEEXAMPLE01",
              "AKIAEXAMPLEEXAMPLE01", "AIDAEXAMPLEEXAMPLE01", "alice")


def call(request_id: str, **overrides: object) -> ApiCall:
    values: dict[str, object] = dict(
        event_time=datetime.now(timezone.utc), request_id=request_id, service="sts", action="GetCallerIdentity",
        read_only=True, source_ip="127.0.0.1", user_agent="test", region="us-east-1", host=None, secure=False,
        caller=USER, request=NoParameters(), result=GetCallerIdentityResult(USER.user_id, ACCOUNT, USER.arn),
    )
    values.update(overrides)
    return ApiCall(**values)  # type: ignore[arg-type]


def recorded(store: Store) -> dict[str, dict]:  # type: ignore[type-arg]
    return {json.loads(e.record)["requestID"]: json.loads(e.record) for e in store.audit.chain(ACCOUNT)}


@pytest.fixture
def trail(store: Store, tmp_path: Path) -> Iterator[AuditTrail]:
    settings = WriterSettings(store.url, ACCOUNT, str(tmp_path / "trail.jsonl"), None, None)
    made = AuditTrail(store, ACCOUNT, (), settings, "process")
    yield made
    made.close()


async def writer_running(trail: AuditTrail) -> int:
    """Record one call (which starts the writer) and wait until the writer has opened the store."""
    await trail.record_durably(call("first"))
    deadline = time.monotonic() + 30
    while trail.writer_pid is None:
        assert time.monotonic() < deadline, "the audit writer did not start"
        await asyncio.sleep(0.02)
    return trail.writer_pid


def test_the_writer_commits_every_call_and_feeds_its_stream(trail: AuditTrail, store: Store, tmp_path: Path) -> None:
    async def run() -> None:
        await writer_running(trail)
        for batch in range(20):
            for n in range(25):
                trail.record(call(f"read-{batch}-{n}"))
            await trail.record_durably(call(f"write-{batch}", read_only=False))

    asyncio.run(run())
    trail.close()  # the writer commits what it was sent, answers, and exits
    events = recorded(store)
    assert len(events) == 1 + 20 * 26
    assert events["write-7"]["userIdentity"]["arn"] == USER.arn
    assert events["read-3-4"]["responseElements"]["arn"] == USER.arn
    assert trail.counters()["opensts_audit_events_written_total"] == 1 + 20 * 26
    assert trail.counters()["opensts_audit_events_pending"] == 0
    # The writer's own stream: every call it committed (the first was committed on the loop,
    # before the writer was ready, and the trail was given no stream of its own here).
    lines = [json.loads(line) for line in (tmp_path / "trail.jsonl").read_text().splitlines()]
    assert {line["requestID"] for line in lines} == set(events) - {"first"}
    head = next(h for h in store.audit.heads() if h.account_id == ACCOUNT)
    assert head.seq == len(events)
    assert verify(store, b"k" * 32).intact  # the hash chain links, event by event (no checkpoints signed)


def test_a_writer_that_dies_fails_the_calls_it_did_not_answer_and_the_loop_takes_over(
    trail: AuditTrail, store: Store,
) -> None:
    """A request waiting on a group the writer never answered hears AuditUnavailable (credentials
    are not released as recorded); later calls are committed on the loop."""

    async def run() -> list[object]:
        pid = await writer_running(trail)
        os.kill(pid, signal.SIGSTOP)  # it cannot answer...
        waiting = asyncio.ensure_future(trail.record_durably(call("unanswered", read_only=False)))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        os.kill(pid, signal.SIGKILL)  # ...and then it is gone
        outcome = await asyncio.gather(waiting, return_exceptions=True)
        await trail.record_durably(call("after", read_only=False))
        return outcome

    outcome = asyncio.run(run())
    assert isinstance(outcome[0], AuditUnavailable)
    assert "after" in recorded(store)
    assert trail.writer_pid is None


def test_waiting_calls_go_to_the_writer_while_the_turn_that_made_them_still_runs(
    trail: AuditTrail, store: Store,
) -> None:
    """A long turn of the event loop (dozens of requests under load) does not hold its waiting
    calls back until it ends: every DURABLE_GROUP_CALLS of them go to the writer at once, which
    commits them while the turn goes on."""
    count = trail_module.DURABLE_GROUP_CALLS

    def rest_of_the_turn() -> bool:
        """Runs in the same turn as the calls' joining; True once the writer has committed them."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if {f"w{n}" for n in range(count)} <= set(recorded(store)):
                return True
            time.sleep(0.02)
        return False

    async def run() -> bool:
        await writer_running(trail)
        waits = [asyncio.ensure_future(trail.record_durably(call(f"w{n}", read_only=False))) for n in range(count)]
        committed_mid_turn = asyncio.get_running_loop().create_future()
        # Scheduled after the tasks' first steps (their joining): the same turn, once they have joined.
        asyncio.get_running_loop().call_soon(lambda: committed_mid_turn.set_result(rest_of_the_turn()))
        await asyncio.gather(*waits)
        return await committed_mid_turn

    assert asyncio.run(run())


def test_calls_that_cannot_be_pickled_are_committed_on_the_loop(trail: AuditTrail, store: Store) -> None:
    async def run() -> None:
        await writer_running(trail)
        odd = call("odd", read_only=False, request=NoParameters(), result=None)
        odd.secret_params = (lambda: None,)  # type: ignore[assignment]  # pickle refuses lambdas
        await asyncio.gather(trail.record_durably(odd), trail.record_durably(call("plain", read_only=False)))

    asyncio.run(run())
    assert {"odd", "plain"} <= set(recorded(store))


class FailsToUnpickle:
    """Pickles, but raises when the writer unpickles it (a stand-in for a bug)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return int, ("not a number",)


def test_a_group_the_writer_cannot_read_fails_alone_and_the_writer_carries_on(trail: AuditTrail, store: Store) -> None:
    async def run() -> list[object]:
        pid = await writer_running(trail)
        outcome = await asyncio.gather(
            trail.record_durably(call("unreadable", read_only=False, request=FailsToUnpickle())),
            return_exceptions=True,
        )
        await trail.record_durably(call("next", read_only=False))
        assert trail.writer_pid == pid
        return outcome

    outcome = asyncio.run(run())
    assert isinstance(outcome[0], AuditUnavailable)
    assert "next" in recorded(store) and "unreadable" not in recorded(store)


def test_a_pickled_call_records_as_the_original() -> None:
    """What the writer builds from a pickled call is what the loop would have built: the caller's
    session, an error's own code, nested results."""
    original = call("x", caller=USER, error=AwsError("no such role", code="NoSuchEntity", status=404),
                    claimed_key_id="AKIAEXAMPLEEXAMPLE01", session_token="FQoGZXIvYXdzEXAMPLE", secret_params=("s3cr3t",))
    import pickle

    [copy] = pickle.loads(pickled([original]))
    assert copy.caller == original.caller and copy.error.code == "NoSuchEntity" and copy.error.message == "no such role"

    def record(c: ApiCall) -> dict:  # type: ignore[type-arg]
        [event] = api_call_events(c, ACCOUNT, lambda account: True)
        body = json.loads(event.record)
        body.pop("eventID")
        return body

    assert record(copy) == record(original)


@given(st.lists(st.binary(max_size=300), max_size=20), st.lists(st.integers(1, 50), max_size=30))
def test_frames_split_anywhere_are_read_whole(payloads: list[bytes], cuts: list[int]) -> None:
    """The pipe may deliver a frame in pieces or several at once: each is read whole, in order."""
    stream = b"".join(writer_module._frame(p) for p in payloads)
    buffer, seen, position = bytearray(), [], 0
    for cut in [*cuts, len(stream)]:
        buffer += stream[position:position + cut]
        position += cut
        seen.extend(writer_module._frames(buffer))
    buffer += stream[position:]
    seen.extend(writer_module._frames(buffer))
    assert seen == payloads and not buffer


def test_an_oversized_frame_length_is_refused() -> None:
    buffer = bytearray(writer_module._LENGTH.pack(writer_module.MAX_FRAME + 1) + b"x")
    with pytest.raises(ValueError):
        writer_module._frames(buffer)


def test_a_writer_that_stops_answering_is_stopped_and_its_waiting_calls_fail(
    trail: AuditTrail, store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watchdog (``tick``, once a second in the server): a writer that does not answer a group
    for WRITER_STALL_SECONDS is killed; the waiting request hears AuditUnavailable, not nothing."""
    monkeypatch.setattr(trail_module, "WRITER_STALL_SECONDS", 0.3)

    async def run() -> list[object]:
        pid = await writer_running(trail)
        os.kill(pid, signal.SIGSTOP)
        waiting = asyncio.ensure_future(trail.record_durably(call("stuck", read_only=False)))
        await asyncio.sleep(0.5)
        trail.tick()
        outcome = await asyncio.wait_for(asyncio.gather(waiting, return_exceptions=True), 10)
        await trail.record_durably(call("afterwards", read_only=False))
        return outcome

    outcome = asyncio.run(run())
    assert isinstance(outcome[0], AuditUnavailable)
    assert "afterwards" in recorded(store)


def test_close_drains_a_backlog_bigger_than_the_pipes(trail: AuditTrail, store: Store) -> None:
    """At shutdown the server writes what the writer has not taken yet while reading its answers:
    with both pipes full neither waits on the other, and every call is committed."""

    async def run() -> None:
        pid = await writer_running(trail)
        os.kill(pid, signal.SIGSTOP)
        for n in range(3000):  # far more than a pipe holds: the rest waits in the server's buffer
            trail.record(call(f"backlog-{n}", user_agent="x" * 200))
        await asyncio.sleep(0.05)  # the 2 ms groups close and are handed over
        os.kill(pid, signal.SIGCONT)

    asyncio.run(run())
    trail.close()
    assert sum(1 for rid in recorded(store) if rid.startswith("backlog-")) == 3000
    assert trail.counters()["opensts_audit_events_pending"] == 0


def test_calls_handed_to_the_writer_are_not_kept_in_the_server(trail: AuditTrail, store: Store) -> None:
    """Once pickled for the writer, a call (its request, result and caller) is the writer's: the
    server keeps only what answers its caller. A stalled writer's backlog is then bytes, bounded,
    not a heap of result objects."""
    import gc

    calls = [call(f"handed-{n}") for n in range(50)]

    async def run() -> list[list[object]]:
        pid = await writer_running(trail)
        os.kill(pid, signal.SIGSTOP)  # unanswered: the server still waits for these groups
        try:
            for each in calls:
                trail.record(each)
            del each  # this frame's own reference
            await asyncio.sleep(0.05)  # the 2 ms group closes and is handed over
            assert trail.counters()["opensts_audit_events_pending"] == 50
            return [[r for r in gc.get_referrers(each) if r is not calls] for each in calls]
        finally:
            os.kill(pid, signal.SIGCONT)

    holders = asyncio.run(run())
    assert holders == [[]] * 50
    trail.close()
    assert sum(1 for rid in recorded(store) if rid.startswith("handed-")) == 50


def test_close_gives_up_on_a_writer_that_does_not_finish(store: Store, tmp_path: Path) -> None:
    trail = AuditTrail(store, ACCOUNT, (), WriterSettings(store.url, ACCOUNT, None, None, None), "process")
    writer_pid = 0

    async def run() -> None:
        nonlocal writer_pid
        writer_pid = await writer_running(trail)
        os.kill(writer_pid, signal.SIGSTOP)
        trail.record(call("never"))
        await asyncio.sleep(0.05)

    asyncio.run(run())
    assert trail._writer is not None
    started = time.monotonic()
    trail._writer.close(timeout=1.0)
    assert time.monotonic() - started < 5
    trail.close()
    assert trail.counters()["opensts_audit_events_pending"] == 0
    assert trail.counters()["opensts_audit_events_failed_total"] == 1


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


SERVER_THAT_DIES = """
import asyncio, os, signal, sys
from opensts.audit.trail import AuditTrail
from opensts.audit.writer import WriterSettings
from opensts.store import Store
from opensts.tokens.master_key import MasterKey
from tests.unit.test_audit_writer import ACCOUNT, call, writer_running

url, stream, pid_file = sys.argv[1], sys.argv[2], sys.argv[3]
store = Store(url, MasterKey.generate(), migrate=False)
trail = AuditTrail(store, ACCOUNT, (), WriterSettings(url, ACCOUNT, stream, None, None), "process")

async def run():
    pid = await writer_running(trail)
    os.kill(pid, signal.SIGSTOP)
    for n in range(100):
        trail.record(call(f"dying-{n}"))
    await asyncio.sleep(0.05)
    assert not trail._writer._unsent  # all handed over: in the pipe
    with open(pid_file, "w") as out:
        out.write(str(pid))
    os._exit(0)  # as if killed: no close, nothing read back

asyncio.run(run())
"""


def test_when_the_server_dies_the_writer_commits_and_streams_every_group_it_received(
    store: Store, tmp_path: Path,
) -> None:
    """The writer's answers then have no reader: it keeps committing, feeds its stream, and exits
    at the end of its input."""
    import subprocess
    import sys

    stream = tmp_path / "stream.jsonl"
    root = Path(__file__).resolve().parents[2]
    pid_file = tmp_path / "writer.pid"
    # No pipes for its output: the writer inherits them and, stopped, would hold them open.
    done = subprocess.run([sys.executable, "-c", SERVER_THAT_DIES, store.url, str(stream), str(pid_file)], cwd=root,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while running(pid):
        assert time.monotonic() < deadline, "the writer did not exit"
        time.sleep(0.05)
    committed = {rid for rid in recorded(store) if rid.startswith("dying-")}
    assert len(committed) == 100
    streamed = {json.loads(line)["requestID"] for line in stream.read_text().splitlines()}
    assert committed <= streamed
