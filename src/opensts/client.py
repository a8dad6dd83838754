"""Protect a service with OpenSTS: forward each signed request to ``POST /v1/authorize``.

For services that accept AWS-signed (SigV4) requests and want OpenSTS's credentials and IAM
policies to decide what callers may do (docs/AUTHORIZE.md)::

    from opensts.client import Authorization, AuthorizationMiddleware, Authorizer

    authorizer = Authorizer("http://127.0.0.1:7070", ("AKIA...", "secret"))   # needs opensts:Authorize

    def resolve(request):                       # SignedRequest -> what it needs
        if request.method == "POST" and request.path.startswith("/instances/"):
            instance = request.path.rsplit("/", 1)[1]
            return Authorization("ec2:StopInstances", f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}")
        return Authorization("ec2:DescribeInstances")

    app = AuthorizationMiddleware(app, authorizer, resolve, error_format="json")

* :class:`AuthorizationMiddleware` (ASGI) answers denied and unauthenticated requests itself with an
  AWS-style 403 carrying the encoded authorization message (``Encoded authorization failure message:
  ...``, readable with ``aws sts decode-authorization-message``), and hands allowed ones to the app
  with the caller in ``scope["opensts.principal"]`` (a :class:`Principal`).
* :class:`Authorizer` does the forwarding, signed with the service's own credentials (SigV4
  exactly as botocore signs it, service name ``opensts``), and keeps a small decision cache keyed
  by the signed request (signature, credential, target, headers, body hash — identical replays hit it; entries
  live ``cache_ttl`` seconds, at most ``cache_size`` of them; unsigned requests are not cached).
  ``authorize`` is async, on kept-alive connections of its own (``client_pool.py``: a general HTTP
  client cost more than OpenSTS's decision); ``authorize_sync`` is blocking (httpx).
* :func:`authorize_request` is the plain function: one request, one answer, no cache.

OpenSTS unreachable, or refusing the service's own call, fails closed (:class:`AuthorizerError`;
the middleware answers 503). Needs ``httpx`` and ``botocore``: ``pip install 'opensts[client]'``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union
from urllib.parse import quote
from xml.sax.saxutils import escape

import httpx

from opensts.client_pool import ConnectionPool, PoolError

__all__ = [
    "Authorization",
    "AuthorizationMiddleware",
    "AuthorizationResult",
    "Authorizer",
    "AuthorizerError",
    "Principal",
    "SignedRequest",
    "authorize_request",
    "denial_message",
]

log = logging.getLogger("opensts.client")

AUTHORIZE_PATH = "/v1/authorize"
SIGNING_SERVICE = "opensts"
# Inner authentication errors that AWS answers with 400 rather than 403.
_BAD_REQUEST_CODES = frozenset(
    {"IncompleteSignature", "XAmzContentSHA256Mismatch", "AuthorizationQueryParametersError", "ValidationError"}
)


# --- What is asked, and the answer ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Authorization:
    """One question about a request: may its signer perform ``action`` on ``resource``?

    ``context``: service-specific condition keys (``ec2:Region``, ``aws:ResourceTag/team``, ...);
    keys OpenSTS sets itself (``aws:SourceIp``, ``aws:PrincipalArn``, ...) may not be given.
    ``resource_policy``: the resource's own policy (a dict or JSON text), e.g. for cross-account access.
    """

    action: str
    resource: str = "*"
    context: Mapping[str, Any] | None = None
    resource_policy: Mapping[str, Any] | str | None = None
    resource_account: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who signed the request, as OpenSTS identified it."""

    arn: str
    user_id: str
    account: str
    type: str  # Account | User | AssumedRole | FederatedUser

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> "Principal":
        return cls(data["arn"], data["userId"], data["account"], data["type"])


@dataclass(frozen=True, slots=True)
class AuthorizationResult:
    """OpenSTS's answer. On Deny: ``encoded_message`` (policy denial) or ``error_code`` (authentication)."""

    allowed: bool
    principal: Principal | None = None
    encoded_message: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "AuthorizationResult":
        principal = Principal.from_json(data["principal"]) if data.get("principal") else None
        error = data.get("error") or {}
        return cls(data.get("decision") == "Allow", principal, data.get("encodedMessage"), error.get("code"),
                   error.get("message"))


class AuthorizerError(Exception):
    """OpenSTS did not give a decision: unreachable, or it refused the service's own call."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as the service received it: what OpenSTS needs to check its signature.

    ``target``: the raw path and query (``/a%20b?x=1``) exactly as received; ``headers``: names and
    values as received (repeats allowed); ``body_sha256``: hex SHA-256 of the body (the body itself
    need not be sent). ``source_ip`` and ``secure_transport`` give ``aws:SourceIp`` and
    ``aws:SecureTransport``. ``state``: for the middleware's resolver, what it found out that the
    app will want again (parsed parameters, a loaded record): the app finds it in ``scope["state"]``
    (Starlette's ``request.state``) and need not parse or load it a second time.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body_sha256: str
    body: bytes = field(default=b"", repr=False)  # for resolvers; never sent to OpenSTS
    source_ip: str | None = None
    secure_transport: bool = False
    state: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # never sent either

    @classmethod
    def build(cls, method: str, target: str, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes = b"",
              source_ip: str | None = None, secure_transport: bool = False) -> "SignedRequest":
        pairs = tuple(headers.items() if isinstance(headers, Mapping) else headers)
        return cls(method.upper(), target, pairs, hashlib.sha256(body).hexdigest(), body, source_ip, secure_transport)

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query_string(self) -> str:
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def signature(self) -> str | None:
        """The SigV4 signature (header or presigned); None for an unsigned request."""
        auth = self.header("authorization")
        if auth is not None:
            index = auth.rfind("Signature=")
            return auth[index + 10:].strip() if index >= 0 else None
        query = self.query_string
        index = query.find("X-Amz-Signature=")
        if index >= 0:
            return query[index + 16:].partition("&")[0]
        return None

    def to_json(self) -> dict[str, Any]:
        headers: dict[str, Any] = {}
        for name, value in self.headers:
            existing = headers.get(name)
            if existing is None:
                headers[name] = value
            elif isinstance(existing, list):
                existing.append(value)
            else:
                headers[name] = [existing, value]
        return {"method": self.method, "path": self.target, "headers": headers, "bodySha256": self.body_sha256}


def denial_message(result: AuthorizationResult, authorization: Authorization) -> str:
    """The text of an AWS-style denial (EC2's wording), with the encoded message."""
    who = result.principal.arn if result.principal else "unknown"
    return (
        f"You are not authorized to perform this operation. User: {who} is not authorized to perform: "
        f"{authorization.action} on resource: {authorization.resource}. "
        f"Encoded authorization failure message: {result.encoded_message}"
    )


# --- The forwarding client --------------------------------------------------------------------
CredentialsLike = Union[tuple[str, str], tuple[str, str, "str | None"], Any]


class Authorizer:
    """Asks OpenSTS at ``endpoint`` (e.g. ``http://127.0.0.1:7070``) about signed requests.

    ``credentials``: the service's own ``(access_key_id, secret_access_key[, session_token])`` or a
    botocore credentials object (refreshable ones are refreshed by botocore); the principal needs
    ``opensts:Authorize``. ``region`` only names the outer signature's scope.
    """

    def __init__(
        self,
        endpoint: str,
        credentials: CredentialsLike,
        *,
        region: str = "us-east-1",
        cache_ttl: float = 5.0,
        cache_size: int = 4096,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        from botocore.credentials import Credentials as BotoCredentials

        self.url = endpoint.rstrip("/") + AUTHORIZE_PATH
        if isinstance(credentials, tuple):
            credentials = BotoCredentials(*credentials)
        self.credentials = credentials
        self.region = region
        self._signing_key: tuple[str, str, bytes] | None = None  # (secret key, date, derived key)
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self.timeout = timeout
        self._transport = transport
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, AuthorizationResult]] = OrderedDict()
        self._client: httpx.AsyncClient | None = None  # only with a custom ``transport``
        self._pool = ConnectionPool(self.url, timeout)
        # The canonical request's URI and query lines, the same for every call.
        path, _, query = self._pool.path.partition("?")
        self._canonical_target = f"{quote(path, safe='/~')}\n{query}"
        self._sync_client: httpx.Client | None = None
        self.hits = 0
        self.misses = 0

    # -- the request to OpenSTS
    def payload(self, request: SignedRequest, authorization: Authorization) -> bytes:
        data: dict[str, Any] = {
            "request": request.to_json(),
            "action": authorization.action,
            "resource": authorization.resource,
            "secureTransport": request.secure_transport,
        }
        if authorization.context:
            data["context"] = dict(authorization.context)
        if request.source_ip:
            data["sourceIp"] = request.source_ip
        if authorization.resource_policy is not None:
            data["resourcePolicy"] = authorization.resource_policy
        if authorization.resource_account is not None:
            data["resourceAccount"] = authorization.resource_account
        return json.dumps(data, separators=(",", ":")).encode()

    def sign(self, body: bytes, now: datetime | None = None) -> dict[str, str]:
        """SigV4 headers for POSTing ``body`` to ``/v1/authorize`` (service ``opensts``), as botocore's
        SigV4Auth signs them, at a fraction of its cost: the derived signing key is kept for the day.
        Refreshable botocore credentials refresh themselves in ``get_frozen_credentials``."""
        frozen = self.credentials.get_frozen_credentials()
        amz_date = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        headers = {"Content-Type": "application/json", "Host": self._pool.host_header, "X-Amz-Date": amz_date}
        if frozen.token:
            headers["X-Amz-Security-Token"] = frozen.token
        names = sorted(headers, key=str.lower)
        signed_headers = ";".join(name.lower() for name in names)
        canonical = "\n".join((
            "POST", self._canonical_target,
            "".join(f"{name.lower()}:{headers[name].strip()}\n" for name in names), signed_headers,
            hashlib.sha256(body).hexdigest(),
        ))
        scope = f"{day}/{self.region}/{SIGNING_SERVICE}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = self._signing_key
        if key is None or key[0] != frozen.secret_key or key[1] != day:
            derived = ("AWS4" + frozen.secret_key).encode()
            for part in (day, self.region, SIGNING_SERVICE, "aws4_request"):
                derived = hmac.new(derived, part.encode(), hashlib.sha256).digest()
            key = self._signing_key = (frozen.secret_key, day, derived)
        signature = hmac.new(key[2], to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, SignedHeaders={signed_headers}, "
            f"Signature={signature}"
        )
        return headers  # Host included: the pool and httpx send it as signed

    @staticmethod
    def _answer(status: int, body: bytes) -> AuthorizationResult:
        if status != 200:
            try:
                error = json.loads(body)["error"]
                code, message = error["code"], error["message"]
            except Exception:
                code, message = None, body[:200].decode("utf-8", "replace")
            raise AuthorizerError(f"OpenSTS answered {status}: {code}: {message}", status, code)
        try:
            return AuthorizationResult.from_json(json.loads(body))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthorizerError(f"OpenSTS answered something else than a decision: {exc!r}", status) from None

    # -- the cache
    def _key(self, request: SignedRequest, authorization: Authorization) -> tuple[Any, ...] | None:
        # Keyed by the whole signed request, not the signature alone: the signature does not cover the
        # access key id (two keys with one secret sign alike), and a cached Allow must never answer a
        # request whose signed headers were altered. Unsigned requests are never cached.
        if self.cache_ttl <= 0 or authorization.resource_policy is not None or request.signature is None:
            return None
        context = _frozen(authorization.context) if authorization.context else ()
        return (request.method, request.target, request.headers, request.body_sha256, authorization.action,
                authorization.resource, context, request.source_ip, request.secure_transport,
                authorization.resource_account)

    def _cached(self, key: tuple[Any, ...] | None) -> AuthorizationResult | None:
        if key is None:
            return None
        entry = self._cache.get(key)
        if entry is None:
            self.misses += 1
            return None
        if entry[0] < time.monotonic():
            self._cache.pop(key, None)
            self.misses += 1
            return None
        self.hits += 1
        return entry[1]

    def _store(self, key: tuple[Any, ...] | None, result: AuthorizationResult) -> None:
        if key is None:
            return
        self._cache[key] = (time.monotonic() + self.cache_ttl, result)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)  # the oldest entry

    # -- asking
    async def authorize(self, request: SignedRequest, authorization: Authorization) -> AuthorizationResult:
        key = self._key(request, authorization)
        cached = self._cached(key)
        if cached is not None:
            return cached
        body = self.payload(request, authorization)
        headers = self.sign(body)
        try:
            if self._transport is None:
                status, answer = await self._pool.post(body, headers)
            else:
                if self._client is None:
                    self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
                response = await self._client.post(self.url, content=body, headers=headers)
                status, answer = response.status_code, response.content
        except (PoolError, httpx.HTTPError) as exc:
            raise AuthorizerError(f"OpenSTS unreachable: {exc!r}") from exc
        result = self._answer(status, answer)
        self._store(key, result)
        return result

    def authorize_sync(self, request: SignedRequest, authorization: Authorization) -> AuthorizationResult:
        key = self._key(request, authorization)
        cached = self._cached(key)
        if cached is not None:
            return cached
        body = self.payload(request, authorization)
        if self._sync_client is None:
            self._sync_client = httpx.Client(timeout=self.timeout)
        try:
            response = self._sync_client.post(self.url, content=body, headers=self.sign(body))
        except httpx.HTTPError as exc:
            raise AuthorizerError(f"OpenSTS unreachable: {exc!r}") from exc
        result = self._answer(response.status_code, response.content)
        self._store(key, result)
        return result

    async def aclose(self) -> None:
        await self._pool.aclose()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None


def authorize_request(
    endpoint: str,
    credentials: CredentialsLike,
    *,
    method: str,
    target: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    body: bytes = b"",
    action: str,
    resource: str = "*",
    context: Mapping[str, Any] | None = None,
    source_ip: str | None = None,
    secure_transport: bool = False,
    resource_policy: Mapping[str, Any] | str | None = None,
    resource_account: str | None = None,
    timeout: float = 5.0,
) -> AuthorizationResult:
    """Ask OpenSTS once (blocking, no cache) whether a signed request may perform ``action``."""
    authorizer = Authorizer(endpoint, credentials, cache_ttl=0, timeout=timeout)
    try:
        request = SignedRequest.build(method, target, headers, body, source_ip, secure_transport)
        return authorizer.authorize_sync(
            request, Authorization(action, resource, context, resource_policy, resource_account)
        )
    finally:
        if authorizer._sync_client is not None:
            authorizer._sync_client.close()


# --- The ASGI middleware ----------------------------------------------------------------------
Resolved = Union[Authorization, Sequence[Authorization], None]
Resolver = Callable[[SignedRequest], Union[Resolved, Awaitable[Resolved]]]
ASGIApp = Callable[..., Awaitable[None]]

_DENIED_CODES = {"ec2": "UnauthorizedOperation", "query": "AccessDenied", "json": "AccessDeniedException"}


def _frozen(context: Mapping[str, Any]) -> tuple[Any, ...]:
    """A context as a hashable cache-key part, equal for equal contexts whatever their order:
    sorted (key, value) pairs, lists as tuples. Anything else unhashable: its canonical JSON."""
    try:
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in context.items()))
        hash(frozen)
        return frozen
    except TypeError:  # a nested dict or list, or values that do not compare
        return (json.dumps(context, sort_keys=True, default=str),)


class AuthorizationMiddleware:
    """ASGI middleware: every HTTP request must be allowed by OpenSTS before the app sees it.

    ``resolve(request)`` (sync or async) maps a :class:`SignedRequest` to the :class:`Authorization`
    it needs, a list of them (all must allow; e.g. one per instance id), or None for a public
    request that needs none. ``error_format``: ``"ec2"`` (EC2's ``<Response><Errors>`` XML),
    ``"query"`` (STS/IAM's ``<ErrorResponse>`` XML) or ``"json"`` (AWS JSON protocol, ``__type``).
    ``denied_code`` overrides the code of policy denials (default: UnauthorizedOperation,
    AccessDenied, AccessDeniedException). ``source_ip(scope)`` overrides the client address (behind
    a trusted proxy). Bodies over ``max_body`` bytes get 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        authorizer: Authorizer,
        resolve: Resolver,
        *,
        error_format: str = "json",
        denied_code: str | None = None,
        max_body: int = 10 * 1024 * 1024,
        source_ip: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        if error_format not in _DENIED_CODES:
            raise ValueError(f"error_format must be one of {sorted(_DENIED_CODES)}")
        self.app = app
        self.authorizer = authorizer
        self.resolve = resolve
        self.error_format = error_format
        self.denied_code = denied_code or _DENIED_CODES[error_format]
        self.max_body = max_body
        self.source_ip = source_ip

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._error(send, 413, "RequestEntityTooLarge", f"Request body must be at most {self.max_body} bytes.")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        request = self._signed_request(scope, body)
        resolved = self.resolve(request)
        if inspect.isawaitable(resolved):
            resolved = await resolved
        if resolved is not None:
            wanted = [resolved] if isinstance(resolved, Authorization) else list(resolved)
            try:
                if len(wanted) == 1:
                    results = [await self.authorizer.authorize(request, wanted[0])]
                else:
                    results = await asyncio.gather(*(self.authorizer.authorize(request, w) for w in wanted))
            except AuthorizerError as exc:
                log.error("authorization unavailable: %s", exc)
                await self._error(send, 503, "ServiceUnavailable", "The authorization service is unavailable.")
                return
            for result, authorization in zip(results, wanted):
                if result.allowed:
                    continue
                if result.error_code is not None:  # the signature did not authenticate
                    status = 400 if result.error_code in _BAD_REQUEST_CODES else 403
                    await self._error(send, status, result.error_code, result.error_message or "")
                else:
                    await self._error(send, 403, self.denied_code, denial_message(result, authorization))
                return
            if results:
                scope["opensts.principal"] = results[0].principal
        if request.state:
            # Updated in place: an outer layer holding this request's state sees it too. (ASGI
            # servers give each request its own copy of the lifespan state.)
            scope.setdefault("state", {}).update(request.state)

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _signed_request(self, scope: dict[str, Any], body: bytes) -> SignedRequest:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        target = raw_path.decode("latin-1")
        query = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
        if self.source_ip is not None:
            source_ip = self.source_ip(scope)
        else:
            client = scope.get("client")
            source_ip = client[0] if client else None
        return SignedRequest(scope["method"], target, headers, hashlib.sha256(body).hexdigest(), body, source_ip,
                             scope.get("scheme") == "https")

    async def _error(self, send: Callable[..., Any], status: int, code: str, message: str) -> None:
        request_id = str(uuid.uuid4())
        if self.error_format == "ec2":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            ).encode()
            headers = [(b"content-type", b"text/xml;charset=UTF-8")]
        elif self.error_format == "query":
            fault = "Receiver" if status >= 500 else "Sender"
            body = (
                f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
            headers = [(b"content-type", b"text/xml")]
        else:
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-errortype", code.encode())]
        headers += [(b"content-length", str(len(body)).encode()), (b"x-amzn-requestid", request_id.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
