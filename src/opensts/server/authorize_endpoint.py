"""``POST /v1/authorize``: may this signed request do ACTION on RESOURCE? (docs/AUTHORIZE.md)

A service that received an AWS-signed request forwards it here, in a JSON body that is itself
SigV4-signed (credential scope service ``opensts``) by a principal allowed ``opensts:Authorize``::

    {"request": {"method": "POST", "path": "/?x=1", "headers": {...}, "body": "<base64>" | "bodySha256": "<hex>"},
     "action": "ec2:StopInstances", "resource": "arn:aws:ec2:...", "context": {"ec2:Region": "us-east-1"},
     "sourceIp": "203.0.113.7", "secureTransport": true, "resourcePolicy": {...}, "resourceAccount": "...",
     "service": "ec2"}

Answers (JSON):

* 200 ``{"decision": "Allow", "principal": {"arn", "userId", "account", "type"}}``;
* 200 ``{"decision": "Deny", "principal": {...}, "encodedMessage": "..."}`` (DecodeAuthorizationMessage);
* 200 ``{"decision": "Deny", "error": {"code", "message"}}`` when the inner request fails authentication
  (AWS codes: SignatureDoesNotMatch, InvalidClientTokenId, ExpiredToken, IncompleteSignature, ...);
* 403 ``{"error": {"code", "message"}}`` when the outer call fails authentication or lacks
  ``opensts:Authorize``; 400 for a malformed body (bad JSON, bad fields, bad resource policy).

This module is JSON in, JSON out: it reads and checks the body, authenticates the outer call and
the inner request exactly as OpenSTS authenticates its own requests
(:func:`opensts.server.auth.authenticate`), and encodes the answers. What may be asked and the
decisions are :mod:`opensts.access.authorize_request`'s: the same policy stack as OpenSTS's own
actions (identity policies, permissions boundary, session policies, the optional resource policy).
Policy look-ups run inline when cached and in a worker thread otherwise, so the event loop never
blocks on the store.
"""

from __future__ import annotations

import binascii
import ipaddress
import json
import logging
import re
import time
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic_core import from_json
from starlette.types import Receive, Scope, Send

from opensts.access.authorize_request import (
    ContextKeyRefused,
    decide_permission,
    encoded_explanation,
    explain,
    inner_context,
    supplied_context_key,
)
from opensts.audit.record import AuthorizationCall
from opensts.audit.trail import AuditTrail
from opensts.cache import BoundedCache, Caches
from opensts.errors import AwsError, MalformedPolicyDocument, Throttling
from opensts.params import LONE_SURROGATE, json_has_lone_surrogate
from opensts.policy import Policy, parse_policy
from opensts.policy.errors import PolicyValidationError
from opensts.runtime import Runtime
from opensts.server import metrics
from opensts.server.access_log import log_request
from opensts.server.forwarded import client_address
from opensts.server.auth import authenticate
from opensts.server.throttle import RateLimits
from opensts.server.concurrency import cache_first
from opensts.identity.principal import Caller
from opensts.server.sigv4 import HttpRequest, SignatureInfo, parse_signature
from opensts.server.json_wire import JSON_TYPE
from opensts.server.wire import BodyTooLarge, next_request_id, read_http_request, send_response

log = logging.getLogger("opensts.server.authorize")

SIGNING_SERVICE = "opensts"
MAX_CONTEXT_KEYS = 256
MAX_CONTEXT_VALUES = 1024
_ACTION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}:[A-Za-z0-9*?]{1,128}", re.ASCII)
_SERVICE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)
_METHOD_RE = re.compile(r"[A-Z]{1,16}", re.ASCII)
_COMMON_METHODS = frozenset(("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"))
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_ACCOUNT_RE = re.compile(r"[0-9]{12}", re.ASCII)

_KNOWN_FIELDS = frozenset(
    ("request", "action", "resource", "context", "sourceIp", "secureTransport", "resourcePolicy",
     "resourceAccount", "service")
)
_KNOWN_REQUEST_FIELDS = frozenset(("method", "path", "headers", "body", "bodySha256"))


class HttpProblem(Exception):
    """An answer other than 200: the outer call failed (403) or its body is malformed (400)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str, code: str = "ValidationError") -> HttpProblem:
    return HttpProblem(400, code, message)


class AuthorizeBody:
    """The validated JSON body of one call. ``caches`` remember the actions and context keys seen."""

    __slots__ = ("inner", "action", "resource", "context", "source_ip", "secure_transport", "resource_policy",
                 "resource_account", "service")

    def __init__(self, data: Any, caches: Caches) -> None:
        if type(data) is not dict:
            raise _bad("The request body must be a JSON object.")
        if not _KNOWN_FIELDS.issuperset(data):
            raise _bad(f"Unknown field: {sorted(set(data) - _KNOWN_FIELDS)[0]}")
        get = data.get
        action = get("action")
        prefix = caches.authorize_actions.get(action) if type(action) is str else None
        if prefix is None:
            prefix = _action_prefix(action, caches.authorize_actions)
        self.action: str = action  # type: ignore[assignment]  # a str: _action_prefix refuses anything else
        resource = get("resource", "*")
        if type(resource) is not str or not 1 <= len(resource) <= 2048:
            raise _bad("resource must be a string of 1 to 2048 characters.")
        self.resource = resource
        context = get("context")
        self.context = _context(context, caches.context_keys) if context is not None else _NO_CONTEXT
        source_ip = get("sourceIp")
        self.source_ip = _source_ip(source_ip) if source_ip is not None else None
        secure = get("secureTransport", False)
        if type(secure) is not bool:
            raise _bad("secureTransport must be true or false.")
        self.secure_transport = secure
        policy = get("resourcePolicy")
        self.resource_policy = _resource_policy(policy) if policy is not None else None
        account = get("resourceAccount")
        if account is not None and not (isinstance(account, str) and _ACCOUNT_RE.fullmatch(account)):
            raise _bad("resourceAccount must be a 12-digit account id.")
        self.resource_account: str | None = account
        service = get("service")
        if service is not None and not (isinstance(service, str) and _SERVICE_RE.fullmatch(service)):
            raise _bad("service must be a signing service name such as 'ec2'.")
        # The inner signature must be scoped to this service: by default the action's prefix.
        self.service: str = service or prefix
        self.inner = _inner_request(get("request"))


_NO_CONTEXT: dict[str, Any] = {}  # never modified


def _action_prefix(value: Any, seen: BoundedCache[str, str]) -> str:
    """The action's service prefix in lower case; ``seen`` remembers valid actions (services send the same few)."""
    if not isinstance(value, str) or not _ACTION_RE.fullmatch(value):
        raise _bad("action must look like 'service:Action' (for example 'ec2:StopInstances').")
    return seen.put(value, value.partition(":")[0].lower())


def _source_ip(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _bad("sourceIp must be an IPv4 or IPv6 address.")
    normalised = _normal_ip(value)
    if normalised is None:
        raise _bad("sourceIp must be an IPv4 or IPv6 address.")
    return normalised


@lru_cache(maxsize=4096)
def _normal_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _context(value: Any, accepted_keys: BoundedCache[str, str]) -> dict[str, Any]:
    """The caller-supplied condition keys, checked (the JSON object itself is returned)."""
    if type(value) is not dict:
        raise _bad("context must be an object of condition keys.")
    if len(value) > MAX_CONTEXT_KEYS:
        raise _bad(f"context may hold at most {MAX_CONTEXT_KEYS} keys.")
    count = 0
    seen: set[str] = set()
    for key, item in value.items():
        lower = accepted_keys.get(key)
        if lower is None:
            try:
                lower = supplied_context_key(key, accepted_keys)
            except ContextKeyRefused as refused:
                raise _bad(str(refused)) from None
        if lower in seen:
            raise _bad(f"Context key {key!r} is given twice (condition keys are case-insensitive).")
        seen.add(lower)
        if type(item) is str and len(item) <= 4096:  # the common case
            count += 1
            continue
        values = item if isinstance(item, list) else [item]
        count += len(values)
        for v in values:
            if isinstance(v, (dict, list)) or v is None or (isinstance(v, str) and len(v) > 4096):
                raise _bad(f"Context key {key!r}: values must be strings (at most 4096 characters), numbers or booleans.")
    if count > MAX_CONTEXT_VALUES:
        raise _bad(f"context may hold at most {MAX_CONTEXT_VALUES} values.")
    return value


def _resource_policy(value: Any) -> Policy | None:
    if value is None:
        return None
    if not isinstance(value, (dict, str)):
        raise _bad("resourcePolicy must be a policy document (a JSON object or its text).")
    if isinstance(value, str) and json_has_lone_surrogate(value):
        raise _bad(LONE_SURROGATE, MalformedPolicyDocument.code)
    try:
        return parse_policy(value, "resource", name="resource-policy")
    except PolicyValidationError as exc:
        raise _bad(exc.message, MalformedPolicyDocument.code) from None


def _inner_request(value: Any) -> HttpRequest:
    if type(value) is not dict:
        raise _bad("request must be an object with method, path, headers and body or bodySha256.")
    if not _KNOWN_REQUEST_FIELDS.issuperset(value):
        raise _bad(f"Unknown field: request.{sorted(set(value) - _KNOWN_REQUEST_FIELDS)[0]}")
    get = value.get
    method = get("method")
    if type(method) is not str or (method not in _COMMON_METHODS and not _METHOD_RE.fullmatch(method)):
        raise _bad("request.method must be an HTTP method in upper case.")
    target = get("path")
    if type(target) is not str or target[:1] != "/" or len(target) > 65536:
        raise _bad("request.path must be the request target as received, starting with '/'.")
    path, _, query = target.partition("?")
    headers = get("headers")
    if type(headers) is not dict:
        raise _bad("request.headers must be an object of header names and values.")
    lowered = _lowered_headers(headers)
    body_text = get("body")
    digest = get("bodySha256")
    if body_text is not None and digest is not None:
        raise _bad("Give request.body or request.bodySha256, not both.")
    body = b""
    if body_text is not None:
        if type(body_text) is not str:
            raise _bad("request.body must be base64 text.")
        try:
            body = binascii.a2b_base64(body_text, strict_mode=True)  # base64.b64decode(validate=True), faster
        except (binascii.Error, ValueError):
            raise _bad("request.body must be base64 text.") from None
    elif digest is not None and not (isinstance(digest, str) and _SHA256_RE.fullmatch(digest)):
        raise _bad("request.bodySha256 must be 64 hexadecimal characters.")
    return HttpRequest(method, path, query, lowered, body, True, digest)


def _lowered_headers(headers: dict[str, Any]) -> dict[str, str]:
    """Lower-case names, repeated headers joined with "," (as the edge does for OpenSTS's own requests)."""
    lowered = {}
    for name, header_value in headers.items():
        if type(header_value) is not str:
            break
        lowered[name.lower()] = header_value
    else:
        if len(lowered) == len(headers):
            return lowered
    lowered = {}
    for name, header_value in headers.items():
        if type(header_value) is not str:
            if not (isinstance(header_value, list) and header_value and all(isinstance(v, str) for v in header_value)):
                raise _bad(f"request.headers[{name[:64]!r}] must be a string or a list of strings.")
            header_value = ",".join(header_value)
        lname = name.lower()
        lowered[lname] = f"{lowered[lname]},{header_value}" if lname in lowered else header_value
    return lowered


def _decision(
    body: AuthorizeBody, now: datetime, request_id: str, outer: Caller, verdict: str, caller: Caller | None,
    info: SignatureInfo | None, error: AwsError | None,
) -> AuthorizationCall:
    """The audit record of one decision: the inner request's caller, asked by the service's principal."""
    return AuthorizationCall(
        event_time=now,
        request_id=request_id,
        action=body.action,
        resource=body.resource,
        decision=verdict,
        source_ip=body.source_ip,
        user_agent=(body.inner.lower_headers.get("user-agent") or "")[:1024] or None,
        region=info.region if info is not None else "us-east-1",
        asked_by=outer.arn,
        caller=caller,
        claimed_key_id=info.access_key_id if info is not None else None,
        session_token=info.security_token if info is not None else None,
        error_code=error.code if error is not None else None,
        error_message=error.message if error is not None else None,
    )


@lru_cache(maxsize=1024)
def _principal_bytes(arn: str, user_id: str, account: str, kind: str) -> bytes:
    return json.dumps({"arn": arn, "userId": user_id, "account": account, "type": kind}, separators=(",", ":")).encode()


class Asked:
    """Who asked and what, as far as one call got: its access-log fields."""

    __slots__ = ("key_id", "caller", "action")

    def __init__(self) -> None:
        self.key_id: str | None = None  # the outer signature's key id, authenticated or not
        self.caller: Caller | None = None  # the outer caller, once authenticated
        self.action = "unknown"  # the action asked about, once the body is valid


class AuthorizeEndpoint:
    """The endpoint as a raw ASGI app (Starlette routes to it; no Request objects on this path).

    ``runtime`` is set when the app's lifespan has opened it."""

    def __init__(self, runtime: Runtime | None = None, audit: AuditTrail | None = None) -> None:
        self.runtime = runtime
        self.audit = audit  # every decision is recorded (not awaited): docs/AUDIT.md
        self.limits: RateLimits | None = None  # the Query API's (server/throttle.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = next_request_id()
        runtime = self.runtime
        assert runtime is not None  # requests are routed here only after the lifespan started
        asked = Asked()
        error_code: str | None = None
        try:
            status, (outcome, body) = 200, await self.handle(runtime, scope, receive, request_id, asked)
            if outcome != "Allow" and outcome != "Deny":  # the inner request failed authentication
                error_code = outcome
        except HttpProblem as problem:
            status, outcome = problem.status, problem.code
            error_code = outcome
            body = json.dumps({"error": {"code": problem.code, "message": problem.message}}).encode()
        except Exception:
            log.exception("unhandled error in /v1/authorize (request %s)", request_id)
            status, outcome = 500, "InternalFailure"
            error_code = outcome
            body = b'{"error":{"code":"InternalFailure","message":"An internal error occurred."}}'
        await send_response(send, status, body, request_id, JSON_TYPE)
        elapsed = time.perf_counter() - started
        metrics.observe(SIGNING_SERVICE, "Authorize", outcome, elapsed)
        log_request(
            request_id, client_address(scope), SIGNING_SERVICE, asked.action, asked.caller, asked.key_id, status, error_code,
            elapsed, len(body), ("Deny" if error_code is not None else outcome) if status == 200 else None,
            authorize=True,
        )

    async def handle(
        self, runtime: Runtime, scope: Scope, receive: Receive, request_id: str = "", asked: Asked | None = None
    ) -> tuple[str, bytes]:
        """The 200 answer: (outcome for metrics, JSON body). ``asked`` notes, as they become known, who
        asked (the outer call's key id and caller) and the action asked about, for the access log."""
        asked = asked or Asked()
        try:
            http_request = await read_http_request(scope, receive)
        except AwsError as error:  # body too large, or incomplete
            raise HttpProblem(413 if isinstance(error, BodyTooLarge) else 400, error.code, error.message) from None
        now = runtime.clock.now()
        source_ip = client_address(scope)
        # 1. The outer call: signed for "opensts", by a principal allowed opensts:Authorize.
        try:
            outer_info = parse_signature(http_request, services=(SIGNING_SERVICE,))
            asked.key_id = outer_info.access_key_id
            if self.limits is not None:
                self.limits.admit_source(source_ip)
            outer = asked.caller = await authenticate(runtime, http_request, outer_info, now, source_ip)
            if self.limits is not None:
                self.limits.admit_key(outer.access_key_id)
        except Throttling as error:
            raise HttpProblem(429, error.code, error.message) from None
        except AwsError as error:
            raise HttpProblem(403, error.code, error.message) from None
        try:
            # pydantic-core's parser (a dependency already): a third of json.loads's time. It reads
            # UTF-8 only (RFC 8259) and answers absurd nesting or invalid text with ValueError.
            data = from_json(http_request.body)
        except (ValueError, RecursionError):
            raise _bad("The request body is not valid JSON.", "MalformedRequest") from None
        body = AuthorizeBody(data, runtime.caches)
        asked.action = body.action
        secure = scope.get("scheme") == "https"
        denied = await cache_first(
            decide_permission, runtime, outer, body.action, now, source_ip, secure, outer_info.region,
            herd=("authorize-permission", outer.arn),
        )
        if denied is not None:
            raise HttpProblem(403, "AccessDenied", denied)
        # 2. The inner request: authenticated as OpenSTS authenticates its own.
        info = None
        try:
            info = parse_signature(body.inner, services=(body.service,))
            caller = await authenticate(runtime, body.inner, info, now, body.source_ip)
            if self.limits is not None:
                self.limits.admit_key(caller.access_key_id)
        except AwsError as error:
            if self.audit is not None:
                self.audit.record(_decision(body, now, request_id, outer, "Deny", None, info, error))
            answer = {"decision": "Deny", "error": {"code": error.code, "message": error.message}}
            return error.code, json.dumps(answer, separators=(",", ":")).encode()

        # 3. The decision, with the complete context.
        def context() -> dict[str, Any]:
            return inner_context(caller, now, body.context, body.source_ip, body.secure_transport, info.region)

        decision, request = await cache_first(
            explain, runtime, caller, body.action, body.resource, context, body.resource_account, body.resource_policy,
            herd=("authorize-explain", caller.arn),
        )
        principal = _principal_bytes(caller.arn, caller.user_id, caller.account_id, caller.kind.value)
        if self.audit is not None:
            verdict = "Allow" if decision.allowed else "Deny"
            self.audit.record(_decision(body, now, request_id, outer, verdict, caller, info, None))
        if decision.allowed:
            return "Allow", b'{"decision":"Allow","principal":' + principal + b"}"
        assert request is not None  # explain builds it for every denial
        encoded = encoded_explanation(decision, request, runtime.keyring)
        return "Deny", b'{"decision":"Deny","principal":' + principal + b',"encodedMessage":"' + encoded.encode() + b'"}'
