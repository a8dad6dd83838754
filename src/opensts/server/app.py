"""The HTTP edge: AWS Query requests in, XML out. No business logic lives here.

``POST /`` and ``GET /`` decode the Query parameters (form body and/or query string), authenticate
the SigV4 signature, dispatch on (service, Action) to the registered action and encode its result
or error exactly as botocore parses them. ``/health`` and ``/metrics`` serve operators.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import secrets
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from opensts.access.restrictions import check_credentials_may_call
from opensts.actions import API_VERSIONS, ActionContext, ActionSpec, load_actions
from opensts.config import Settings
from opensts.errors import (
    AwsError,
    InternalFailure,
    InvalidAction,
    MalformedQueryString,
    MissingAction,
    MissingAuthenticationToken,
    MissingParameter,
    SignatureDoesNotMatch,
    ValidationError,
)
from opensts.runtime import KEYRING_REFRESH_SECONDS, Runtime, open_runtime, rotate_keyring_if_due
from opensts.server import metrics
from opensts.server.auth import authenticate
from opensts.server.concurrency import cache_first
from opensts.server.forwarded import TrustedProxies
from opensts.server.authorize_endpoint import AuthorizeEndpoint
from opensts.server.query import decode_params, parse_pairs
from opensts.server.sigv4 import HttpRequest, SignatureInfo, parse_signature
from opensts.server.json_wire import JSON_TYPE, error_json, success_json, wants_json
from opensts.server.xml import error_body, success_body

log = logging.getLogger("opensts.server")
access_log = logging.getLogger("opensts.access")

MAX_BODY_BYTES = 512 * 1024  # a 100,000-character SAML assertion, percent-encoded, fits with room
_VERSION_TO_SERVICE = {version: service for service, version in API_VERSIONS.items()}


_REQUEST_ID_PREFIX = str(uuid.uuid4())[:24]  # random per process: 8-4-4-4- of a UUID
_request_counter = itertools.count(secrets.randbelow(1 << 40))


def next_request_id() -> str:
    """A UUID-shaped request id, unique across processes (random prefix) and within one (counter)."""
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter) & 0xFFFFFFFFFFFF:012x}"


class QueryApi:
    """The ``/`` endpoint, as a plain ASGI app (no Request/Response objects on the hot path).

    One instance per process holds the runtime and the action registry.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.actions = load_actions()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = next_request_id()
        service, action_name = "sts", "unknown"
        as_json = False
        try:
            http_request = await read_http_request(scope, receive)
            as_json = wants_json(http_request.headers.get("accept"))
            params = decode_params(_query_pairs(http_request))
            service, signature = identify_service(http_request, params)
            spec = self.find_action(service, params)
            action_name = spec.name
            result = await self.run(spec, signature, http_request, params, scope, request_id)
            if as_json:
                body = success_json(spec.name, result, request_id)
            else:
                body = success_body(service, spec.name, result, request_id)
            status, outcome = 200, "success"
        except AwsError as error:
            status, body = error.status, _error(service, error, request_id, as_json)
            outcome = error.code
        except Exception:  # a bug: answer like AWS does and keep the details in our log
            log.exception("unhandled error in %s:%s (request %s)", service, action_name, request_id)
            error = InternalFailure("An internal error occurred.")
            status, body = error.status, _error(service, error, request_id, as_json)
            outcome = "InternalFailure"
        await send_response(send, status, body, request_id, JSON_TYPE if as_json else XML_TYPE)
        elapsed = time.perf_counter() - started
        metrics.observe(service, action_name, outcome, elapsed)
        if access_log.isEnabledFor(logging.INFO):
            # The path only, never the query string: presigned URLs carry session tokens.
            access_log.info(
                "%s %s %s:%s %s %.1fms %s", scope["method"], scope["path"], service, action_name, status,
                elapsed * 1000, request_id,
            )

    def find_action(self, service: str, params: dict[str, Any]) -> ActionSpec:
        action_name = params.get("Action")
        if not action_name or not isinstance(action_name, str):
            raise MissingAction("Missing Action")
        version = params.get("Version")
        spec = self.actions.get((service, action_name))
        if spec is None:
            raise InvalidAction(f"Could not find operation {action_name} for version {version or 'NO_VERSION_SPECIFIED'}")
        if not version:
            raise MissingParameter("The request must contain the parameter Version")
        if version != API_VERSIONS[service]:
            raise InvalidAction(f"Could not find operation {action_name} for version {version}")
        return spec

    async def run(
        self,
        spec: ActionSpec,
        signature: SignatureInfo | None,
        http_request: HttpRequest,
        params: dict[str, Any],
        scope: Scope,
        request_id: str,
    ) -> Any:
        runtime = self.runtime
        now = runtime.clock.now()
        caller = None
        region = "us-east-1"
        if signature is not None:
            caller = await authenticate(runtime, http_request, signature, now)
            region = signature.region
        elif not spec.unsigned:
            raise MissingAuthenticationToken("Request is missing Authentication Token")
        check_credentials_may_call(caller, spec.service, spec.name)
        client = scope.get("client")
        ctx = ActionContext(
            runtime=runtime,
            caller=caller,
            request_time=now,
            request_id=request_id,
            source_ip=client[0] if client else None,
            region=region,
            secure_transport=scope.get("scheme") == "https",
        )
        if spec.cache_first:
            return await cache_first(spec.handler, ctx, params)
        if spec.blocking:
            return await run_in_threadpool(spec.handler, ctx, params)
        return spec.handler(ctx, params)


def identify_service(http_request: HttpRequest, params: dict[str, Any]) -> tuple[str, SignatureInfo | None]:
    """The API a request is for: the signature scope's service, or the Version of an unsigned call."""
    version = params.get("Version")
    try:
        signature: SignatureInfo | None = parse_signature(http_request)
    except MissingAuthenticationToken:
        return _service_for(version), None
    if signature.service not in API_VERSIONS:
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{_service_for(version)}'. ")
    return signature.service, signature


KEY_ROTATION_CHECK_SECONDS = 3600.0


async def _refresh_keyring(runtime: Runtime) -> None:
    """Pick up key rotations made by other processes or nodes, and rotate when the key is due."""
    next_rotation_check = 0.0
    while True:
        try:
            if time.monotonic() >= next_rotation_check:
                next_rotation_check = time.monotonic() + KEY_ROTATION_CHECK_SECONDS
                await run_in_threadpool(rotate_keyring_if_due, runtime)
            await run_in_threadpool(runtime.reload_keyring)
        except Exception:  # the store may be briefly unreachable; keep the ring we have
            log.warning("could not reload or rotate the key ring; keeping the current one", exc_info=True)
        await asyncio.sleep(KEYRING_REFRESH_SECONDS)


IAM_VERSION_POLL_SECONDS = 0.25


async def _watch_iam_version(runtime: Runtime) -> None:
    """See IAM writes made by other processes: they bump a counter in the store."""
    while True:
        await asyncio.sleep(IAM_VERSION_POLL_SECONDS)
        try:
            await run_in_threadpool(runtime.refresh_iam_version)
        except Exception:
            log.warning("could not read the IAM change counter", exc_info=True)


GC_THRESHOLDS = (20_000, 50, 100)


def tune_garbage_collector() -> None:
    """Collect young objects every 20,000 allocations rather than 700 (and older generations more
    rarely still). A request allocates a few hundred short-lived containers, and uvicorn keeps
    per-connection objects alive across requests: with the default thresholds the server spends a
    measurable share of each request in collections that find little (docs/PERFORMANCE.md). The
    young generation stays small (a few MB) either way."""
    gc.set_threshold(*GC_THRESHOLDS)


async def _publish_metrics() -> None:
    """Several workers: share this one's figures with the others' /metrics."""
    try:
        while True:
            await asyncio.sleep(metrics.PUBLISH_SECONDS)
            try:
                await run_in_threadpool(metrics.publish, metrics.snapshot())  # the file write off the loop
            except OSError:
                log.warning("could not write this worker's metrics", exc_info=True)
    finally:
        with contextlib.suppress(OSError):
            metrics.publish()


def _service_for(version: Any) -> str:
    return _VERSION_TO_SERVICE.get(version, "sts") if isinstance(version, str) else "sts"


async def read_http_request(scope: Scope, receive: Receive) -> HttpRequest:
    """The request as SigV4 sees it: raw path and query, joined headers, the body (bounded)."""
    raw_headers = scope["headers"]
    # ASGI servers give lower-case names (the spec says so); repeated headers are joined with ','
    # (as SigV4 wants).
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
    if len(headers) != len(raw_headers):
        headers = {}
        for raw_name, raw_value in raw_headers:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    length = headers.get("content-length")
    if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY_BYTES):
        raise ValidationError(f"Request body must be at most {MAX_BODY_BYTES} bytes.")
    body = b""
    if scope["method"] not in ("GET", "HEAD"):
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away (or the body timeout closed the connection): never act on
                # a truncated body. Nobody reads the answer.
                raise ValidationError("The request body is incomplete.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ValidationError(f"Request body must be at most {MAX_BODY_BYTES} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return HttpRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1"),
        query_string=scope["query_string"].decode("latin-1"),
        headers=headers,
        body=body,
        headers_lowercase=True,
    )


def _error(service: str, error: AwsError, request_id: str, as_json: bool) -> bytes:
    if as_json:
        return error_json(error.fault_type, error.code, error.message, request_id)
    return error_body(service, error.fault_type, error.code, error.message, request_id)


XML_TYPE = "text/xml"


async def send_response(send: Send, status: int, body: bytes, request_id: str, content_type: str = XML_TYPE) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-requestid", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _query_pairs(http_request: HttpRequest) -> list[tuple[str, str]]:
    pairs = parse_pairs(http_request.query_string)
    if http_request.body:
        content_type = http_request.headers.get("content-type", "")
        if content_type and not content_type.lower().startswith("application/x-www-form-urlencoded"):
            raise MalformedQueryString(f"Unsupported content type: {content_type.split(';')[0]}")
        try:
            text = http_request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedQueryString("The request body is not valid UTF-8.") from exc
        pairs += parse_pairs(text)
    return pairs


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> "QueryFirst":
    """The ASGI app. Without a runtime, one is opened from ``settings`` (or the environment) on startup."""
    state: dict[str, Any] = {}
    effective = runtime.settings if runtime is not None else (settings or Settings.from_env())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = runtime or await run_in_threadpool(open_runtime, effective)
        state["runtime"] = opened
        state["query"] = QueryApi(opened)
        background = [asyncio.create_task(_refresh_keyring(opened)), asyncio.create_task(_watch_iam_version(opened))]
        tune_garbage_collector()
        if os.environ.get(metrics.METRICS_DIR_ENV):
            background.append(asyncio.create_task(_publish_metrics()))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            if runtime is None:
                opened.close()

    async def query(scope: Scope, receive: Receive, send: Send) -> None:
        await state["query"](scope, receive, send)

    async def health(request: Request) -> Response:
        ok = await run_in_threadpool(state["runtime"].store.ping)
        return JSONResponse({"status": "ok" if ok else "unavailable"}, 200 if ok else 503)

    async def metrics_endpoint(request: Request) -> Response:
        own = metrics.own_figures()
        if os.environ.get(metrics.METRICS_DIR_ENV):  # other workers' files: read them off the event loop
            body, content_type = await run_in_threadpool(metrics.render, own)
        else:
            body, content_type = metrics.render(own)
        return Response(body, 200, media_type=content_type)

    authorize = AuthorizeEndpoint(state)
    routes = [
        Route("/", _AsgiEndpoint(query), methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/v1/authorize", authorize, methods=["POST"]),
    ]
    proxies = TrustedProxies(effective.trusted_proxies, effective.forwarded_header) if effective.trusted_proxies else None
    return QueryFirst(Starlette(routes=routes, lifespan=lifespan), state, authorize, proxies)


class QueryFirst:
    """Send ``GET/POST /`` straight to the query API and ``POST /v1/authorize`` to its endpoint;
    everything else (and lifespan) to Starlette.

    These paths are the hot ones: skipping the router and Starlette's middleware stack on them saves
    a measurable share of each request.

    With trusted proxies configured, the request's client address and scheme are first taken from
    their forwarding headers (server/forwarded.py), here, once, for every endpoint alike. Without,
    no forwarding header is read (uvicorn's own proxy-header handling is off: ``opensts serve``).
    """

    def __init__(
        self, app: Starlette, state: dict[str, Any], authorize: AuthorizeEndpoint, proxies: TrustedProxies | None = None
    ) -> None:
        self.app = app
        self.state = state
        self.authorize = authorize
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.proxies is not None and scope["type"] == "http":
            self.proxies.apply(scope)
        if scope["type"] == "http" and "query" in self.state:  # started: the lifespan opened the runtime
            path, method = scope["path"], scope["method"]
            if path == "/" and (method == "POST" or method == "GET"):
                await self.state["query"](scope, receive, send)
                return
            if path == "/v1/authorize" and method == "POST":
                await self.authorize(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _AsgiEndpoint:
    """Starlette treats a non-function endpoint as a raw ASGI app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def app_from_env() -> "QueryFirst":
    """Factory for uvicorn workers: settings come from ``OPENSTS_*`` variables set by ``opensts serve``."""
    return create_app(settings=Settings.from_env())
