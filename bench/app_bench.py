"""The application's own cost per request, without HTTP: the ASGI app called directly.

    python bench/app_bench.py [--requests 4000] [--repeats 5] [case ...]

Cases: ``GetCallerIdentity`` (root), ``GetCallerIdentity-session`` (signed with temporary
credentials from GetSessionToken: the session token is decoded too), ``AssumeRole`` (a user assumes
a role), ``authorize`` (``POST /v1/authorize``, Allow, a remembered decision), ``authorize-condition``
(Allow under an ``aws:SourceIp`` condition, remembered per source IP), ``authorize-deny`` (an
implicit Deny: the answer carries an encoded authorization message), ``authorize-2000`` (2,000
calls about 2,000 instances in turn: 2,000 remembered decisions) and ``authorize-evaluated``
(the first with a ``resourcePolicy`` in the body: evaluated on every call, policy included). Each request is signed once with botocore and replayed, like the
HTTP benchmarks do. Prints the best and the median of ``--repeats`` timings, in µs per request.
What this leaves out (uvicorn, the sockets, the kernel) is what ``server_bench.py`` adds back.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import tempfile
import time
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

URL = "http://127.0.0.1:7070"
ACCOUNT = "123456789012"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def sign(path: str, body: bytes, creds: tuple[str, ...], service: str, content_type: str = FORM,
         url: str = URL, host: str = "127.0.0.1:7070") -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + path, data=body, headers={"Content-Type": content_type})
    SigV4Auth(Credentials(*creds), service, "us-east-1").add_auth(request)
    return {**dict(request.headers.items()), "Host": host}


class Replay:
    """One signed request, sent to the ASGI app as uvicorn would."""

    def __init__(self, app: Any, path: str, headers: dict[str, str], body: bytes) -> None:
        self.app = app
        self.scope = {
            "type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 7070), "scheme": "http",
            "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"},
        }
        self.message = {"type": "http.request", "body": body, "more_body": False}

    async def __call__(self) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return self.message

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(dict(self.scope), receive, send)
        return sent[0]["status"], sent[1]["body"]


class InTurn:
    """Several replays sent one after the other, round and round."""

    def __init__(self, replays: list[Replay]) -> None:
        self.replays = replays
        self.next = 0

    async def __call__(self) -> tuple[int, bytes]:
        replay = self.replays[self.next]
        self.next = (self.next + 1) % len(self.replays)
        return await replay()


async def setup(app: Any, root: tuple[str, str]) -> dict[str, Replay | InTurn]:
    async def iam(**params: str) -> bytes:
        body = "&".join(f"{k}={quote(v, safe='')}" for k, v in {"Version": "2010-05-08", **params}.items()).encode()
        status, answer = await Replay(app, "/", sign("/", body, root, "iam"), body)()
        assert status == 200, answer
        return answer

    def key_of(answer: bytes) -> tuple[str, str]:
        found = [re.search(rb"<%s>(.*?)<" % tag, answer).group(1).decode() for tag in (b"AccessKeyId", b"SecretAccessKey")]  # type: ignore[union-attr]
        return found[0], found[1]

    keys = {}
    # alice's RebootInstances is allowed only from one network: that decision reads the source IP.
    from_network = {"Effect": "Allow", "Action": "ec2:RebootInstances", "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}
    for name, action in (("alice", "ec2:StopInstances"), ("service", "opensts:Authorize")):
        await iam(Action="CreateUser", UserName=name)
        statements = [{"Effect": "Allow", "Action": action, "Resource": "*"}] + ([from_network] if name == "alice" else [])
        await iam(Action="PutUserPolicy", UserName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        keys[name] = key_of(await iam(Action="CreateAccessKey", UserName=name))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}, "Action": "sts:AssumeRole"}]}
    await iam(Action="CreateRole", RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust))

    gci = b"Action=GetCallerIdentity&Version=2011-06-15"
    get_session = b"Action=GetSessionToken&Version=2011-06-15"
    status, answer = await Replay(app, "/", sign("/", get_session, keys["alice"], "sts"), get_session)()
    assert status == 200, answer
    session = tuple(re.search(rb"<%s>(.*?)<" % tag, answer).group(1).decode()  # type: ignore[union-attr]
                    for tag in (b"AccessKeyId", b"SecretAccessKey", b"SessionToken"))
    assume = (f"Action=AssumeRole&RoleArn={quote(f'arn:aws:iam::{ACCOUNT}:role/deployer', safe='')}"
              "&RoleSessionName=bench&Version=2011-06-15").encode()

    def authorize(action: str, instance: str = "i-0123456789abcdef0", **extra: object) -> Replay:
        inner_body = f"Action={action.partition(':')[2]}&Version=2016-11-15&InstanceId.1={instance}".encode()
        inner_headers = sign("/", inner_body, keys["alice"], "ec2", url="http://instances.example.com",
                             host="instances.example.com")
        payload = json.dumps({
            "request": {"method": "POST", "path": "/", "headers": inner_headers, "body": base64.b64encode(inner_body).decode()},
            "action": action, "resource": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}",
            "context": {"ec2:Region": "us-east-1"}, "sourceIp": "203.0.113.7", **extra,
        }).encode()
        headers = sign("/v1/authorize", payload, keys["service"], "opensts", "application/json")
        return Replay(app, "/v1/authorize", headers, payload)

    return {
        "GetCallerIdentity": Replay(app, "/", sign("/", gci, root, "sts"), gci),
        "GetCallerIdentity-session": Replay(app, "/", sign("/", gci, session, "sts"), gci),
        "AssumeRole": Replay(app, "/", sign("/", assume, keys["alice"], "sts"), assume),
        "authorize": authorize("ec2:StopInstances"),
        "authorize-condition": authorize("ec2:RebootInstances"),
        "authorize-deny": authorize("ec2:TerminateInstances"),
        # 2,000 (action, resource) questions in turn (all remembered: the budget is 100,000 per process).
        "authorize-2000": InTurn([authorize("ec2:StopInstances", f"i-{n:017x}") for n in range(2000)]),
        "authorize-evaluated": authorize("ec2:StopInstances", resourcePolicy={"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "ec2:TerminateInstances", "Resource": "*"}]}),
    }


async def main(args: argparse.Namespace) -> None:
    from opensts.config import Settings
    from opensts.identity.ids import new_long_term_access_key_id
    from opensts.server.app import create_app

    root = (new_long_term_access_key_id(ACCOUNT), "benchmark" + "s" * 31)
    os.environ.update(OPENSTS_DATA_DIR=tempfile.mkdtemp(prefix="opensts-app-bench-"), OPENSTS_ACCOUNT_ID=ACCOUNT,
                      OPENSTS_ROOT_ACCESS_KEY_ID=root[0], OPENSTS_ROOT_SECRET_ACCESS_KEY=root[1])
    os.environ.pop("OPENSTS_DATABASE_URL", None)
    app = create_app(settings=Settings.from_env())
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, events.get, replies.put))
    await events.put({"type": "lifespan.startup"})
    await replies.get()

    cases = await setup(app, root)
    print(f"in-process, {args.requests} requests x {args.repeats} repeats, µs per request")
    unknown = set(args.cases) - set(cases)
    if unknown:
        raise SystemExit(f"unknown case(s) {sorted(unknown)}; choose from {list(cases)}")
    for name in args.cases or list(cases):
        replay = cases[name]
        status, answer = await replay()
        assert status == 200 and (b"Deny" in answer) == name.endswith("-deny"), answer[:300]
        for _ in range(500):  # warm the caches
            await replay()
        timings = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            for _ in range(args.requests):
                await replay()
            timings.append((time.perf_counter() - started) / args.requests * 1e6)
        print(f"  {name:<26} best {min(timings):7.1f}   median {statistics.median(timings):7.1f}")

    await events.put({"type": "lifespan.shutdown"})
    await replies.get()
    await lifespan


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("cases", nargs="*", help="GetCallerIdentity, AssumeRole and/or authorize (default: all)")
    asyncio.run(main(parser.parse_args()))
