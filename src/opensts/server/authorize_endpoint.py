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

The inner request is authenticated exactly as OpenSTS authenticates its own requests
(:func:`opensts.server.auth.authenticate`); the decision comes from the same policy stack (identity
policies, permissions boundary, session policies, the optional resource policy). Policy look-ups
run inline when cached and in a worker thread otherwise, so the event loop never blocks on the store.
"""

from __future__ import annotations

import binascii
import ipaddress
import json
import logging
import re
import threading
import time
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from pydantic_core import from_json
from starlette.types import Receive, Scope, Send

from opensts.access.authorize import (
    caller_policies,
    decision_for,
    denial_message,
    request_context,
)
from opensts.errors import AwsError, MalformedPolicyDocument
from opensts.identity.principal import Caller
from opensts.params import LONE_SURROGATE, json_has_lone_surrogate
from opensts.policy import Decision, Policy, Request, parse_policy
from opensts.policy.errors import PolicyValidationError
from opensts.server import metrics
from opensts.server.auth import authenticate
from opensts.server.concurrency import cache_first
from opensts.server.sigv4 import HttpRequest, SignatureInfo, parse_signature
from opensts.tokens.authorization_message import encode_authorization_message

if TYPE_CHECKING:
    from opensts.runtime import Runtime

log = logging.getLogger("opensts.server.authorize")
access_log = logging.getLogger("opensts.access")

SIGNING_SERVICE = "opensts"
AUTHORIZE_ACTION = "opensts:Authorize"
MAX_CONTEXT_KEYS = 256
MAX_CONTEXT_VALUES = 1024
_ACTION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}:[A-Za-z0-9*?]{1,128}", re.ASCII)
_SERVICE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)
_METHOD_RE = re.compile(r"[A-Z]{1,16}", re.ASCII)
_COMMON_METHODS = frozenset(("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"))
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_ACCOUNT_RE = re.compile(r"[0-9]{12}", re.ASCII)

# ``aws:`` condition keys describe the principal and the request as OpenSTS saw it: a caller may not
# supply them. The exceptions describe what only the service knows (the tags a request sets, the
# resource's tags and owner, the network path) and may be supplied.
_SERVICE_AWS_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:TagKeys", "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths", "aws:SourceArn",
        "aws:SourceAccount", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpce",
        "aws:VpcSourceIp", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ViaAWSService",
        "aws:Referer", "aws:UserAgent",
    )
)
_SERVICE_AWS_PREFIXES = ("aws:requesttag/", "aws:resourcetag/")

# The decoded message shows condition keys as AWS spells them (the engine keeps them lower-cased).
_CANONICAL_KEYS = {
    k.lower(): k
    for k in (
        "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType", "aws:PrincipalServiceName",
        "aws:userid", "aws:username",
    )
}
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
    """The validated JSON body of one call."""

    __slots__ = ("inner", "action", "resource", "context", "source_ip", "secure_transport", "resource_policy",
                 "resource_account", "service")

    def __init__(self, data: Any) -> None:
        if type(data) is not dict:
            raise _bad("The request body must be a JSON object.")
        if not _KNOWN_FIELDS.issuperset(data):
            raise _bad(f"Unknown field: {sorted(set(data) - _KNOWN_FIELDS)[0]}")
        get = data.get
        action = get("action")
        prefix = _ACTION_PREFIXES.get(action) if type(action) is str else None
        if prefix is None:
            prefix = _action_prefix(action)
        self.action: str = action
        resource = get("resource", "*")
        if type(resource) is not str or not 1 <= len(resource) <= 2048:
            raise _bad("resource must be a string of 1 to 2048 characters.")
        self.resource = resource
        context = get("context")
        self.context = _context(context) if context is not None else _NO_CONTEXT
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
# Valid actions seen, with their service prefix in lower case (services send the same few).
_ACTION_PREFIXES: dict[str, str] = {}


def _action_prefix(value: Any) -> str:
    if not isinstance(value, str) or not _ACTION_RE.fullmatch(value):
        raise _bad("action must look like 'service:Action' (for example 'ec2:StopInstances').")
    prefix = value.partition(":")[0].lower()
    if len(_ACTION_PREFIXES) >= 4096:
        _ACTION_PREFIXES.clear()
    _ACTION_PREFIXES[value] = prefix
    return prefix


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


def _context(value: Any) -> dict[str, Any]:
    """The caller-supplied condition keys, checked (the JSON object itself is returned)."""
    if type(value) is not dict:
        raise _bad("context must be an object of condition keys.")
    if len(value) > MAX_CONTEXT_KEYS:
        raise _bad(f"context may hold at most {MAX_CONTEXT_KEYS} keys.")
    count = 0
    seen: set[str] = set()
    for key, item in value.items():
        lower = _CONTEXT_KEYS.get(key) or _context_key(key)
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


# Condition keys seen and accepted, in lower case (services send the same few).
_CONTEXT_KEYS: dict[str, str] = {}


def _context_key(key: str) -> str:
    if not key or len(key) > 256 or ":" not in key:
        raise _bad(f"Invalid context key {key[:256]!r}: condition keys look like 'service:Name'.")
    lower = key.lower()
    if lower.startswith("aws:") and lower not in _SERVICE_AWS_KEYS and not lower.startswith(_SERVICE_AWS_PREFIXES):
        raise _bad(
            f"Context key {key!r} is set by OpenSTS and cannot be supplied "
            "(use sourceIp and secureTransport for aws:SourceIp and aws:SecureTransport)."
        )
    if len(_CONTEXT_KEYS) >= 4096:
        _CONTEXT_KEYS.clear()
    _CONTEXT_KEYS[key] = lower
    return lower


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


def explain(
    runtime: "Runtime",
    caller: Caller,
    action: str,
    resource: str,
    context: Callable[[], dict[str, Any]],
    resource_account: str | None,
    resource_policy: Policy | None,
) -> tuple[Decision, Request | None]:
    """The decision, and on a denial the engine's request (for the decoded message).

    ``context()`` builds the request context; a remembered decision needs none. Blocking unless cached.
    """
    policies = caller_policies(runtime, caller)
    decision, request = decision_for(policies, action, resource, resource_account, resource_policy, context)
    if request is None and not decision.allowed:
        request = Request(policies.principal, action, resource, resource_account, context())
    return decision, request


def message_document(decision: Decision, request: Request) -> dict[str, Any]:
    """The reference §11 document, with condition keys spelled as given (the engine lower-cases them)."""
    doc = decision.authorization_message(request)
    names = dict(_CANONICAL_KEYS)
    for tag in request.principal.tags:
        names[f"aws:principaltag/{tag.lower()}"] = f"aws:PrincipalTag/{tag}"
    for key in request.context:
        names[key.lower()] = key
    for item in doc["context"]["conditions"]["items"]:
        item["key"] = names.get(item["key"], item["key"])
    return doc


@lru_cache(maxsize=1024)
def _principal_bytes(arn: str, user_id: str, account: str, kind: str) -> bytes:
    return json.dumps({"arn": arn, "userId": user_id, "account": account, "type": kind}, separators=(",", ":")).encode()


OUTER_DECISION_TTL = 1.0  # seconds; see AuthorizeEndpoint.check_permission


class AuthorizeEndpoint:
    """The endpoint as a raw ASGI app (Starlette routes to it; no Request objects on this path)."""

    def __init__(self, state: dict[str, Any]) -> None:
        # Imported here: app.py imports this module to register the route.
        from opensts.server.app import next_request_id, read_http_request

        self.state = state
        self._read = read_http_request
        self._request_id = next_request_id
        # The outer caller's opensts:Authorize decisions, for OUTER_DECISION_TTL seconds.
        self._permissions: dict[tuple[Any, ...], tuple[float, int, str | None]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = self._request_id()
        runtime: Runtime = self.state["runtime"]
        try:
            status, (outcome, body) = 200, await self.handle(runtime, scope, receive)
        except HttpProblem as problem:
            status, outcome = problem.status, problem.code
            body = json.dumps({"error": {"code": problem.code, "message": problem.message}}).encode()
        except Exception:
            log.exception("unhandled error in /v1/authorize (request %s)", request_id)
            status, outcome = 500, "InternalFailure"
            body = b'{"error":{"code":"InternalFailure","message":"An internal error occurred."}}'
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-requestid", request_id.encode()),
            ],
        })
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        metrics.observe(SIGNING_SERVICE, "Authorize", outcome, elapsed)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("POST /v1/authorize %s %s %.1fms %s", status, outcome, elapsed * 1000, request_id)

    async def handle(self, runtime: "Runtime", scope: Scope, receive: Receive) -> tuple[str, bytes]:
        """The 200 answer: (outcome for metrics, JSON body)."""
        try:
            http_request = await self._read(scope, receive)
        except AwsError as error:  # body too large
            raise HttpProblem(413 if "at most" in error.message else 400, error.code, error.message) from None
        now = runtime.clock.now()
        # 1. The outer call: signed for "opensts", by a principal allowed opensts:Authorize.
        try:
            outer_info = parse_signature(http_request, services=(SIGNING_SERVICE,))
            outer = await authenticate(runtime, http_request, outer_info, now)
        except AwsError as error:
            raise HttpProblem(403, error.code, error.message) from None
        try:
            # pydantic-core's parser (a dependency already): a third of json.loads's time. It reads
            # UTF-8 only (RFC 8259) and answers absurd nesting or invalid text with ValueError.
            data = from_json(http_request.body)
        except (ValueError, RecursionError):
            raise _bad("The request body is not valid JSON.", "MalformedRequest") from None
        body = AuthorizeBody(data)
        await self.check_permission(runtime, outer, outer_info, body, scope, now)
        # 2. The inner request: authenticated as OpenSTS authenticates its own.
        try:
            info = parse_signature(body.inner, services=(body.service,))
            caller = await authenticate(runtime, body.inner, info, now)
        except AwsError as error:
            answer = {"decision": "Deny", "error": {"code": error.code, "message": error.message}}
            return error.code, json.dumps(answer, separators=(",", ":")).encode()
        # 3. The decision, with the complete context.
        def context() -> dict[str, Any]:
            full = self.context(caller, now, body.source_ip, body.secure_transport, info.region)
            if not body.context:
                return full
            if caller.session is None or not caller.session.attributes:
                # The aws: keys OpenSTS sets are never among those a service may supply (_context):
                # only a token's claim keys could clash.
                full.update(body.context)
                return full
            present = {key.lower() for key in full}
            for key, value in body.context.items():
                if key.lower() not in present:  # OpenSTS's keys (token claims included) win
                    full[key] = value
            return full

        decision, request = await cache_first(
            explain, runtime, caller, body.action, body.resource, context, body.resource_account, body.resource_policy
        )
        principal = _principal_bytes(caller.arn, caller.user_id, caller.account_id, caller.kind.value)
        if decision.allowed:
            return "Allow", b'{"decision":"Allow","principal":' + principal + b"}"
        assert request is not None  # explain builds it for every denial
        encoded = encode_authorization_message(message_document(decision, request), runtime.keyring)
        return "Deny", b'{"decision":"Deny","principal":' + principal + b',"encodedMessage":"' + encoded.encode() + b'"}'

    @staticmethod
    def context(caller: Caller, now: datetime, source_ip: str | None, secure: bool, region: str) -> dict[str, Any]:
        return request_context(caller, now, source_ip=source_ip, secure_transport=secure, region=region)

    async def check_permission(
        self, runtime: "Runtime", outer: Caller, info: SignatureInfo, body: AuthorizeBody, scope: Scope, now: datetime
    ) -> None:
        """``opensts:Authorize`` on ``*`` for the outer caller, or 403 AccessDenied.

        Services ask the same question many times a second, so decisions are kept for
        OUTER_DECISION_TTL seconds, keyed by everything they depend on (credential, requested action,
        source IP, transport, region) and dropped at once on any IAM change. Time conditions on this
        permission are therefore honoured to within a second.
        """
        client = scope.get("client")
        source_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"
        key = (outer.access_key_id, info.security_token, body.action, source_ip, secure, info.region)
        version = runtime.iam_version
        entry = self._permissions.get(key)
        if entry is not None and entry[0] > time.monotonic() and entry[1] == version:
            denied = entry[2]
        else:
            def context() -> dict[str, Any]:
                full = self.context(outer, now, source_ip, secure, info.region)
                full["opensts:RequestedAction"] = body.action
                return full

            decision, _ = await cache_first(explain, runtime, outer, AUTHORIZE_ACTION, "*", context, None, None)
            denied = None if decision.allowed else denial_message(outer.arn, AUTHORIZE_ACTION, "*", decision)
            if denied is not None and log.isEnabledFor(logging.DEBUG):
                log.debug("AccessDenied for %s: %s; %s", outer.arn, AUTHORIZE_ACTION, "; ".join(decision.reasons))
            with self._lock:
                if len(self._permissions) >= 4096:
                    self._permissions.clear()
                self._permissions[key] = (time.monotonic() + OUTER_DECISION_TTL, version, denied)
        if denied is not None:
            raise HttpProblem(403, "AccessDenied", denied)
