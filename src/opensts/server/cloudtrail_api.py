"""CloudTrail's JSON 1.1 API on the Query API's port: ``POST /`` with an ``X-Amz-Target`` header.

``QueryApi`` hands over every request that carries ``X-Amz-Target``. The one operation served is
``com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`` (``audit/lookup.py``);
the body is JSON (``Content-Type: application/x-amz-json-1.1``, as botocore sends it), the
signature SigV4 with credential-scope service ``cloudtrail``. Answers are JSON 1.1:
``{"Events": [...], "NextToken": ...}``, or ``{"__type": CODE, "message": ...}`` with the error's
HTTP status.

Errors, in the order they are checked:

- another target, or a method other than ``POST``: ``UnknownOperationException`` (400);
- a missing or malformed signature, a signature scoped to another service, an unknown key, a bad
  signature or an expired token: the JSON protocol's codes for them —
  ``MissingAuthenticationTokenException`` (403), ``IncompleteSignatureException`` (400),
  ``InvalidSignatureException`` (400), ``UnrecognizedClientException`` (400),
  ``ExpiredTokenException`` (400);
- a body that is not a JSON object, or a member of the wrong JSON type: ``SerializationException``
  (400);
- the action's own errors (``InvalidLookupAttributesException``, ``InvalidTimeRangeException``,
  ``InvalidMaxResultsException``, ``InvalidNextTokenException``, ``InvalidEventCategoryException``);
- no policy allows ``cloudtrail:LookupEvents``: ``AccessDeniedException`` (400), AWS's code for
  JSON-protocol services (the Query API answers ``AccessDenied``).

Every LookupEvents call, allowed or not, is recorded in the audit trail (read-only, asynchronously
like other read-only calls): ``eventSource: cloudtrail.amazonaws.com``, ``requestParameters`` the
typed request, ``responseElements: null`` (as CloudTrail records LookupEvents).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Scope, Send

from opensts.audit import lookup
from opensts.audit.record import ApiCall
from opensts.audit.trail import AuditTrail
from opensts.errors import AwsError, InternalFailure
from opensts.identity.principal import Caller
from opensts.runtime import Runtime
from opensts.server import metrics
from opensts.server.access_log import log_request
from opensts.server.forwarded import client_address
from opensts.server.audit_calls import authenticate_recorded, new_call
from opensts.server.throttle import RateLimits
from opensts.server.auth import action_context
from opensts.server.sigv4 import HttpRequest, SignatureInfo, parse_signature
from opensts.server.wire import send_response

log = logging.getLogger("opensts.server")

TARGET_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
JSON_11 = "application/x-amz-json-1.1"
SERVICE = "cloudtrail"

# The Query API's error codes → the JSON protocol's (code, status) for the same failure.
_JSON_CODES = {
    "AccessDenied": ("AccessDeniedException", 400),
    "InvalidClientTokenId": ("UnrecognizedClientException", 400),
    "SignatureDoesNotMatch": ("InvalidSignatureException", 400),
    "RequestExpired": ("InvalidSignatureException", 400),
    "ExpiredToken": ("ExpiredTokenException", 400),
    "MissingAuthenticationToken": ("MissingAuthenticationTokenException", 403),
    "IncompleteSignature": ("IncompleteSignatureException", 400),
    "ValidationError": ("ValidationException", 400),
    "Throttling": ("ThrottlingException", 400),
}


class UnknownOperationException(AwsError):
    code, status = "UnknownOperationException", 400


class CloudTrailApi:
    def __init__(self, runtime: Runtime, audit: AuditTrail | None, limits: RateLimits | None = None) -> None:
        self.runtime = runtime
        self.audit = audit
        self.limits = limits

    async def __call__(self, http_request: HttpRequest, scope: Scope, send: Send, request_id: str, started: Any) -> None:
        operation = "unknown"
        call: ApiCall | None = None
        signature: SignatureInfo | None = None
        caller: Caller | None = None
        error_code: str | None = None
        try:
            operation = _operation(http_request, scope)
            now = self.runtime.clock.now()
            if self.audit is not None:
                call = new_call(SERVICE, operation, True, http_request, scope, request_id, now)
            signature = parse_signature(http_request, services=(SERVICE,))
            if self.limits is not None:
                self.limits.admit(signature, scope)
            caller = await authenticate_recorded(
                self.runtime, http_request, signature, now, call, client_address(scope)
            )
            if self.limits is not None:
                self.limits.admit_key(caller.access_key_id)
            result = await self._lookup_events(http_request, signature, caller, scope, request_id, now, call)
            status, body, outcome = 200, _dumps(lookup.result_json(result)), "success"
        except AwsError as error:
            error = _json_error(error)
            status, body, outcome = error.status, _error_body(error), error.code
            error_code = error.code
            if call is not None:
                call.error = error
        except Exception:  # a bug: answer like AWS does and keep the details in our log
            log.exception("unhandled error in cloudtrail:%s (request %s)", operation, request_id)
            failure = InternalFailure("An internal error occurred.")
            status, body, outcome = failure.status, _error_body(failure), failure.code
            error_code = failure.code
            if call is not None:
                call.error = failure
        if call is not None and self.audit is not None:
            self.audit.record(call)
        await send_response(send, status, body, request_id, JSON_11)
        elapsed = time.perf_counter() - started
        metrics.observe(SERVICE, operation, outcome, elapsed)
        log_request(
            request_id, client_address(scope), SERVICE, operation, caller,
            signature.access_key_id if signature is not None else None, status, error_code, elapsed, len(body),
        )

    async def _lookup_events(
        self, http_request: HttpRequest, signature: SignatureInfo, caller: Caller, scope: Scope, request_id: str,
        now: datetime, call: ApiCall | None,
    ) -> lookup.LookupEventsResult:
        runtime = self.runtime
        request = lookup.parse_request(_json_body(http_request.body))
        if call is not None:
            call.request = request
        ctx = action_context(runtime, caller, now, request_id, scope, signature.region)
        return await run_in_threadpool(lookup.lookup_events, ctx, request)


def _operation(http_request: HttpRequest, scope: Scope) -> str:
    target = http_request.lower_headers.get("x-amz-target", "")
    name = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
    if name != "LookupEvents" or scope["method"] != "POST":
        shown = target[:200] if target.isprintable() else "(unprintable)"
        raise UnknownOperationException(f"Unknown operation {shown}" if shown else "Unknown operation")
    return name


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise lookup.SerializationException("The request body is not valid JSON.") from None


def _json_error(error: AwsError) -> AwsError:
    mapped = _JSON_CODES.get(error.code)
    if mapped is None:
        return error
    code, status = mapped
    return AwsError(error.message, code=code, status=status)


def _error_body(error: AwsError) -> bytes:
    return _dumps({"__type": error.code, "message": error.message})


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
