"""The console's calls to the APIs: signed requests to this server's own Query API, in process.

Each page's data comes from STS and IAM actions called as the signed-in principal: a SigV4-signed
``POST /`` with the console session's temporary credentials, handed to the same ASGI endpoint that
serves SDKs (``query_api.py``), without a network hop. So authentication, the rules on which
credentials may call what, the policy engine, rate limits and the audit trail apply exactly as to
any client; the recorded event carries the browser's address, user agent and TLS. Answers are read
in the Query API's JSON form (``Accept: application/json``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.types import Message, Receive, Scope, Send

from opensts.actions import API_VERSIONS
from opensts.console.sessions import ConsoleSession
from opensts.server.sigv4 import signing_key

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_ALGORITHM = "AWS4-HMAC-SHA256"
CONSOLE_USER_AGENT = "opensts-console/1"


class ApiCallFailed(Exception):
    """The action answered an error: its AWS code, message and HTTP status, shown on the page."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True, slots=True)
class Browser:
    """What the browser's own request says about where the calls come from."""

    scope: Scope  # the browser's request: its client address, scheme and host (after trusted proxies)
    user_agent: str
    now: datetime  # the server's clock (tests move it): what the calls are signed with


async def call(
    app: AsgiApp, session: ConsoleSession, browser: Browser, service: str, action: str,
    params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``action``'s result (the ``<Action>Result`` object; {} for actions without one), or ApiCallFailed."""
    form = {"Action": action, "Version": API_VERSIONS[service], **(params or {})}
    body = urlencode(form, quote_via=quote).encode()
    host = _host(browser.scope)
    headers = sign(body, host, service, session, browser.now)
    headers["accept"] = "application/json"
    headers["user-agent"] = f"{CONSOLE_USER_AGENT} {browser.user_agent}"[:512]
    status, answer = await _send(app, browser.scope, headers, body)
    try:
        document = json.loads(answer)
    except ValueError:
        raise ApiCallFailed("InternalFailure", "The API's answer could not be read.", status) from None
    if status != 200:
        error = document.get("Error", {}) if isinstance(document, dict) else {}
        raise ApiCallFailed(str(error.get("Code", "InternalFailure")), str(error.get("Message", "")), status)
    response = document.get(f"{action}Response", {})
    result = response.get(f"{action}Result", {})
    return result if isinstance(result, dict) else {}


async def call_json(
    app: AsgiApp, session: ConsoleSession, browser: Browser, service: str, target: str, payload: Mapping[str, Any],
) -> dict[str, Any]:
    """A JSON 1.1 protocol call (CloudTrail's LookupEvents): ``target`` is the ``X-Amz-Target``
    header; the answer's JSON object, or ApiCallFailed with its ``__type`` and message."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = sign(body, _host(browser.scope), service, session, browser.now,
                   content_type="application/x-amz-json-1.1", target=target)
    headers["user-agent"] = f"{CONSOLE_USER_AGENT} {browser.user_agent}"[:512]
    status, answer = await _send(app, browser.scope, headers, body)
    try:
        document = json.loads(answer)
    except ValueError:
        raise ApiCallFailed("InternalFailure", "The API's answer could not be read.", status) from None
    if not isinstance(document, dict):
        raise ApiCallFailed("InternalFailure", "The API's answer could not be read.", status)
    if status != 200:
        code = str(document.get("__type", "InternalFailure")).rsplit("#", 1)[-1]
        raise ApiCallFailed(code, str(document.get("message", document.get("Message", ""))), status)
    return document


def sign(
    body: bytes, host: str, service: str, session: ConsoleSession, now: datetime, *,
    content_type: str = "application/x-www-form-urlencoded; charset=utf-8", target: str | None = None,
) -> dict[str, str]:
    """SigV4 headers (lower-case names) for ``POST /`` of this body with the session's credentials."""
    claims = session.claims
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day, region = amz_date[:8], "us-east-1"
    headers = {
        "content-type": content_type,
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-security-token": session.session_token,
    }
    if target is not None:
        headers["x-amz-target"] = target
    names = sorted(headers)
    signed_headers = ";".join(names)
    canonical = "\n".join((
        "POST", "/", "", "".join(f"{name}:{headers[name].strip()}\n" for name in names), signed_headers,
        hashlib.sha256(body).hexdigest(),
    ))
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = signing_key(claims.secret_access_key, day, region, service)  # the verifier's, cached per day
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"{_ALGORITHM} Credential={claims.access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return headers


def _host(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return value.decode("latin-1")[:256] or "localhost"
    return "localhost"


async def _send(app: AsgiApp, browser_scope: Scope, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": browser_scope.get("scheme", "http"),
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
        "client": browser_scope.get("client"),
        "server": browser_scope.get("server"),
        "extensions": browser_scope.get("extensions", {}),
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, chunks = 500, []

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)
