"""``/console/``: the web console's pages, and ``/federation``: the AWS federation endpoint.

Server-rendered HTML (Jinja2, autoescaped) with one small script file for conveniences; every page
works without script. Sign-in and sessions are ``opensts.console``'s; each page's data comes from
signed API calls as the signed-in principal (``api_calls.py``), so a principal that may not
``iam:ListRoles`` sees the AccessDenied on the page.

Every answer carries ``security.py``'s headers: a Content-Security-Policy with no inline script and
``frame-ancestors 'none'``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` (a sign-in
token is in a URL), ``Cache-Control: no-store``. Every POST needs the CSRF token of the session (or,
to sign in, of the sign-in form: a double-submit cookie against login CSRF) and, when the browser
sends one, a same-origin ``Origin``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from opensts.console import federation, signin
from opensts.console.errors import InvalidSigninToken, MfaRequired
from opensts.console.sessions import COOKIE_NAME, ConsoleSession, close_session, csrf_matches, find_session, open_session
from opensts.errors import AwsError, Throttling, ValidationError
from opensts.runtime import Runtime
from opensts.server.console import security
from opensts.server.console.api_calls import ApiCallFailed, AsgiApp, Browser, call
from opensts.server.forwarded import client_address
from opensts.server.throttle import RateLimits

_HERE = Path(__file__).parent
Endpoint = Callable[[Request], Awaitable[Response]]
STATIC_FILES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 64
SIGNIN_KINDS = {"console-user": "password", "console-root": "root access key",
                "assumed-role": "federation (role session)", "federated-user": "federation (federated user)"}


class ConsoleError(AwsError):
    """A request the console refuses before any action: bad form, missing CSRF token."""

    code, status = "InvalidRequest", 400


class Console:
    """The console's endpoints; :meth:`start` binds them to the runtime and the Query API once the
    server's lifespan has opened them."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.api: AsgiApp | None = None
        self.limits: RateLimits | None = None
        self.templates = Environment(
            loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(default=True),
            auto_reload=False,
        )
        self.static = {name: (_HERE / "static" / name).read_bytes() for name in STATIC_FILES}

    def start(self, runtime: Runtime, api: AsgiApp, limits: RateLimits | None) -> None:
        self.runtime, self.api, self.limits = runtime, api, limits

    def routes(self) -> list[Route]:
        pages = [
            ("/console/", self.home, "GET"),
            ("/console/signin", self.signin_page, "GET"),
            ("/console/signin", self.signin, "POST"),
            ("/console/signout", self.signout, "POST"),
            ("/console/static/{name}", self.static_file, "GET"),
            ("/federation", self.federation, "GET"),
        ]
        return [Route("/console", lambda request: security.redirect("/console/"), methods=["GET"])] + [
            Route(path, self._answering_errors(endpoint), methods=[method]) for path, endpoint, method in pages
        ]

    def _answering_errors(self, endpoint: Endpoint) -> Endpoint:
        """The endpoint, with any typed error it lets through answered as a page (never a 500)."""

        async def answer(request: Request) -> Response:
            try:
                return await endpoint(request)
            except AwsError as error:
                return self._render(request, "error.html", error=error, status=error.status)

        return answer

    # --- pages ------------------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return security.redirect("/console/signin")
        try:
            identity = await self._call(request, session, "sts", "GetCallerIdentity")
        except ApiCallFailed as failed:
            return self._render(request, "error.html", session=session, error=failed, status=failed.status)
        mfa_at = session.claims.mfa_authenticated_at
        return self._render(
            request, "home.html", page="home", session=session, identity=identity,
            signin_kind=SIGNIN_KINDS.get(session.claims.kind, session.claims.kind),
            mfa_at=datetime.fromtimestamp(mfa_at, timezone.utc) if mfa_at is not None else None,
        )

    async def signin_page(self, request: Request) -> Response:
        if await self._session(request) is not None:
            return security.redirect("/console/")
        return self._signin_form(request)

    async def signin(self, request: Request) -> Response:
        runtime = self._runtime()
        form: dict[str, str] = {}
        try:
            form = await _form(request)
            if not security.same_origin(request) or not security.signin_csrf_matches(request, form.get("csrf")):
                raise ConsoleError("The sign-in form expired. Please try again.")
            now = runtime.clock.now()
            address = client_address(request.scope)
            if form.get("kind") == "root":
                attempt: Any = signin.RootSignin(form.get("access_key_id", "")[:128], form.get("secret_access_key", "")[:128])
                signed_in = await run_in_threadpool(signin.sign_in_as_root, runtime, attempt, now, address)
            else:
                attempt = signin.PasswordSignin(
                    form.get("account", "")[:63], form.get("username", "")[:64], form.get("password", "")[:128],
                    form.get("mfa", "")[:6] or None,
                )
                signed_in = await run_in_threadpool(signin.sign_in_with_password, runtime, attempt, now, address)
        except MfaRequired as error:
            return self._signin_form(request, error, mfa_required=True, account=form.get("account"),
                                     username=form.get("username"))
        except AwsError as error:
            return self._signin_form(request, error, account=form.get("account"), username=form.get("username"))
        credentials = signed_in.credentials
        session_id = await run_in_threadpool(
            open_session, runtime, credentials.session_token, credentials.expiration, now
        )
        response = security.redirect("/console/")
        security.set_session_cookie(request, response, session_id, credentials.expiration, now)
        return response

    async def signout(self, request: Request) -> Response:
        session = await self._session(request)
        try:
            form = await _form(request)
        except ConsoleError:
            form = {}  # refused below: no CSRF token
        if session is not None:
            if not security.same_origin(request) or not csrf_matches(session, form.get("csrf")):
                return self._render(request, "error.html", session=session, status=403,
                                    error=ConsoleError("This request did not come from the console (CSRF token missing or wrong).", status=403))
            await run_in_threadpool(close_session, self._runtime(), session.session_id)
        response = security.redirect("/console/signin")
        security.clear_session_cookie(request, response)
        return response

    async def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.static:
            return security.harden(Response("Not Found", 404, media_type="text/plain"))
        response = Response(self.static[name], 200, media_type=STATIC_FILES[name])
        return security.harden(response, cache="public, max-age=300")

    # --- the federation endpoint ------------------------------------------------------------------
    async def federation(self, request: Request) -> Response:
        runtime = self._runtime()
        query = request.query_params
        try:
            if self.limits is not None:  # unauthenticated: bounded per address
                self.limits.admit_unauthenticated(client_address(request.scope))
            action = query.get("Action")
            now = runtime.clock.now()
            if action == "getSigninToken":
                session = federation.parse_session(query.get("Session") or "")
                duration = federation.session_duration(query.get("SessionDuration"))
                token = await run_in_threadpool(federation.get_signin_token, runtime, session, duration, now)
                return security.harden(JSONResponse({"SigninToken": token}))
            if action == "login":
                destination = _console_destination(request, query.get("Destination"))
                grant = await run_in_threadpool(federation.redeem_signin_token, runtime, query.get("SigninToken") or "", now)
                session_id = await run_in_threadpool(open_session, runtime, grant.session_token, grant.session_expires_at, now)
                response = security.redirect(destination)
                security.set_session_cookie(request, response, session_id, grant.session_expires_at, now)
                return response
            raise ValidationError("Action must be getSigninToken or login.")
        except InvalidSigninToken as error:
            return self._render(request, "error.html", error=error, status=error.status)
        except AwsError as error:
            body = {"Error": {"Code": error.code, "Message": error.message}}
            return security.harden(JSONResponse(body, error.status))

    # --- helpers ----------------------------------------------------------------------------------
    def _runtime(self) -> Runtime:
        assert self.runtime is not None  # routed only after the lifespan started
        return self.runtime

    async def _session(self, request: Request) -> ConsoleSession | None:
        cookie = request.cookies.get(COOKIE_NAME)
        if not cookie:
            return None
        runtime = self._runtime()
        try:
            return await run_in_threadpool(find_session, runtime, cookie, runtime.clock.now())
        except AwsError:  # its credentials no longer open (a key ring key retired): signed out
            return None

    async def _call(self, request: Request, session: ConsoleSession, service: str, action: str,
                    params: dict[str, str] | None = None) -> dict[str, Any]:
        assert self.api is not None
        browser = Browser(request.scope, request.headers.get("user-agent", ""))
        return await call(self.api, session, browser, service, action, params)

    def _render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        html = self.templates.get_template(template).render(**context)
        return security.harden(HTMLResponse(html, status))

    def _signin_form(self, request: Request, error: AwsError | None = None, **context: Any) -> Response:
        token = security.new_signin_csrf()
        status = 200 if error is None else 429 if isinstance(error, Throttling) else error.status
        response = self._render(request, "signin.html", status=status, error=error, signin_csrf=token, **context)
        security.set_signin_csrf_cookie(request, response, token)
        return response


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form body, bounded in size and fields; the first value of each name."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        raise ConsoleError("Expected a form.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ConsoleError("The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError("The form could not be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def _console_destination(request: Request, destination: str | None) -> str:
    """Where login may send the browser: a page of this console (its path), never elsewhere."""
    if not destination:
        return "/console/"
    parts = urlsplit(destination)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.headers.get("host"):
            raise ValidationError("Destination must be a page of this console.")
    path = parts.path or "/console/"
    if not (path == "/console" or path.startswith("/console/")) or "\\" in path or path.startswith("//"):
        raise ValidationError("Destination must be a page of this console.")
    return path + (f"?{parts.query}" if parts.query else "")
