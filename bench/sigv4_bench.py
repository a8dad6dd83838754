"""Micro-benchmark of SigV4 verification: parse_signature + verify_signature per request, in µs.

    python bench/sigv4_bench.py [--seconds 2]

Requests are signed once with botocore (as boto3 sends GetCallerIdentity), then parsed and verified in a
loop on fresh HttpRequest objects (the edge builds one per request), with the signing key cache warm.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from unittest import mock

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from opensts.server.sigv4 import HttpRequest, parse_signature, verify_signature

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
CREDS = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def _signed(presigned: bool, token: str | None = None) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    creds = Credentials(CREDS.access_key, CREDS.secret_key, token)
    with mock.patch("botocore.auth.get_current_datetime", lambda *a, **k: NOW.replace(tzinfo=None)):
        if presigned:
            request = AWSRequest("GET", "https://localhost:7070/", params={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
            SigV4QueryAuth(creds, "sts", "us-east-1", expires=900).add_auth(request)
        else:
            request = AWSRequest(
                "POST",
                "https://localhost:7070/",
                data=BODY,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                    "User-Agent": "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.7",
                    "amz-sdk-invocation-id": "5f6c1a4e-0000-4000-8000-000000000000",
                    "amz-sdk-request": "attempt=1",
                },
            )
            SigV4Auth(creds, "sts", "us-east-1").add_auth(request)
    prepared = request.prepare()
    path, _, query = prepared.url.partition("://")[2].partition("/")[2].partition("?")
    headers = [(k.lower(), v) for k, v in prepared.headers.items()] + [("host", "localhost:7070"), ("accept-encoding", "identity")]
    return prepared.method, "/" + path, query, headers, prepared.body or b""


def bench(name: str, parts: tuple, seconds: float) -> float:
    method, path, query, headers, body = parts
    header_dict = dict(headers)

    def once() -> None:
        req = HttpRequest(method, path, query, header_dict, body)
        verify_signature(req, parse_signature(req), CREDS.secret_key, NOW)

    once()
    n = 0
    batch = 2000
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            once()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    per = elapsed / n * 1e6
    print(f"{name:<42} {per:7.2f} µs/request  ({n / elapsed:,.0f}/s, one core)")
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    bench("header-signed POST GetCallerIdentity", _signed(False), args.seconds)
    bench("header-signed POST with session token", _signed(False, "FwoGZXIvYXdzE" * 30), args.seconds)
    bench("presigned GET GetCallerIdentity", _signed(True), args.seconds)


if __name__ == "__main__":
    main()
