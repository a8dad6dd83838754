"""A small EC2-like service protected by OpenSTS (see README.md in this directory).

It speaks a subset of EC2's Query API — DescribeInstances, StopInstances, TerminateInstances — so
the AWS CLI and boto3 work against it unchanged (``aws ec2 stop-instances --endpoint-url ...``).
Clients sign requests with SigV4 (service ``ec2``) using credentials issued by OpenSTS; every
request is checked by ``opensts.client.AuthorizationMiddleware``, which asks OpenSTS's
``POST /v1/authorize`` whether the signer may perform the EC2 action on the instance ARN.

    AWS_PROFILE=instance-service python instance_service.py --opensts-url http://127.0.0.1:7070 --port 8080

The service's own credentials (any botocore source: environment, profile) need ``opensts:Authorize``.
The instances live in memory; three are created at start.
"""

from __future__ import annotations

import argparse
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opensts.client import Authorization, AuthorizationMiddleware, Authorizer, SignedRequest

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
STATES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


@dataclass
class Instance:
    instance_id: str
    instance_type: str
    state: str = "running"
    tags: dict[str, str] = field(default_factory=dict)
    launch_time: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def seed_instances() -> dict[str, Instance]:
    return {
        i.instance_id: i
        for i in (
            Instance("i-0123456789abcdef0", "t3.micro", tags={"Name": "web-1", "team": "web"}),
            Instance("i-0fedcba9876543210", "t3.small", tags={"Name": "db-1", "team": "data"}),
            Instance("i-00000000000000001", "t3.nano", state="stopped", tags={"Name": "scratch"}),
        )
    }


class ClientError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def parameters(query_string: str, body: bytes) -> dict[str, str]:
    """EC2 Query parameters from the query string and the form body."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    if body:
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def instance_ids(params: dict[str, str]) -> list[str]:
    ids = []
    n = 1
    while f"InstanceId.{n}" in params:
        ids.append(params[f"InstanceId.{n}"])
        n += 1
    return ids


def signing_region(request: SignedRequest, default: str) -> str:
    match = _SCOPE_RE.search(request.header("authorization") or "")
    if match:
        return match.group(1)
    match = re.search(r"X-Amz-Credential=[^&/]+(?:/|%2F)\d{8}(?:/|%2F)([^&/%]+)", request.query_string)
    return match.group(1) if match else default


class InstanceService:
    def __init__(self, account_id: str, region: str = "us-east-1") -> None:
        self.account_id = account_id
        self.region = region
        self.instances = seed_instances()

    def arn(self, region: str, instance_id: str) -> str:
        return f"arn:aws:ec2:{region}:{self.account_id}:instance/{instance_id}"

    # -- what each request needs (the middleware's resolver)
    def authorizations(self, request: SignedRequest) -> list[Authorization]:
        params = request.state["ec2_params"] = parameters(request.query_string, request.body)  # the endpoint's too
        action = params.get("Action") or "Unknown"
        region = signing_region(request, self.region)
        context = {"ec2:Region": region}
        if action in ("StopInstances", "TerminateInstances"):
            wanted = []
            for instance_id in instance_ids(params) or ["*"]:
                instance = self.instances.get(instance_id)
                tags = {f"aws:ResourceTag/{k}": v for k, v in (instance.tags if instance else {}).items()}
                wanted.append(Authorization(f"ec2:{action}", self.arn(region, instance_id), {**context, **tags}))
            return wanted
        # DescribeInstances (and anything unknown, which the app then rejects) needs resource "*".
        return [Authorization(f"ec2:{action}", "*", context)]

    # -- the API
    async def endpoint(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        params: dict[str, str] | None = getattr(request.state, "ec2_params", None)  # behind the middleware
        if params is None:
            params = parameters(request.scope.get("query_string", b"").decode("latin-1"), await request.body())
        try:
            action = params.get("Action")
            handler = {
                "DescribeInstances": self.describe_instances,
                "StopInstances": self.stop_instances,
                "TerminateInstances": self.terminate_instances,
            }.get(action or "")
            if handler is None:
                raise ClientError("InvalidAction", f"The action {action} is not valid for this web service.")
            inner = handler(params)
        except ClientError as error:
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            )
            return Response(xml, error.status, media_type="text/xml")
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{NAMESPACE}">'
            f"<requestId>{request_id}</requestId>{inner}</{action}Response>"
        )
        return Response(xml, 200, media_type="text/xml")

    def _find(self, ids: list[str]) -> list[Instance]:
        missing = [i for i in ids if i not in self.instances]
        if missing:
            raise ClientError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(missing)}' do not exist")
        return [self.instances[i] for i in ids]

    def describe_instances(self, params: dict[str, str]) -> str:
        ids = instance_ids(params)
        chosen = self._find(ids) if ids else list(self.instances.values())
        items = "".join(
            "<item>"
            f"<reservationId>r-{i.instance_id[2:]}</reservationId><ownerId>{self.account_id}</ownerId>"
            "<instancesSet><item>"
            f"<instanceId>{i.instance_id}</instanceId><instanceType>{i.instance_type}</instanceType>"
            f"<instanceState><code>{STATES[i.state]}</code><name>{i.state}</name></instanceState>"
            f"<launchTime>{i.launch_time.strftime('%Y-%m-%dT%H:%M:%S.000Z')}</launchTime>"
            "<tagSet>"
            + "".join(f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>" for k, v in i.tags.items())
            + "</tagSet></item></instancesSet></item>"
            for i in chosen
        )
        return f"<reservationSet>{items}</reservationSet>"

    def _change(self, params: dict[str, str], transient: str, final: str) -> str:
        ids = instance_ids(params)
        if not ids:
            raise ClientError("MissingParameter", "The request must contain the parameter InstanceId")
        items = []
        for instance in self._find(ids):
            previous = instance.state
            if previous != "terminated":
                instance.state = final
            current = transient if previous != "terminated" else previous
            items.append(
                f"<item><instanceId>{instance.instance_id}</instanceId>"
                f"<currentState><code>{STATES[current]}</code><name>{current}</name></currentState>"
                f"<previousState><code>{STATES[previous]}</code><name>{previous}</name></previousState></item>"
            )
        return f"<instancesSet>{''.join(items)}</instancesSet>"

    def stop_instances(self, params: dict[str, str]) -> str:
        return self._change(params, "stopping", "stopped")

    def terminate_instances(self, params: dict[str, str]) -> str:
        return self._change(params, "shutting-down", "terminated")


def create_app(opensts_url: str, credentials: Any, account_id: str, region: str = "us-east-1",
               cache_ttl: float = 5.0, *, unprotected: bool = False) -> Any:
    service = InstanceService(account_id, region)
    app = Starlette(routes=[Route("/", service.endpoint, methods=["GET", "POST"])])
    if unprotected:  # benchmarks only: the same service without the middleware, to measure its cost
        return app
    authorizer = Authorizer(opensts_url, credentials, region=region, cache_ttl=cache_ttl)
    protected = AuthorizationMiddleware(app, authorizer, service.authorizations, error_format="ec2")
    protected.service = service  # type: ignore[attr-defined]
    return protected


def main() -> None:
    import boto3
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opensts-url", default="http://127.0.0.1:7070")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--cache-ttl", type=float, default=5.0, help="decision cache lifetime in seconds (0: off)")
    parser.add_argument("--unprotected", action="store_true",
                        help="benchmarks only: serve without the middleware (anyone may do anything)")
    args = parser.parse_args()
    session = boto3.session.Session(region_name=args.region)
    credentials = session.get_credentials()
    if credentials is None:
        parser.error("no AWS credentials for the service (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    # The instances belong to the service's account.
    account_id = session.client("sts", endpoint_url=args.opensts_url).get_caller_identity()["Account"]
    app = create_app(args.opensts_url, credentials, account_id, args.region, args.cache_ttl,
                     unprotected=args.unprotected)
    print(f"instance service for account {account_id} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
