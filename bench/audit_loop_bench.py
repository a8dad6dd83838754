"""The audit trail's CPU on the server's event loop, per recorded call: committing on the loop
(``--audit-writer inline``) against handing groups to the writer process (``process``).

    python bench/audit_loop_bench.py [--calls 20000] [--every 50]

In process, on SQLite in a temporary directory: records ``--calls`` GetCallerIdentity calls of one
IAM user through an :class:`~opensts.audit.trail.AuditTrail`, every ``--every``-th one awaited (as
a credential-issuing call would be), and prints the loop's CPU time (``time.process_time`` of this
process: the writer's own CPU is not counted, which is the point) per call for each mode.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import datetime, timezone

from opensts.audit.record import ApiCall
from opensts.audit.trail import AuditTrail
from opensts.audit.writer import WriterSettings
from opensts.fields import NoParameters
from opensts.identity.principal import Caller, PrincipalKind
from opensts.store import Store
from opensts.sts.caller_identity import GetCallerIdentityResult
from opensts.tokens.master_key import MasterKey

ACCOUNT = "123456789012"
CALLER = Caller(PrincipalKind.USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAEXAMPLEEXAMPLE01",
                "AKIAEXAMPLEEXAMPLE01", "AIDAEXAMPLEEXAMPLE01", "alice")


def call(n: int) -> ApiCall:
    return ApiCall(
        datetime.now(timezone.utc), f"request-{n}", "sts", "GetCallerIdentity", True, "127.0.0.1",
        "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux#6.18 md/arch#x86_64 lang/python#3.11.7", "us-east-1",
        "127.0.0.1:7070", False, caller=CALLER, claimed_key_id=CALLER.access_key_id, request=NoParameters(),
        result=GetCallerIdentityResult(CALLER.user_id, ACCOUNT, CALLER.arn),
    )


def measure(mode: str, calls: int, every: int) -> float:
    directory = tempfile.mkdtemp(prefix="opensts-audit-loop-")
    url = f"sqlite:///{directory}/opensts.db"
    store = Store(url, MasterKey.generate())
    store.accounts.create(ACCOUNT, "bench")
    trail = AuditTrail(store, ACCOUNT, (), WriterSettings(url, ACCOUNT, None, None, None), mode)
    made = [call(n) for n in range(calls)]

    async def run() -> float:
        await trail.record_durably(call(-1))
        deadline = time.monotonic() + 30
        while mode == "process" and trail.writer_pid is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        started = time.process_time()
        for n in range(0, calls, every):
            for item in made[n:n + every - 1]:
                trail.record(item)
            await trail.record_durably(made[min(n + every, calls) - 1])
        return (time.process_time() - started) / calls * 1e6

    try:
        return asyncio.run(run())
    finally:
        trail.close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    print(f"The audit trail's CPU on the event loop, µs per recorded call ({args.calls:,} GetCallerIdentity "
          f"calls, every {args.every}th awaited, SQLite):")
    for mode in ("inline", "process"):
        print(f"  --audit-writer {mode:<8} {measure(mode, args.calls, args.every):8.1f}")


if __name__ == "__main__":
    main()
