"""CloudTrail's JSON 1.1 API on the Query API's port (``X-Amz-Target``): LookupEvents."""

from __future__ import annotations

from typing import Any

from starlette.types import Scope, Send

from opensts.audit.trail import AuditTrail
from opensts.runtime import Runtime
from opensts.server.sigv4 import HttpRequest
from opensts.server.wire import send_response


class CloudTrailApi:
    def __init__(self, runtime: Runtime, audit: AuditTrail | None) -> None:
        self.runtime = runtime
        self.audit = audit

    async def __call__(self, http_request: HttpRequest, scope: Scope, send: Send, request_id: str, started: Any) -> None:
        body = b'{"__type":"UnknownOperationException","message":"Not yet"}'
        await send_response(send, 400, body, request_id, "application/x-amz-json-1.1")
