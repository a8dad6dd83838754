"""The console's frame: how a page is declared, and what every page gets.

An area of the console is a module with ``register(console)`` that declares its pages::

    @console.page("/console/users", name="users")
    async def users(page: Page) -> Response:
        listing = await page.call("iam", "ListUsers", {"MaxItems": "50"})
        return page.render("users.html", users=listing["Users"])

A declared page is only reached with an open console session (else: GET redirects to the sign-in
page, anything else is refused 403). For a POST, the form is read (bounded) and its CSRF token and
``Origin`` checked before the page function runs: ``page.form`` holds it. An API error the page
lets through (:class:`ApiCallFailed`: e.g. AccessDenied for a principal without ``iam:ListUsers``)
is shown on the page with its code, message and status; so is any typed error. Every answer gets the
security headers (``security.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from opensts.audit.trail import AuditTrail
from opensts.console.sessions import COOKIE_NAME, ConsoleSession, csrf_matches, find_session
from opensts.errors import AwsError
from opensts.runtime import Runtime
from opensts.server.console import security
from opensts.server.console.api_calls import ApiCallFailed, AsgiApp, Browser, call, call_json
from opensts.server.throttle import RateLimits

_HERE = Path(__file__).parent
MAX_FORM_BYTES = 256 * 1024  # a policy document (up to 131,072 characters for managed ones) and more
MAX_FORM_FIELDS = 256
Endpoint = Callable[[Request], Awaitable[Response]]
LOOKUP_EVENTS = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"


class ConsoleError(AwsError):
    """A request the console refuses before any action: bad form, missing CSRF token."""

    code, status = "InvalidRequest", 400


class CsrfRefused(AwsError):
    code, status = "InvalidRequest", 403


CSRF_MESSAGE = "This request did not come from the console (CSRF token missing or wrong)."


@dataclass
class Page:
    """One request to a signed-in page: the browser's request, its session, the form of a POST."""

    console: "Console"
    request: Request
    session: ConsoleSession
    name: str
    form_values: dict[str, list[str]] = field(default_factory=dict)

    @property
    def form(self) -> dict[str, str]:
        """The POSTed form: each name's first value (``form_values`` has them all)."""
        return {name: values[0] for name, values in self.form_values.items()}

    def browser(self) -> Browser:
        return Browser(self.request.scope, self.request.headers.get("user-agent", ""), self.console.runtime_().clock.now())

    async def call(self, service: str, action: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """``action`` as the signed-in principal (``api_calls.py``); ApiCallFailed on an error."""
        assert self.console.api is not None
        browser = self.browser()
        return await call(self.console.api, self.session, browser, service, action, params)

    async def lookup_events(self, payload: dict[str, Any]) -> dict[str, Any]:
        """CloudTrail's LookupEvents as the signed-in principal (JSON 1.1: ``{"Events": [...],
        "NextToken": ...}``; each event's ``CloudTrailEvent`` is the full record as a JSON string)."""
        assert self.console.api is not None
        browser = self.browser()
        return await call_json(self.console.api, self.session, browser, "cloudtrail", LOOKUP_EVENTS, payload)

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        return self.console.render(template, status, session=self.session, page=self.name, **context)

    @property
    def query(self) -> Any:
        return self.request.query_params


class Console:
    """The console's routes and shared parts; :meth:`start` binds them to the runtime and the Query
    API once the server's lifespan has opened them."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.api: AsgiApp | None = None
        self.limits: RateLimits | None = None
        self.audit: AuditTrail | None = None
        self.templates = Environment(
            loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(default=True), auto_reload=False,
        )
        self._routes: list[Route] = []

    def start(self, runtime: Runtime, api: AsgiApp, limits: RateLimits | None, audit: AuditTrail | None) -> None:
        self.runtime, self.api, self.limits, self.audit = runtime, api, limits, audit

    @property
    def routes(self) -> list[Route]:
        return list(self._routes)

    def route(self, path: str, method: str = "GET") -> Callable[[Endpoint], Endpoint]:
        """Declare a page that needs no session (sign-in, federation, static files)."""

        def declare(endpoint: Endpoint) -> Endpoint:
            self._routes.append(Route(path, self._answering_errors(endpoint), methods=[method]))
            return endpoint

        return declare

    def page(self, path: str, *, name: str, method: str = "GET") -> Callable[[Callable[[Page], Awaitable[Response]]], Any]:
        """Declare a signed-in page (see the module's text)."""

        def declare(function: Callable[[Page], Awaitable[Response]]) -> Any:
            async def endpoint(request: Request) -> Response:
                session = await self.session(request)
                if session is None:
                    if method == "GET":
                        return security.redirect("/console/signin")
                    raise CsrfRefused("You are not signed in.")
                page = Page(self, request, session, name)
                if method != "GET":
                    page.form_values = await read_form(request)
                    if not security.same_origin(request) or not csrf_matches(session, page.form.get("csrf")):
                        return self.render("error.html", 403, session=session, error=CsrfRefused(CSRF_MESSAGE))
                try:
                    return await function(page)
                except ApiCallFailed as failed:
                    return page.render("error.html", failed.status, error=failed)
                except AwsError as error:
                    return page.render("error.html", error.status, error=error)

            self._routes.append(Route(path, self._answering_errors(endpoint), methods=[method]))
            return function

        return declare

    def _answering_errors(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint, with any typed error it lets through answered as a page (never a 500)."""

        async def answer(request: Request) -> Response:
            try:
                return await endpoint(request)
            except AwsError as error:
                return self.render("error.html", error.status, error=error)

        return answer

    def runtime_(self) -> Runtime:
        assert self.runtime is not None  # routed only after the lifespan started
        return self.runtime

    async def session(self, request: Request) -> ConsoleSession | None:
        """The browser's open console session, or None."""
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie:
            return None
        runtime = self.runtime_()
        try:
            return await run_in_threadpool(find_session, runtime, cookie, runtime.clock.now())
        except AwsError:  # its credentials no longer open (a key ring key retired): signed out
            return None

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("session", None)
        context.setdefault("error", None)
        html = self.templates.get_template(template).render(**context)
        return security.harden(HTMLResponse(html, status))


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded form body, bounded in size and fields: each name's values, in order."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return {}  # refused by the CSRF check: a form always carries its token
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ConsoleError("The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError("The form could not be read.") from None
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form
