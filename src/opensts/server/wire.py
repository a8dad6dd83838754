"""Raw ASGI I/O shared by the endpoints: request ids, reading a request, sending an answer.

The hot endpoints (``/`` and ``/v1/authorize``) are plain ASGI apps: Starlette's Request and
Response objects cost more per request than SigV4 verification. A request is read into the
:class:`~opensts.server.sigv4.HttpRequest` SigV4 verifies (raw path and query, headers, body of at
most :data:`MAX_BODY_BYTES`); every answer carries ``Content-Type``, ``Content-Length`` and
``x-amzn-RequestId``.
"""

from __future__ import annotations

import itertools
import secrets
import uuid

from starlette.types import Receive, Scope, Send

from opensts.errors import ValidationError
from opensts.server.sigv4 import HttpRequest

MAX_BODY_BYTES = 512 * 1024  # a 100,000-character SAML assertion, percent-encoded, fits with room
XML_TYPE = "text/xml"
BODY_TOO_LARGE = f"Request body must be at most {MAX_BODY_BYTES} bytes."


class BodyTooLarge(ValidationError):
    """A body over :data:`MAX_BODY_BYTES` (the Query API answers it as any ValidationError; the
    authorization endpoint with 413)."""

_REQUEST_ID_PREFIX = str(uuid.uuid4())[:24]  # random per process: 8-4-4-4- of a UUID
_request_counter = itertools.count(secrets.randbelow(1 << 40))


def next_request_id() -> str:
    """A UUID-shaped request id, unique across processes (random prefix) and within one (counter)."""
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter) & 0xFFFFFFFFFFFF:012x}"


async def read_http_request(scope: Scope, receive: Receive) -> HttpRequest:
    """The request as SigV4 sees it: raw path and query, joined headers, the body (bounded).

    ``BodyTooLarge`` (a ValidationError) for a body over :data:`MAX_BODY_BYTES`, ``ValidationError`` for
    one the client did not finish sending.
    """
    raw_headers = scope["headers"]
    # ASGI servers give lower-case names (the spec says so); repeated headers are joined with ','
    # (as SigV4 wants).
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
    if len(headers) != len(raw_headers):
        headers = {}
        for raw_name, raw_value in raw_headers:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    length = headers.get("content-length")
    if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY_BYTES):
        raise BodyTooLarge(BODY_TOO_LARGE)
    body = b""
    if scope["method"] not in ("GET", "HEAD"):
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away (or the body timeout closed the connection): never act on
                # a truncated body. Nobody reads the answer.
                raise ValidationError("The request body is incomplete.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge(BODY_TOO_LARGE)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return HttpRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1"),
        query_string=scope["query_string"].decode("latin-1"),
        headers=headers,
        body=body,
        headers_lowercase=True,
    )


async def send_response(send: Send, status: int, body: bytes, request_id: str, content_type: str = XML_TYPE) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-requestid", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
