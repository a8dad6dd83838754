"""Signing helpers for the SigV4 tests: botocore's own signers at a fixed clock, and wire simulation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth, _host_from_url
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials

from opensts.server.sigv4 import HttpRequest

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEBYaDGV4YW1wbGUvdG9rZW4rPT0/Zm9v+bar=="
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
ENDPOINT = "http://localhost:7070"


@contextlib.contextmanager
def frozen_botocore_clock(when: datetime = NOW) -> Iterator[None]:
    """botocore's signers read the time through botocore.auth.get_current_datetime (naive UTC)."""
    naive = when.astimezone(timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", lambda *a, **k: naive):
        yield


def credentials(token: str | None = None, secret: str = SECRET, akid: str = AKID) -> Credentials:
    return Credentials(akid, secret, token)


def wire(prepared: AWSPreparedRequest | AWSRequest) -> HttpRequest:
    """What the server receives for a botocore request: raw path and query, headers (+ Host), body."""
    url = prepared.url
    parts = urlsplit(url)
    headers = [(k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in prepared.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(("Host", _host_from_url(url)))
    body = prepared.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = body.read()
    return HttpRequest(prepared.method, parts.path or "/", parts.query, headers, body)


def sign_header(
    method: str = "POST",
    url: str = ENDPOINT + "/",
    *,
    data: Any = None,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
    secret: str = SECRET,
    service: str = "sts",
    region: str = "us-east-1",
    when: datetime = NOW,
    context: dict[str, Any] | None = None,
) -> HttpRequest:
    """A request signed with botocore's SigV4Auth (Authorization header), as it arrives on the wire."""
    request = AWSRequest(method, url, data=data, params=params, headers=dict(headers or {}))
    if context:
        request.context.update(context)
    with frozen_botocore_clock(when):
        SigV4Auth(credentials(token, secret), service, region).add_auth(request)
    return wire(request.prepare())


def form_post(body: str = "Action=GetCallerIdentity&Version=2011-06-15", **kwargs: Any) -> HttpRequest:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    headers.update(kwargs.pop("headers", None) or {})
    return sign_header("POST", kwargs.pop("url", ENDPOINT + "/"), data=body.encode(), headers=headers, **kwargs)


def presign(
    method: str = "GET",
    url: str = ENDPOINT + "/",
    *,
    params: Any = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
    expires: int = 3600,
    token: str | None = None,
    secret: str = SECRET,
    service: str = "sts",
    region: str = "us-east-1",
    when: datetime = NOW,
) -> HttpRequest:
    """A request presigned with botocore's SigV4QueryAuth, replayed with the signed headers."""
    if params is None and data is None:
        params = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    request = AWSRequest(method, url, data=data, params=params, headers=dict(headers or {}))
    with frozen_botocore_clock(when):
        SigV4QueryAuth(credentials(token, secret), service, region, expires=expires).add_auth(request)
    return wire(request.prepare())


def replace(req: HttpRequest, **changes: Any) -> HttpRequest:
    fields = {
        "method": req.method,
        "path": req.path,
        "query_string": req.query_string,
        "headers": list(req.lower_headers.items()),
        "body": req.body,
    }
    fields.update(changes)
    return HttpRequest(**fields)


def with_header(req: HttpRequest, name: str, value: str | None) -> HttpRequest:
    headers = {k: v for k, v in req.lower_headers.items() if k != name.lower()}
    if value is not None:
        headers[name.lower()] = value
    return replace(req, headers=headers)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)
