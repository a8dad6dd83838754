"""What the edges tell the audit trail about a call: one :class:`~opensts.audit.record.ApiCall`,
filled as the request is read and authenticated (the Query API and CloudTrail's JSON API alike)."""

from __future__ import annotations

from datetime import datetime

from starlette.types import Scope

from opensts.audit.record import ApiCall
from opensts.identity.principal import Caller
from opensts.runtime import Runtime
from opensts.server.auth import authenticate
from opensts.server.forwarded import client_address
from opensts.server.sigv4 import HttpRequest, SignatureInfo


def new_call(
    service: str, action: str, read_only: bool, http_request: HttpRequest, scope: Scope, request_id: str, now: datetime
) -> ApiCall:
    headers = http_request.lower_headers
    return ApiCall(
        event_time=now,
        request_id=request_id,
        service=service,
        action=action,
        read_only=read_only,
        source_ip=client_address(scope),
        user_agent=(headers.get("user-agent") or "")[:1024] or None,
        region="us-east-1",
        host=(headers.get("host") or "")[:256] or None,
        secure=scope.get("scheme") == "https",
    )


async def authenticate_recorded(
    runtime: Runtime, http_request: HttpRequest, signature: SignatureInfo, now: datetime, call: ApiCall | None,
    source: str | None = None,
) -> Caller:
    """:func:`~opensts.server.auth.authenticate`, noting on ``call`` the key id and token the request
    claimed (recorded even when authentication fails) and then who it proved to be."""
    if call is not None:
        call.claimed_key_id, call.session_token = signature.access_key_id, signature.security_token
        call.region = signature.region
    caller = await authenticate(runtime, http_request, signature, now, source)
    if call is not None:
        call.caller = caller
    return caller
