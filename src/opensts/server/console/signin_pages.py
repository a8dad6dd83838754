"""Signing in and out, the federation endpoint, Who am I, and the static files.

- ``GET /console/signin``, ``POST /console/signin``: the sign-in form (an IAM user's password, + an
  MFA code; or the root's access key), checked by ``opensts.console.signin``;
- ``POST /console/signin/federation``: the federation endpoint's login, confirmed from its page;
- ``POST /console/signin/password``: a password that must be changed is changed (ChangePassword as
  the user) before the session opens;
- ``POST /console/signout``: the session ends everywhere (CSRF token required);
- ``GET /federation?Action=getSigninToken|login``: the AWS federation endpoint
  (``opensts.console.federation``);
- ``GET /console/``: Who am I: GetCallerIdentity as the signed-in principal, with the session's
  expiry and MFA state;
- ``GET /console/static/<file>``: the stylesheet and the script.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opensts.console import federation, signin
from opensts.audit.record import SigninCall
from opensts.audit.trail import AuditUnavailable
from opensts.console.errors import InvalidSigninToken, MfaRequired, SigninFailed
from opensts.console.sessions import COOKIE_NAME, ConsoleSession, close_session, csrf_matches, open_session, pending_session
from opensts.errors import AwsError, ServiceUnavailable, Throttling, ValidationError
from opensts.identity.ids import is_account_id
from opensts.server.auth import caller_from_session
from opensts.server.console import security
from opensts.server.console.api_calls import ApiCallFailed, Browser, call
from opensts.server.console.site import CSRF_MESSAGE, Console, ConsoleError, CsrfRefused, Page, read_form
from opensts.server.forwarded import client_address
from opensts.server.wire import next_request_id

PASSWORD_CHANGE_KINDS = frozenset({"console-user"})
PASSWORD_CHANGE_SECONDS = 300  # to choose a new password, once the old one and the MFA code were right
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}
SIGNIN_KINDS = {"console-user": "password", "console-root": "root access key",
                "assumed-role": "federation (role session)", "federated-user": "federation (federated user)"}


def register(console: Console) -> None:
    static_dir = Path(__file__).parent / "static"
    static = {p.name: (p.read_bytes(), STATIC_TYPES[p.suffix]) for p in static_dir.iterdir() if p.suffix in STATIC_TYPES}

    @console.route("/console")
    async def console_root(request: Request) -> Response:
        return security.redirect("/console/")

    @console.page("/console/", name="home")
    async def home(page: Page) -> Response:
        identity = await page.call("sts", "GetCallerIdentity")
        claims = page.session.claims
        mfa_at = claims.mfa_authenticated_at
        return page.render(
            "home.html", identity=identity, signin_kind=SIGNIN_KINDS.get(claims.kind, claims.kind),
            mfa_at=datetime.fromtimestamp(mfa_at, timezone.utc) if mfa_at is not None else None,
        )

    @console.route("/console/signin")
    async def signin_page(request: Request) -> Response:
        if await console.session(request) is not None:
            return security.redirect("/console/")
        return _signin_form(console, request)

    @console.route("/console/signin", "POST")
    async def signin_post(request: Request) -> Response:
        runtime = console.runtime_()
        form: dict[str, str] = {}
        try:
            form = await _signin_form_posted(request)
            now = runtime.clock.now()
            address = client_address(request.scope)
            if console.limits is not None:  # unauthenticated, and a password check costs 64 MiB and ~50 ms
                console.limits.admit_unauthenticated(address)
            if form.get("kind") == "root":
                attempt: Any = signin.RootSignin(form.get("access_key_id", "")[:128], form.get("secret_access_key", "")[:128])
                signed_in = await run_in_threadpool(signin.sign_in_as_root, runtime, attempt, now, address)
            else:
                attempt = signin.PasswordSignin(
                    form.get("account", "")[:63], form.get("username", "")[:64], form.get("password", "")[:128],
                    form.get("mfa", "")[:6] or None,
                )
                signed_in = await run_in_threadpool(signin.sign_in_with_password, runtime, attempt, now, address)
        except AwsError as error:
            if isinstance(error, SigninFailed):
                _record_signin(console, request, None, account=form.get("account"), failed=True)
            return _signin_form(console, request, error, mfa_required=isinstance(error, MfaRequired),
                                account=form.get("account"), username=form.get("username"))
        credentials = signed_in.credentials
        if signed_in.must_change_password:
            token = await run_in_threadpool(federation.issue_signin_token, runtime, credentials.session_token,
                                            credentials.expiration, now, PASSWORD_CHANGE_SECONDS)
            return _password_change_form(console, request, token, signed_in.principal_arn)
        return await _open(console, request, credentials.session_token, credentials.expiration, "/console/")

    @console.route("/console/signin/federation", "POST")
    async def federation_login(request: Request) -> Response:
        """The federation endpoint's login, confirmed from its own page: redeem the sign-in token."""
        runtime = console.runtime_()
        form = await _signin_form_posted(request)
        destination = _console_destination(request, form.get("destination"))
        grant = await run_in_threadpool(federation.redeem_signin_token, runtime, form.get("token", ""),
                                        runtime.clock.now(), federation.FEDERATED_KINDS)
        return await _open(console, request, grant.session_token, grant.session_expires_at, destination)

    @console.route("/console/signin/password", "POST")
    async def change_password(request: Request) -> Response:
        """The second step of a sign-in whose password must be changed: ChangePassword as the user
        (its permission, the password policy and the audit trail apply), then the session opens."""
        runtime = console.runtime_()
        form = await _signin_form_posted(request)
        now = runtime.clock.now()
        grant = await run_in_threadpool(federation.redeem_signin_token, runtime, form.get("token", ""), now,
                                        PASSWORD_CHANGE_KINDS)
        pending = await run_in_threadpool(pending_session, runtime, grant.session_token, grant.session_expires_at)
        try:
            if form.get("new_password", "") != form.get("confirm_password", ""):
                raise ApiCallFailed("PasswordMismatch", "The new passwords do not match.", 400)
            browser = Browser(request.scope, request.headers.get("user-agent", ""), runtime.clock.now())
            assert console.api is not None
            await call(console.api, pending, browser, "iam", "ChangePassword", {
                "OldPassword": form.get("old_password", "")[:128], "NewPassword": form.get("new_password", "")[:128],
            })
        except ApiCallFailed as failed:  # a new token for the next try (this one is spent)
            token = await run_in_threadpool(federation.issue_signin_token, runtime, grant.session_token,
                                            grant.session_expires_at, now, PASSWORD_CHANGE_SECONDS)
            return _password_change_form(console, request, token, pending.principal_arn, failed)
        return await _open(console, request, grant.session_token, grant.session_expires_at, "/console/")

    @console.route("/console/signout", "POST")
    async def signout(request: Request) -> Response:
        session = await console.session(request)
        if session is not None:
            form = await read_form(request)
            if not security.same_origin(request) or not csrf_matches(session, (form.get("csrf") or [""])[0]):
                return console.render("error.html", 403, session=session, error=CsrfRefused(CSRF_MESSAGE))
            await run_in_threadpool(close_session, console.runtime_(), session.session_id)
        response = security.redirect("/console/signin")
        security.clear_session_cookie(request, response)
        return response

    @console.route("/console/static/{name}")
    async def static_file(request: Request) -> Response:
        found = static.get(request.path_params["name"])
        if found is None:
            return security.harden(Response("Not Found", 404, media_type="text/plain"))
        return security.harden(Response(found[0], 200, media_type=found[1]), cache="public, max-age=300")

    @console.route("/federation")
    async def federation_endpoint(request: Request) -> Response:
        runtime = console.runtime_()
        query = request.query_params
        try:
            if console.limits is not None:  # unauthenticated: bounded per address
                console.limits.admit_unauthenticated(client_address(request.scope))
            action = query.get("Action")
            now = runtime.clock.now()
            if action == "getSigninToken":
                credentials = federation.parse_session(query.get("Session") or "")
                duration = federation.session_duration(query.get("SessionDuration"))
                token = await run_in_threadpool(federation.get_signin_token, runtime, credentials, duration, now)
                return security.harden(JSONResponse({"SigninToken": token}))
            if action == "login":  # a page that POSTs the token: see opensts.console.federation
                destination = _console_destination(request, query.get("Destination"))
                token = (query.get("SigninToken") or "")[:256]
                csrf = security.new_signin_csrf()
                response = console.render("federation_login.html", signin_csrf=csrf, token=token, destination=destination)
                security.set_signin_csrf_cookie(request, response, csrf)
                return response
            raise ValidationError("Action must be getSigninToken or login.")
        except InvalidSigninToken as error:
            return console.render("error.html", error.status, error=error)
        except AwsError as error:
            return security.harden(JSONResponse({"Error": {"Code": error.code, "Message": error.message}}, error.status))


async def _signin_form_posted(request: Request) -> dict[str, str]:
    """A POSTed form of the sign-in pages (not yet signed in): each name's first value, once its
    double-submit CSRF token and its Origin are checked (ConsoleError otherwise)."""
    form = {name: values[0] for name, values in (await read_form(request)).items()}
    if not security.same_origin(request) or not security.signin_csrf_matches(request, form.get("csrf")):
        raise ConsoleError("The sign-in form expired. Please try again.")
    return form


async def _open(console: Console, request: Request, session_token: str, expires_at: datetime, destination: str) -> Response:
    """Open a console session for these credentials, record the sign-in, set the cookie, go on."""
    runtime = console.runtime_()
    now = runtime.clock.now()
    previous = request.cookies.get(COOKIE_NAME)
    if previous:  # signing in again: the old session ends (no two sessions behind one browser)
        await run_in_threadpool(close_session, runtime, previous)
    session = await run_in_threadpool(open_session, runtime, session_token, expires_at, now)
    await _record_signin_durably(console, request, session)
    response = security.redirect(destination)
    security.set_session_cookie(request, response, session.session_id, expires_at, now)
    return response


def _password_change_form(console: Console, request: Request, token: str, principal_arn: str,
                          error: AwsError | ApiCallFailed | None = None) -> Response:
    csrf = security.new_signin_csrf()
    status = 200 if error is None else getattr(error, "status", 400)
    response = console.render("signin_password.html", status, error=error, signin_csrf=csrf, token=token,
                              principal_arn=principal_arn)
    security.set_signin_csrf_cookie(request, response, csrf)
    return response


def _signin_call(console: Console, request: Request, session: ConsoleSession | None, account: str | None = None,
                 failed: bool = False) -> SigninCall:
    scope = request.scope
    return SigninCall(
        event_time=console.runtime_().clock.now(), request_id=next_request_id(), source_ip=client_address(scope),
        user_agent=(request.headers.get("user-agent") or "")[:1024] or None,
        host=(request.headers.get("host") or "")[:256] or None, secure=scope.get("scheme") == "https",
        caller=caller_from_session(session.claims) if session is not None else None,
        account_id=account.strip() if account and is_account_id(account.strip()) else None,
        mfa_used=session is not None and session.claims.mfa_authenticated_at is not None,
        error_message="Failed authentication" if failed else None,
    )


def _record_signin(console: Console, request: Request, session: ConsoleSession | None, *, account: str | None = None,
                   failed: bool = False) -> None:
    """A failed sign-in's ConsoleLogin event (written asynchronously, as failed authentications are)."""
    if console.audit is not None:
        console.audit.record(_signin_call(console, request, session, account, failed))


async def _record_signin_durably(console: Console, request: Request, session: ConsoleSession) -> None:
    """A session's ConsoleLogin event, committed before the session is handed out: if the trail cannot
    record it, the session is closed and the sign-in refused (as the Query API withholds credentials)."""
    if console.audit is None:
        return
    try:
        await console.audit.record_durably(_signin_call(console, request, session))
    except AuditUnavailable:
        await run_in_threadpool(close_session, console.runtime_(), session.session_id)
        raise ServiceUnavailable("The audit trail could not record this sign-in, so it is refused. Try again.") from None


def _signin_form(console: Console, request: Request, error: AwsError | None = None, **context: Any) -> Response:
    token = security.new_signin_csrf()
    status = 200 if error is None else 429 if isinstance(error, Throttling) else error.status
    response = console.render("signin.html", status, error=error, signin_csrf=token, **context)
    security.set_signin_csrf_cookie(request, response, token)
    return response


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
