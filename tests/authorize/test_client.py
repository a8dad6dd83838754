"""opensts.client against a real OpenSTS: the plain function, the middleware's cache and error formats."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opensts.client import (
    Authorization,
    AuthorizationMiddleware,
    Authorizer,
    AuthorizerError,
    SignedRequest,
    authorize_request,
)
from tests.authorize.conftest import SERVICE_URL, inner_request, signed_headers
from tests.conftest import Credentials, ServerInfo
from tests.iam.conftest import allow, make_user


def root_pair(server: ServerInfo) -> tuple[str, str]:
    return server.root.access_key_id, server.root.secret_access_key


def test_plain_function(server: ServerInfo) -> None:
    _, alice = make_user(server, allow("ec2:StopInstances"))
    inner = inner_request(alice)
    kwargs = dict(method="POST", target="/", headers=inner["headers"], body=base64.b64decode(inner["body"]))
    allowed = authorize_request(server.url, root_pair(server), action="ec2:StopInstances", **kwargs)
    assert allowed.allowed and allowed.principal is not None and allowed.principal.type == "User"
    denied = authorize_request(server.url, root_pair(server), action="ec2:TerminateInstances", **kwargs)
    assert not denied.allowed and denied.encoded_message and denied.error_code is None
    with pytest.raises(AuthorizerError) as refused:
        authorize_request(server.url, (alice.access_key_id, alice.secret_access_key), action="ec2:StopInstances", **kwargs)
    assert refused.value.status == 403 and refused.value.code == "AccessDenied"
    with pytest.raises(AuthorizerError):
        authorize_request("http://127.0.0.1:1", root_pair(server), action="ec2:StopInstances", **kwargs)


def app_for(server: ServerInfo, error_format: str, seen: list) -> tuple[AuthorizationMiddleware, Authorizer]:  # type: ignore[type-arg]
    async def echo(request: Request) -> JSONResponse:
        seen.append((await request.body(), request.scope.get("opensts.principal"), getattr(request.state, "resolved", None)))
        return JSONResponse({"ok": True})

    def resolve(request: SignedRequest):  # type: ignore[no-untyped-def]
        request.state["resolved"] = request.path  # what the resolver found out, handed to the app
        if request.path == "/public":
            return None
        if request.path == "/two":
            arn = f"arn:aws:ec2:us-east-1:{server.account_id}:instance/i-1"
            return [Authorization("ec2:StopInstances", arn), Authorization("ec2:TerminateInstances", arn)]
        return Authorization("ec2:StopInstances", "*", {"ec2:Region": "us-east-1"})

    authorizer = Authorizer(server.url, root_pair(server), cache_ttl=30)
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    return AuthorizationMiddleware(app, authorizer, resolve, error_format=error_format), authorizer


def run_requests(app: AuthorizationMiddleware, requests: list[tuple[str, bytes, dict[str, str]]]) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=SERVICE_URL) as client:
            return [await client.post(path, content=body, headers=headers) for path, body, headers in requests]

    return asyncio.run(go())


def signed(creds: Credentials, path: str, body: bytes = b"payload") -> tuple[str, bytes, dict[str, str]]:
    return path, body, signed_headers("POST", SERVICE_URL + path, creds, "ec2", body)


def test_middleware_allows_caches_and_passes_the_body(server: ServerInfo) -> None:
    _, alice = make_user(server, allow("ec2:StopInstances"))
    seen: list = []  # type: ignore[type-arg]
    app, authorizer = app_for(server, "json", seen)
    request = signed(alice, "/stop")
    responses = run_requests(app, [request, request, signed(alice, "/public")])
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert authorizer.hits == 1 and authorizer.misses == 1
    assert seen[0][0] == b"payload" and seen[0][1].arn.endswith(":user/" + seen[0][1].arn.rsplit("/", 1)[1])
    assert seen[2][1] is None  # public: not asked about
    # What the resolver kept in request.state reaches the app as Starlette's request.state, per request.
    assert [entry[2] for entry in seen] == ["/stop", "/stop", "/public"]


def test_middleware_error_formats(server: ServerInfo) -> None:
    _, alice = make_user(server, allow("ec2:StopInstances"))
    wrong = Credentials(alice.access_key_id, "z" * 40)
    for error_format, code in (("json", "AccessDeniedException"), ("query", "AccessDenied"), ("ec2", "UnauthorizedOperation")):
        app, _ = app_for(server, error_format, [])
        denied, bad = run_requests(app, [signed(alice, "/two"), signed(wrong, "/x")])
        assert denied.status_code == 403 and bad.status_code == 403
        if error_format == "json":
            assert denied.headers["x-amzn-errortype"] == code
            message = denied.json()["message"]
            assert bad.json()["__type"] == "SignatureDoesNotMatch"
        else:
            assert f"<Code>{code}</Code>" in denied.text and "<Code>SignatureDoesNotMatch</Code>" in bad.text
            message = denied.text
        assert "is not authorized to perform: ec2:TerminateInstances" in message
        assert "Encoded authorization failure message: " in message


def test_middleware_fails_closed(server: ServerInfo) -> None:
    _, alice = make_user(server, allow("ec2:StopInstances"))
    seen: list = []  # type: ignore[type-arg]

    async def ok(request: Request) -> JSONResponse:
        seen.append(1)
        return JSONResponse({})

    app = AuthorizationMiddleware(Starlette(routes=[Route("/x", ok, methods=["POST"])]),
                                  Authorizer("http://127.0.0.1:1", root_pair(server)),
                                  lambda r: Authorization("ec2:StopInstances"))
    (response,) = run_requests(app, [signed(alice, "/x")])
    assert response.status_code == 503 and not seen
    assert json.loads(response.content)["__type"] == "ServiceUnavailable"


def test_decision_cache_keys_follow_the_context_not_its_order() -> None:
    """A remembered decision answers only the same question: equal contexts (in any order, lists
    included) share a key; any different value, or a nested value, makes its own."""
    authorizer = Authorizer("http://127.0.0.1:1", ("AKIAEXAMPLE000000000", "s" * 40), cache_ttl=30)
    request = SignedRequest("POST", "/", (("authorization", "AWS4-HMAC-SHA256 Credential=AKIAX/20261203/us-east-1/ec2/"
                                           "aws4_request, SignedHeaders=host, Signature=" + "0" * 64),),
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", b"", "10.0.0.1")

    def key(context: dict) -> object:  # type: ignore[type-arg]
        return authorizer._key(request, Authorization("ec2:StopInstances", "*", context))

    assert key({"ec2:Region": "us-east-1", "aws:TagKeys": ["a", "b"]}) == key({"aws:TagKeys": ["a", "b"], "ec2:Region": "us-east-1"})
    assert key({"ec2:Region": "us-east-1"}) != key({"ec2:Region": "eu-west-1"})
    assert key({"aws:TagKeys": ["a", "b"]}) != key({"aws:TagKeys": ["b", "a"]})
    assert key({"x": {"nested": 1}}) == key({"x": {"nested": 1}}) != key({"x": {"nested": 2}})
    hash(key({"x": {"nested": 1}}))
