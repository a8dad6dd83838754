"""``GET /`` and ``POST /``: the AWS Query API of STS and IAM.

One request: read it (``wire.py``), decode the Query parameters from the query string and the
form body, pick the API (the SigV4 credential scope's service when signed, else the ``Version``
parameter), find the action, authenticate the signature (``auth.py``), apply AWS's rules on which
credentials may call which actions (``access/restrictions.py``), run the action through its
registered handler with an :class:`~opensts.actions.ActionContext`, and encode the typed result
or the error as AWS XML, or as JSON for ``Accept: application/json`` (``xml.py``, ``json_wire.py``).

Errors before the action: unknown ``Action`` → ``InvalidAction``; missing ``Action`` →
``MissingAction``; missing ``Version`` → ``MissingParameter``; bad encoding or absurd nesting →
``MalformedQueryString``: all 400. Any :class:`~opensts.errors.AwsError` is answered with its code
and status; anything else is logged and answered ``InternalFailure`` 500 (a bug, never expected).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from opensts.access.restrictions import check_credentials_may_call
from opensts.actions import API_VERSIONS, ActionSpec
from opensts.api import load_actions
from opensts.audit.record import ApiCall, carries_secret, secret_parameter_values
from opensts.audit.trail import AuditTrail, AuditUnavailable
from opensts.errors import (
    AwsError,
    InternalFailure,
    InvalidAction,
    MalformedQueryString,
    MissingAction,
    MissingAuthenticationToken,
    MissingParameter,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    Throttling,
)
from opensts.identity.principal import Caller
from opensts.runtime import Runtime
from opensts.server import metrics
from opensts.server.access_log import log_request
from opensts.server.forwarded import client_address
from opensts.server.audit_calls import authenticate_recorded, new_call
from opensts.server.auth import action_context
from opensts.server.cloudtrail_api import CloudTrailApi
from opensts.server.concurrency import cache_first
from opensts.server.json_wire import JSON_TYPE, error_json, success_json, wants_json
from opensts.server.query import decode_params, parse_pairs
from opensts.server.sigv4 import HttpRequest, SignatureInfo, parse_signature
from opensts.server.throttle import RateLimits
from opensts.server.wire import XML_TYPE, next_request_id, read_http_request, send_response
from opensts.server.xml import error_body, success_body

log = logging.getLogger("opensts.server")

_VERSION_TO_SERVICE = {version: service for service, version in API_VERSIONS.items()}


class QueryApi:
    """The ``/`` endpoint, as a plain ASGI app (no Request/Response objects on the hot path).

    One instance per process holds the runtime and the action registry.
    """

    def __init__(self, runtime: Runtime, audit: AuditTrail | None = None) -> None:
        self.runtime = runtime
        self.audit = audit
        self.actions = load_actions()
        self.limits = RateLimits.from_settings(runtime.settings)
        self.cloudtrail = CloudTrailApi(runtime, audit, self.limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = next_request_id()
        service, action_name = "sts", "unknown"
        as_json = False
        call: ApiCall | None = None
        signature: SignatureInfo | None = None
        caller: Caller | None = None
        error_code: str | None = None
        try:
            http_request = await read_http_request(scope, receive)
            if "x-amz-target" in http_request.lower_headers:  # JSON 1.1 protocol: CloudTrail
                await self.cloudtrail(http_request, scope, send, request_id, started)
                return
            as_json = wants_json(http_request.lower_headers.get("accept"))
            params = decode_params(_query_pairs(http_request))
            service, signature = identify_service(http_request, params)
            spec = self.find_action(service, params)
            action_name = spec.name
            if self.limits is not None:  # before anything costly; a refusal is not audited
                self.limits.admit(signature, scope)
            now = self.runtime.clock.now()
            if self.audit is not None:
                call = new_call(spec.service, spec.name, not spec.writes, http_request, scope, request_id, now)
            caller, region = await self.authenticate(spec, signature, http_request, scope, now, call)
            if self.limits is not None and caller is not None:
                try:
                    self.limits.admit_key(caller.access_key_id)  # once the signature verified
                except Throttling:
                    call = None  # a refusal is not audited
                    raise
            result = await self.run(spec, caller, region, params, scope, request_id, now, call)
            if call is not None:
                call.result = result
                if spec.writes or carries_secret(result):
                    # Credentials and IAM changes are released only once recorded (docs/AUDIT.md).
                    await self._record_durably(call)
                    call = None
            if as_json:
                body = success_json(spec.name, result, request_id)
            else:
                body = success_body(service, spec.name, result, request_id)
            status, outcome = 200, "success"
        except AwsError as error:
            status, body = error.status, _error(service, error, request_id, as_json)
            outcome = error_code = error.code
            if call is not None:
                call.error, call.result = error, None
                # Cut from the recorded message: the raw values of the request's secret parameters.
                call.secret_params = secret_parameter_values(spec.request_type, params)
        except Exception:  # a bug: answer like AWS does and keep the details in our log
            log.exception("unhandled error in %s:%s (request %s)", service, action_name, request_id)
            failure = InternalFailure("An internal error occurred.")
            status, body = failure.status, _error(service, failure, request_id, as_json)
            outcome = error_code = "InternalFailure"
            if call is not None:
                call.error, call.result = failure, None
        if call is not None and self.audit is not None:
            self.audit.record(call)
        await send_response(send, status, body, request_id, JSON_TYPE if as_json else XML_TYPE)
        elapsed = time.perf_counter() - started
        metrics.observe(service, action_name, outcome, elapsed)
        log_request(
            request_id, client_address(scope), service, action_name, caller,
            signature.access_key_id if signature is not None else None, status, error_code, elapsed, len(body),
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

    async def authenticate(
        self, spec: ActionSpec, signature: SignatureInfo | None, http_request: HttpRequest, scope: Scope,
        now: datetime, call: ApiCall | None,
    ) -> tuple[Caller | None, str]:
        """(who signed the request, or None for an action that needs no signature; the region)."""
        if signature is not None:
            caller = await authenticate_recorded(
                self.runtime, http_request, signature, now, call, client_address(scope)
            )
            return caller, signature.region
        if not spec.unsigned:
            raise MissingAuthenticationToken("Request is missing Authentication Token")
        return None, "us-east-1"

    async def run(
        self,
        spec: ActionSpec,
        caller: Caller | None,
        region: str,
        params: dict[str, Any],
        scope: Scope,
        request_id: str,
        now: datetime,
        call: ApiCall | None = None,
    ) -> Any:
        runtime = self.runtime
        check_credentials_may_call(caller, spec.service, spec.name)
        request = spec.decode(params)
        if call is not None:
            call.request = request
        ctx = action_context(runtime, caller, now, request_id, scope, region)
        if spec.cache_first:
            return await cache_first(spec.function, ctx, request, herd=(spec.name, caller.arn if caller else None))
        if spec.blocking:
            return await run_in_threadpool(spec.function, ctx, request)
        return spec.function(ctx, request)

    async def _record_durably(self, call: ApiCall) -> None:
        assert self.audit is not None
        try:
            await self.audit.record_durably(call)
        except AuditUnavailable:
            raise ServiceUnavailable(
                "The audit trail could not record this call, so its result is withheld. Try again."
            ) from None


def identify_service(http_request: HttpRequest, params: dict[str, Any]) -> tuple[str, SignatureInfo | None]:
    """The API a request is for: the signature scope's service, or the Version of an unsigned call."""
    version = params.get("Version")
    try:
        signature = parse_signature(http_request)
    except MissingAuthenticationToken:
        return _service_for(version), None
    if signature.service not in API_VERSIONS:
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{_service_for(version)}'. ")
    return signature.service, signature


def _service_for(version: Any) -> str:
    return _VERSION_TO_SERVICE.get(version, "sts") if isinstance(version, str) else "sts"


def _error(service: str, error: AwsError, request_id: str, as_json: bool) -> bytes:
    if as_json:
        return error_json(error.fault_type, error.code, error.message, request_id)
    return error_body(service, error.fault_type, error.code, error.message, request_id)


def _query_pairs(http_request: HttpRequest) -> list[tuple[str, str]]:
    """The Query parameters: the query string's, then the form body's."""
    pairs = parse_pairs(http_request.query_string)  # type: ignore[arg-type]  # wire.py reads it as str
    if http_request.body:
        content_type = http_request.lower_headers.get("content-type", "")
        if content_type and not content_type.lower().startswith("application/x-www-form-urlencoded"):
            raise MalformedQueryString(f"Unsupported content type: {content_type.split(';')[0]}")
        try:
            text = http_request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedQueryString("The request body is not valid UTF-8.") from exc
        pairs += parse_pairs(text)
    return pairs
