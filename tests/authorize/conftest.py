"""Helpers for the /v1/authorize tests: SigV4-signed inner requests (as a service receives them) and
outer calls (signed for the ``opensts`` service)."""

from __future__ import annotations

import base64
import json
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from tests.conftest import REGION, Credentials, ServerInfo

SERVICE_URL = "http://instances.example.com:8080"


def _clock(offset: float):  # type: ignore[no-untyped-def]
    if not offset:
        return nullcontext()
    when = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=offset)
    return mock.patch("botocore.auth.get_current_datetime", return_value=when)


def signed_headers(
    method: str, url: str, creds: Credentials, service: str, body: bytes = b"", headers: dict[str, str] | None = None,
    region: str = REGION, offset: float = 0,
) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    with _clock(offset):
        SigV4Auth(BotoCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token), service,
                  region).add_auth(request)
    out = dict(request.headers.items())
    out.setdefault("Host", httpx.URL(url).netloc.decode())
    return out


def inner_request(
    creds: Credentials, action: str = "StopInstances", params: str = "InstanceId.1=i-0123456789abcdef0",
    service: str = "ec2", region: str = REGION, offset: float = 0,
) -> dict[str, Any]:
    """An EC2-style Query request as the service received it, in the JSON shape of /v1/authorize."""
    body = f"Action={action}&Version=2016-11-15&{params}".encode()
    headers = signed_headers("POST", SERVICE_URL + "/", creds, service, body,
                             {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, region, offset)
    return {"method": "POST", "path": "/", "headers": headers, "body": base64.b64encode(body).decode()}


def call(server: ServerInfo, payload: Any, creds: Credentials | None = None, offset: float = 0,
         raw: bytes | None = None, service: str = "opensts") -> httpx.Response:
    """POST /v1/authorize signed with ``creds`` (root by default)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    url = server.url + "/v1/authorize"
    headers = signed_headers("POST", url, creds or server.root, service, body, {"Content-Type": "application/json"},
                             offset=offset)
    return httpx.post(url, content=body, headers=headers, timeout=10)


def instance_arn(account: str, instance: str = "i-0123456789abcdef0", region: str = REGION) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance}"


def authorize(server: ServerInfo, creds: Credentials, action: str = "ec2:StopInstances", resource: str | None = None,
              outer: Credentials | None = None, **extra: Any) -> dict[str, Any]:
    payload = {"request": inner_request(creds), "action": action,
               "resource": resource or instance_arn(server.account_id), **extra}
    response = call(server, payload, outer)
    assert response.status_code == 200, response.text
    return response.json()


def role_trusting(server: ServerInfo, user_name: str) -> dict[str, Any]:
    """A new role whose trust policy lets the user ``user_name`` assume it (the IAM CreateRole answer)."""
    from tests.conftest import random_name

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:user/{user_name}"}}]}
    return server.client("iam").create_role(RoleName=random_name("role"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
