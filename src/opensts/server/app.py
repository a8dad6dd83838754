"""The ASGI application: its routes and its lifespan. No request handling lives here.

- ``GET /`` and ``POST /``: the AWS Query API of STS and IAM (``query_api.py``);
- ``POST /v1/authorize``: may this signed request do ACTION on RESOURCE? (``authorize_endpoint.py``);
- ``GET /oidc/<issuer id>/.well-known/openid-configuration`` and ``.../jwks.json``: each account's
  OIDC issuer for the tokens of GetWebIdentityToken (``oidc_issuer.py``), unauthenticated;
- ``/console/`` and ``GET /federation``: the web console and the AWS federation endpoint that signs
  in to it (``console/``);
- ``GET /health`` (liveness), ``GET /ready`` (readiness: ``readiness.py``) and ``GET /metrics``: for
  operators and load balancers.

The lifespan opens the runtime (unless given one), starts the background tasks (``background.py``)
and tunes the garbage collector (``serving.py``); on shutdown it cancels the tasks and closes the
runtime it opened. ``opensts serve`` runs :class:`AppFactory` in each worker process: the settings
travel with it, not through the environment.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from opensts.audit.trail import AuditTrail, open_audit_trail
from opensts.config import Settings
from opensts.errors import Throttling
from opensts.runtime import Runtime, open_runtime
from opensts.server import background, metrics
from opensts.server.access_log import log_request
from opensts.server.forwarded import client_address
from opensts.server.authorize_endpoint import AuthorizeEndpoint
from opensts.server.console import build_console
from opensts.server.forwarded import TrustedProxies
from opensts.server.oidc_issuer import DISCOVERY_ROUTE, JWKS_ROUTE, IssuerDocuments
from opensts.server.query_api import QueryApi
from opensts.server.readiness import Readiness
from opensts.server.serving import log_config, tune_garbage_collector
from opensts.server.wire import next_request_id


class Endpoints:
    """The raw ASGI endpoints, bound to the runtime once the lifespan has opened it."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.audit: AuditTrail | None = None
        self.query: QueryApi | None = None
        self.readiness: Readiness | None = None
        self.issuer: IssuerDocuments | None = None
        self.authorize = AuthorizeEndpoint()
        self.console = build_console()

    def counters(self) -> metrics.Counters:
        """This process's counters for /metrics: the audit trail's, the rate limits', the guard's."""
        counters = self.audit.counters() if self.audit is not None else {}
        if self.query is not None and self.query.limits is not None:
            counters.update(self.query.limits.counters())
        if self.runtime is not None and self.runtime.guard.enabled:
            counters["opensts_failed_attempts_counted_total"] = float(self.runtime.guard.failures)
            counters["opensts_blocked_attempts_refused_total"] = float(self.runtime.guard.refused)
        return counters

    def start(self, runtime: Runtime, audit: AuditTrail | None) -> None:
        self.runtime = runtime
        self.audit = audit
        self.query = QueryApi(runtime, audit)
        self.readiness = Readiness(runtime)
        self.issuer = IssuerDocuments(runtime)
        self.authorize.runtime = runtime
        self.authorize.limits = self.query.limits
        self.authorize.audit = audit
        self.console.start(runtime, self.query, self.query.limits, audit)


def create_app(runtime: Runtime | None = None, settings: Settings | None = None) -> "QueryFirst":
    """The ASGI app. Without a runtime, one is opened from ``settings`` (or the environment) on startup."""
    endpoints = Endpoints()
    effective = runtime.settings if runtime is not None else (settings or Settings.from_env())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = runtime if runtime is not None else await run_in_threadpool(open_runtime, effective)
        logs = log_config(opened.settings.log_level, opened.settings.log_format)
        audit = open_audit_trail(opened, logs) if opened.settings.audit == "on" else None
        endpoints.start(opened, audit)
        tasks = background.start(opened, audit, endpoints.counters)
        tune_garbage_collector()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if audit is not None:
                audit.close()  # on the loop: the last group's waiting requests are resolved here
            if runtime is None:
                opened.close()

    async def query(scope: Scope, receive: Receive, send: Send) -> None:
        assert endpoints.query is not None  # Starlette routes requests only after the lifespan started
        await endpoints.query(scope, receive, send)

    async def health(request: Request) -> Response:
        assert endpoints.runtime is not None
        ok = await run_in_threadpool(endpoints.runtime.store.ping)
        return JSONResponse({"status": "ok" if ok else "unavailable"}, 200 if ok else 503)

    async def ready(request: Request) -> Response:
        assert endpoints.readiness is not None
        status, body = await run_in_threadpool(endpoints.readiness.check)
        return JSONResponse(body, status)

    async def metrics_endpoint(request: Request) -> Response:
        own = metrics.own_figures()
        counters = endpoints.counters()
        if effective.metrics_dir:  # other workers' files: read them off the event loop
            body, content_type = await run_in_threadpool(metrics.render, own, effective.metrics_dir, counters)
        else:
            body, content_type = metrics.render(own, None, counters)
        return Response(body, 200, media_type=content_type)

    def issuer_endpoint(document: str) -> Any:
        async def endpoint(request: Request) -> Response:
            assert endpoints.issuer is not None
            limits = endpoints.query.limits if endpoints.query is not None else None
            if limits is not None:  # unauthenticated, and a page may cost a store read
                try:
                    limits.admit_unauthenticated(request.client.host if request.client else None)
                except Throttling:
                    return JSONResponse({"error": "Throttling", "message": "Rate exceeded"}, 429,
                                        headers={"Retry-After": "1", "Cache-Control": "no-store"})
            status, body, cache = await run_in_threadpool(
                endpoints.issuer.answer, request.path_params["issuer_id"], document
            )
            return JSONResponse(body, status, headers={"Cache-Control": cache})

        return endpoint

    routes = [
        Route("/", _AsgiEndpoint(query), methods=["GET", "POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/v1/authorize", endpoints.authorize, methods=["POST"]),
        Route(DISCOVERY_ROUTE, issuer_endpoint("discovery"), methods=["GET"]),
        Route(JWKS_ROUTE, issuer_endpoint("jwks"), methods=["GET"]),
        *endpoints.console.routes,
    ]
    proxies = TrustedProxies(effective.trusted_proxies, effective.forwarded_header) if effective.trusted_proxies else None
    return QueryFirst(Starlette(routes=routes, lifespan=lifespan), endpoints, proxies)


class QueryFirst:
    """Send ``GET/POST /`` straight to the query API and ``POST /v1/authorize`` to its endpoint;
    everything else (and lifespan) to Starlette.

    These paths are the hot ones: skipping the router and Starlette's middleware stack on them saves
    a measurable share of each request.

    With trusted proxies configured, the request's client address and scheme are first taken from
    their forwarding headers (server/forwarded.py), here, once, for every endpoint alike. Without,
    no forwarding header is read (uvicorn's own proxy-header handling is off: ``opensts serve``).

    Every HTTP request gets one access line (server/access_log.py): the hot endpoints log their own,
    with the caller and the action; the rest are logged here.
    """

    def __init__(self, app: Starlette, endpoints: Endpoints, proxies: TrustedProxies | None = None) -> None:
        self.app = app
        self.endpoints = endpoints
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.proxies is not None and scope["type"] == "http":
            self.proxies.apply(scope)
        query = self.endpoints.query
        if query is not None and scope["type"] == "http":  # started: the lifespan opened the runtime
            path, method = scope["path"], scope["method"]
            if path == "/" and (method == "POST" or method == "GET"):
                await query(scope, receive, send)
                return
            if path == "/v1/authorize" and method == "POST":
                await self.endpoints.authorize(scope, receive, send)
                return
        if scope["type"] == "http":
            await _logged(self.app, scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _logged(app: Starlette, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve a request Starlette routes (/health, /metrics, unknown paths) and log its access line:
    service ``-``, the path as the action, the status and body size the app sent."""
    started = time.perf_counter()
    answer = [500, 0]  # status, body bytes: a request that fails before answering is logged as 500

    async def counting_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer[0] = message["status"]
        elif message["type"] == "http.response.body":
            answer[1] += len(message.get("body", b""))
        await send(message)

    try:
        await app(scope, receive, counting_send)
    finally:
        log_request(
            next_request_id(), client_address(scope), "-", scope["path"], None, None, answer[0], None,
            time.perf_counter() - started, answer[1],
        )


class _AsgiEndpoint:
    """Starlette treats a non-function endpoint as a raw ASGI app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class AppFactory:
    """The app factory ``opensts serve`` gives uvicorn: pickled to each worker process with its
    settings (the parent's, flags included), and called there to build the app."""

    settings: Settings

    def __call__(self) -> "QueryFirst":
        return create_app(settings=self.settings)

