"""AWS Signature Version 4 verification: pure, no I/O, no web framework.

The HTTP edge turns what it received into an :class:`HttpRequest`, then

1. :func:`parse_signature` reads the ``Authorization`` header or the presigned query parameters into a
   :class:`SignatureInfo` (access key id, credential scope, signed headers, time, session token). It needs
   no secret, so the caller can look up the access key (or decode the session token) next;
2. :func:`verify_signature` checks the request time, then rebuilds the canonical request from the request
   data alone and compares the HMAC with the one sent, in constant time.

Both raise only :class:`opensts.errors.AwsError` subclasses.

Canonicalisation follows the SigV4 specification for services other than S3, and matches botocore's signer
byte for byte (botocore is the reference client in the tests):

* canonical URI: the raw (already percent-encoded) path with dot segments and empty segments removed,
  then percent-encoded once more with only ``/`` and ``~`` left as is ("encode each segment twice");
* canonical query: every ``key=value`` pair of the raw query (a key without ``=`` gets an empty value),
  decoded (``+`` is a space) and re-encoded with RFC 3986 unreserved characters only, sorted by key then
  value; for presigned requests ``X-Amz-Signature`` is left out. When the raw pairs differ from that form
  (``+`` for space, lower-case escapes, unescaped reserved characters), the raw pairs sorted as sent are
  tried too: botocore signs a query string that is already in the URL that way (**ours**: more lenient
  than AWS, and safe: either form binds every byte the client sent);
* canonical headers: the signed header names (lower case, in the order the client listed them), each
  value with leading/trailing white space removed and inner runs of white space collapsed to one space;
  a signed header missing from the request fails the signature; ``host`` must be signed;
* payload hash: the ``x-amz-content-sha256`` value when sent (``UNSIGNED-PAYLOAD`` or a hex SHA-256, which
  must then match the body), else the SHA-256 of the body. A presigned request with an empty body also
  verifies when the signer used ``UNSIGNED-PAYLOAD`` (S3-style presigners); with a non-empty body it never
  does, so a third party holding a presigned URL cannot attach unsigned parameters in a body.

Wire encoding: ``path`` and ``query_string`` given as ``str`` are read as the Latin-1 decoding of the bytes
on the wire (the ASGI convention); ``bytes`` are accepted too. Header values are ``str`` as decoded by the
server (Latin-1) and enter the canonical request UTF-8 encoded, as botocore signs them.

Time rules (choices marked **ours**):

* header-signed requests may be at most ``max_skew`` (default 5 minutes, **ours**: AWS STS allows 15) away
  from the server clock. Like AWS STS, a stale request gets ``SignatureDoesNotMatch`` (403) with the message
  ``Signature expired: 20261128T120000Z is now earlier than 20261128T120500Z (20261128T121000Z - 5 min.)``
  and one from the future ``Signature not yet current: ... is still later than ... (NOW + 5 min.)``. We do not
  use ``RequestExpired`` because STS does not: botocore and the AWS CLI show STS's code to users.
* presigned requests are valid until ``X-Amz-Date + X-Amz-Expires`` (1..604800 seconds, else
  ``AuthorizationQueryParametersError`` 400 as S3 answers), expired ones get ``SignatureDoesNotMatch`` with
  ``Signature expired: DATE is now earlier than NOW-EXPIRES (NOW - EXPIRES sec.)``. **Ours**: AWS STS ignores
  ``X-Amz-Expires`` and accepts a presigned URL for 15 minutes only. Without ``X-Amz-Expires`` the header
  rule (``max_skew``) applies. A presigned date further in the future than ``max_skew`` is "not yet current".
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

from opensts.cache import BoundedCache
from opensts.errors import (
    AuthorizationQueryParametersError,
    IncompleteSignature,
    MissingAuthenticationToken,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)

__all__ = [
    "ALGORITHM",
    "UNSIGNED_PAYLOAD",
    "HttpRequest",
    "SignatureInfo",
    "parse_signature",
    "verify_signature",
    "check_request_time",
    "signing_key",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DEFAULT_MAX_SKEW_SECONDS = 300
MAX_PRESIGN_EXPIRES = 604800  # seven days, the lifetime of a SigV4 signing key

MISSING_AUTH_MESSAGE = "Request is missing Authentication Token"
SIGNATURE_MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
HOST_NOT_SIGNED_MESSAGE = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."

_SHA256_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_UNRESERVED_RE = re.compile(r"[A-Za-z0-9\-_.~]*")
_Q_ALGORITHM = "X-Amz-Algorithm"
_Q_CREDENTIAL = "X-Amz-Credential"
_Q_SIGNATURE = "X-Amz-Signature"
_Q_SIGNED_HEADERS = "X-Amz-SignedHeaders"
_Q_DATE = "X-Amz-Date"
_Q_EXPIRES = "X-Amz-Expires"
_Q_TOKEN = "X-Amz-Security-Token"
_Q_CONTENT_SHA256 = "X-Amz-Content-Sha256"
_PRESIGN_REQUIRED = (_Q_ALGORITHM, _Q_CREDENTIAL, _Q_SIGNATURE, _Q_SIGNED_HEADERS, _Q_DATE)
_PRESIGN_MARKERS = frozenset((_Q_ALGORITHM, _Q_CREDENTIAL, _Q_SIGNATURE))
_PRESIGN_SINGLE = frozenset((*_PRESIGN_REQUIRED, _Q_EXPIRES, _Q_TOKEN, _Q_CONTENT_SHA256))


# --- The request -------------------------------------------------------------------------------
class _computed_once:
    """Like functools.cached_property without its lock (Python 3.11 takes one on every first
    computation; a request object is never shared between threads here)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value  # later lookups find the instance attribute first
        return value


# Not frozen: one is built per request, and a frozen dataclass costs ~2 us more to construct.
# Treat it as read-only.
@dataclass(eq=False)
class HttpRequest:
    """What the HTTP edge received, untouched.

    ``path`` and ``query_string`` are raw (percent-encoded, as on the wire, without ``?``); as ``str`` they
    are the Latin-1 decoding of the wire bytes. ``headers`` is a mapping (any case) or an iterable of
    ``(name, value)`` pairs; repeated names are joined with ``,``.
    """

    method: str
    path: str | bytes
    query_string: str | bytes
    headers: Mapping[str, str] | Iterable[tuple[str, str]]
    body: bytes = b""
    # The edge already builds a dict with lower-case names (repeats joined): skip re-normalising it.
    headers_lowercase: bool = False
    # The body's SHA-256 (lower-case hex) when the body itself is not at hand (a service forwarding a
    # request to POST /v1/authorize with ``bodySha256``); it then stands for ``body``, which is ignored.
    body_sha256: str | None = None

    @classmethod
    def from_url(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        add_host: bool = True,
    ) -> HttpRequest:
        """A request for a full URL (as a replaying third party would send it), with ``Host`` from the URL."""
        parts = urlsplit(url)
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if add_host and not any(name.lower() == "host" for name, _ in pairs):
            pairs.append(("host", _host_from_netloc(parts.scheme, parts.netloc)))
        return cls(method, parts.path or "/", parts.query, pairs, body)

    @_computed_once
    def lower_headers(self) -> dict[str, str]:
        """Header names in lower case; repeated headers joined with ','."""
        source = self.headers
        if self.headers_lowercase and isinstance(source, dict):
            return source
        if isinstance(source, Mapping):
            fast = {name.lower(): value for name, value in source.items()}
            if len(fast) == len(source):  # no two names differ only by case
                return fast
            items: Iterable[tuple[str, str]] = source.items()
        else:
            items = source
        out: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            if key in out:
                out[key] = f"{out[key]},{value}"
            else:
                out[key] = value
        return out

    @_computed_once
    def query_items(self) -> list[tuple[str, str]]:
        """Raw ``(key, value)`` pairs of the query string, in order ('a' gives ('a', ''))."""
        qs = self.query_string
        if isinstance(qs, bytes):
            qs = qs.decode("latin-1")
        if not qs:
            return []
        return [(k, v) for k, _, v in (pair.partition("=") for pair in qs.split("&"))]

    @_computed_once
    def amz_query(self) -> dict[str, list[str]]:
        """Decoded values of the ``X-Amz-*`` query parameters (case-sensitive names)."""
        out: dict[str, list[str]] = {}
        for raw_key, raw_value in self.query_items:
            if "X-Amz-" not in raw_key and "%" not in raw_key:
                continue
            key = _decode_component(raw_key)
            if key.startswith("X-Amz-"):
                out.setdefault(key, []).append(_decode_component(raw_value))
        return out


def _host_from_netloc(scheme: str, netloc: str) -> str:
    host = netloc.rpartition("@")[2].lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host


# --- Parsed signature --------------------------------------------------------------------------
@dataclass(slots=True)  # per request; read-only by convention (frozen costs ~2 us to construct)
class SignatureInfo:
    """A request's SigV4 signature, parsed but not yet verified."""

    access_key_id: str
    date: str  # YYYYMMDD from the credential scope (equal to amz_date[:8])
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    request_time: datetime  # UTC
    presigned: bool
    expires_seconds: int | None
    security_token: str | None
    amz_date: str  # YYYYMMDDTHHMMSSZ as it enters the string to sign
    content_sha256: str | None = None  # x-amz-content-sha256 as sent (UNSIGNED-PAYLOAD or hex)

    @property
    def credential_scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"

    @property
    def payload_unsigned(self) -> bool:
        """True when the signer declared UNSIGNED-PAYLOAD: the body is then not covered by the signature."""
        return self.content_sha256 == UNSIGNED_PAYLOAD


def parse_signature(
    req: HttpRequest,
    *,
    regions: Collection[str] | None = None,
    services: Collection[str] | None = None,
) -> SignatureInfo:
    """Parse the ``Authorization`` header or the presigned query parameters.

    ``regions`` / ``services`` optionally restrict the credential scope (any non-empty value otherwise).

    Raises
      * ``MissingAuthenticationToken`` (403) "Request is missing Authentication Token": neither an
        Authorization header nor presigned query parameters (unsigned request);
      * ``IncompleteSignature`` (400): malformed header or query parameters — "Authorization header requires
        'Credential' parameter. ... Authorization=<header>", "'x' not a valid key=value pair (missing
        equal-sign) in Authorization header: '<header>'.", "Credential must have exactly 5 slash-delimited
        elements, e.g. keyid/date/region/service/term, got '<credential>'", "Unsupported AWS 'algorithm':
        '<alg>'", "AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string
        parameters.", "Date must be in ISO-8601 'basic format'. Got '<date>'. See
        http://en.wikipedia.org/wiki/ISO_8601", both header and query authentication, a repeated
        presigned parameter, an x-amz-content-sha256 that is neither UNSIGNED-PAYLOAD nor a SHA-256;
      * ``SignatureDoesNotMatch`` (403): scope problems — "Credential should be scoped with a valid terminator:
        'aws4_request', not '<t>'.", "Credential should be scoped to a valid region, not '<r>'.",
        "Credential should be scoped to correct service: '<s>'.", "Date in Credential scope does not match
        YYYYMMDD from ISO-8601 version of date from HTTP: '<scope>' != '<date>', from '<amz-date>'.",
        and "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
      * ``AuthorizationQueryParametersError`` (400): X-Amz-Expires not a number, < 1 or > 604800.
    """
    headers = req.lower_headers
    authorization = headers.get("authorization")
    if req.query_string:
        amz = req.amz_query if req.query_items else {}
        presigned = any(marker in amz for marker in _PRESIGN_MARKERS)
    else:  # most requests: a POST with its parameters in the body
        amz, presigned = {}, False
    if authorization is not None:
        if presigned:
            raise IncompleteSignature(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
                "string parameter or the Authorization header should be specified"
            )
        return _parse_header_auth(req, authorization, headers, amz, regions, services)
    if presigned:
        return _parse_query_auth(req, headers, amz, regions, services)
    raise MissingAuthenticationToken(MISSING_AUTH_MESSAGE)


def _parse_header_auth(
    req: HttpRequest,
    authorization: str,
    headers: dict[str, str],
    amz: dict[str, list[str]],
    regions: Collection[str] | None,
    services: Collection[str] | None,
) -> SignatureInfo:
    raw_date = _stripped(headers.get("x-amz-date"))
    # SDKs write "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=<hex>", and all but the
    # signature repeats on every request of a client for a day: that part is parsed once.
    head, comma, signature = authorization.rpartition(", Signature=")
    if comma and raw_date is not None and signature.isalnum():
        parts = _header_parts(head)
        if parts is not None:  # from here on, the same steps in the same order as below
            amz_date, request_time = _parse_amz_date(raw_date)
            access_key_id, date, region, service = _parse_credential(parts[0], amz_date, regions, services)
            token = _stripped(headers.get("x-amz-security-token"))
            if token is None and amz:
                values = amz.get(_Q_TOKEN)
                token = values[0] if values else None
            content_sha256 = headers.get("x-amz-content-sha256")
            return SignatureInfo(
                access_key_id, date, region, service, _parse_signed_headers(parts[1]), signature, request_time,
                False, None, token, amz_date,
                None if content_sha256 is None else _parse_content_sha256(content_sha256.strip()),
            )
    params = _auth_params(authorization)
    http_date = _stripped(headers.get("date")) if raw_date is None else None
    if (raw_date is None and http_date is None) or not (
        params.get("Credential") and params.get("Signature") and params.get("SignedHeaders")
    ):
        problems = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if not params.get(name)
        ]
        if raw_date is None and http_date is None:
            problems.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        raise IncompleteSignature(" ".join(problems) + f" Authorization={authorization}")

    if raw_date is not None:
        amz_date, request_time = _parse_amz_date(raw_date)
    else:
        amz_date, request_time = _parse_http_date(http_date or "")
    access_key_id, date, region, service = _parse_credential(params["Credential"], amz_date, regions, services)
    signed_headers = _parse_signed_headers(params["SignedHeaders"])
    token = _stripped(headers.get("x-amz-security-token"))
    if token is None:
        values = amz.get(_Q_TOKEN)
        token = values[0] if values else None
    return SignatureInfo(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=params["Signature"],
        request_time=request_time,
        presigned=False,
        expires_seconds=None,
        security_token=token,
        amz_date=amz_date,
        content_sha256=_parse_content_sha256(_stripped(headers.get("x-amz-content-sha256"))),
    )


def _auth_params(authorization: str) -> dict[str, str]:
    """The ``key=value`` parameters of an ``AWS4-HMAC-SHA256`` Authorization header."""
    text = authorization.strip()
    algorithm, _, rest = text.partition(" ")
    if algorithm != ALGORITHM and algorithm.startswith("AWS4-") and "=" in rest:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    params: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for token in rest.replace(",", " ").split():
            key, eq, value = token.partition("=")
            if not eq:
                raise IncompleteSignature(
                    f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                    f"'{authorization}'."
                )
            params[key] = value
    return params


@lru_cache(maxsize=1024)  # one entry per client key, scope and header set
def _header_parts(head: str) -> tuple[str, str] | None:
    """Credential and SignedHeaders of an Authorization header cut before ", Signature=<tail>".

    None when they are not both there (the full parser then explains what is missing). The tail is
    one alphanumeric token, so the whole header has exactly these parameters plus the signature.
    """
    try:
        params = _auth_params(head + ", Signature=x")
    except IncompleteSignature:
        return None
    if params.get("Signature") != "x" or not (params.get("Credential") and params.get("SignedHeaders")):
        return None
    return params["Credential"], params["SignedHeaders"]


def _scope_date_mismatch(date: str, amz_date: str) -> None:
    raise SignatureDoesNotMatch(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
    )


def _parse_query_auth(
    req: HttpRequest,
    headers: dict[str, str],
    amz: dict[str, list[str]],
    regions: Collection[str] | None,
    services: Collection[str] | None,
) -> SignatureInfo:
    missing = [name for name in _PRESIGN_REQUIRED if not (amz.get(name) or [""])[0]]
    if missing:
        raise IncompleteSignature(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters."
        )
    for name in _PRESIGN_SINGLE:
        if len(amz.get(name, ())) > 1:
            raise IncompleteSignature(f"AWS query-string parameter '{name}' must appear only once.")
    algorithm = amz[_Q_ALGORITHM][0]
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'")
    amz_date, request_time = _parse_amz_date(amz[_Q_DATE][0])
    expires: int | None = None
    if _Q_EXPIRES in amz:
        expires = _parse_expires(amz[_Q_EXPIRES][0])
    access_key_id, date, region, service = _parse_credential(amz[_Q_CREDENTIAL][0], amz_date, regions, services)
    signed_headers = _parse_signed_headers(amz[_Q_SIGNED_HEADERS][0])
    token_values = amz.get(_Q_TOKEN)
    token = token_values[0] if token_values else _stripped(headers.get("x-amz-security-token"))
    content = _stripped(headers.get("x-amz-content-sha256"))
    if content is None and _Q_CONTENT_SHA256 in amz:
        content = amz[_Q_CONTENT_SHA256][0]
    return SignatureInfo(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=amz[_Q_SIGNATURE][0],
        request_time=request_time,
        presigned=True,
        expires_seconds=expires,
        security_token=token,
        amz_date=amz_date,
        content_sha256=_parse_content_sha256(content),
    )


def _stripped(value: str | None) -> str | None:
    return value.strip() if value is not None else None


@lru_cache(maxsize=256)  # requests arriving in the same second share their X-Amz-Date
def _parse_amz_date(value: str) -> tuple[str, datetime]:
    v = value
    if len(v) == 16 and v[8] == "T" and v[15] == "Z" and v.isascii() and v[:8].isdigit() and v[9:15].isdigit():
        try:
            when = datetime(int(v[0:4]), int(v[4:6]), int(v[6:8]), int(v[9:11]), int(v[11:13]), int(v[13:15]),
                            tzinfo=timezone.utc)
        except ValueError:
            pass
        else:
            return value, when
    raise IncompleteSignature(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _parse_http_date(value: str) -> tuple[str, datetime]:
    """The ``Date`` header (RFC 1123, as botocore writes it when a request carries one)."""
    try:
        when = parsedate_to_datetime(value)
        when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None
    return _format_amz_date(when), when


def _format_amz_date(when: datetime) -> str:
    return (
        f"{when.year:04d}{when.month:02d}{when.day:02d}T{when.hour:02d}{when.minute:02d}{when.second:02d}Z"
    )


def _parse_expires(value: str) -> int:
    if not value.isascii() or not value.lstrip("-").isdigit():
        raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    seconds = int(value)
    if seconds < 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    if seconds == 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be at least 1 second")
    if seconds > MAX_PRESIGN_EXPIRES:
        raise AuthorizationQueryParametersError(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
            f"less than {MAX_PRESIGN_EXPIRES} seconds"
        )
    return seconds


def _parse_credential(
    credential: str,
    amz_date: str,
    regions: Collection[str] | None,
    services: Collection[str] | None,
) -> tuple[str, str, str, str]:
    access_key_id, date, region, service = _credential_scope(
        credential, None if regions is None else tuple(regions), None if services is None else tuple(services)
    )
    if date != amz_date[:8]:
        _scope_date_mismatch(date, amz_date)
    return access_key_id, date, region, service


@lru_cache(maxsize=1024)  # a client signs with the same key and scope all day
def _credential_scope(
    credential: str, regions: tuple[str, ...] | None, services: tuple[str, ...] | None
) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'"
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
        )
    if not region or (regions is not None and region not in regions):
        raise SignatureDoesNotMatch(f"Credential should be scoped to a valid region, not '{region}'.")
    if not service or (services is not None and service not in services):
        expected = "' or '".join(sorted(services)) if services else ""
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{expected}'.")
    return access_key_id, date, region, service


@lru_cache(maxsize=256)  # an SDK signs the same header set on every call
def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = tuple(value.lower().split(";"))
    if "host" not in names:
        raise SignatureDoesNotMatch(HOST_NOT_SIGNED_MESSAGE)
    return names


def _parse_content_sha256(value: str | None) -> str | None:
    if value is None or value == UNSIGNED_PAYLOAD or _SHA256_HEX_RE.fullmatch(value):
        return value
    raise IncompleteSignature("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid SHA-256 hex digest.")


# --- Verification ------------------------------------------------------------------------------
def check_request_time(
    info: SignatureInfo, now: datetime | None = None, *, max_skew: int = DEFAULT_MAX_SKEW_SECONDS
) -> None:
    """Reject a request outside its validity window (module docstring): ``SignatureDoesNotMatch`` 403."""
    now = _utc(now)
    when = info.request_time
    ahead = (when - now).total_seconds()  # one subtraction decides the common case
    if -max_skew <= ahead <= max_skew and not info.presigned:
        return
    skew = timedelta(seconds=max_skew)
    if when > now + skew:
        raise SignatureDoesNotMatch(
            f"Signature not yet current: {info.amz_date} is still later than {_format_amz_date(now + skew)} "
            f"({_format_amz_date(now)} + {_window(max_skew)})"
        )
    if info.presigned and info.expires_seconds is not None:
        limit = now - timedelta(seconds=info.expires_seconds)
        window = f"{info.expires_seconds} sec."
    else:
        limit = now - skew
        window = ""
    if when < limit:
        raise SignatureDoesNotMatch(
            f"Signature expired: {info.amz_date} is now earlier than {_format_amz_date(limit)} "
            f"({_format_amz_date(now)} - {window or _window(max_skew)})"
        )


def _window(seconds: int) -> str:
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


def verify_signature(
    req: HttpRequest,
    info: SignatureInfo,
    secret_access_key: str,
    now: datetime | None = None,
    *,
    max_skew: int = DEFAULT_MAX_SKEW_SECONDS,
) -> None:
    """Verify ``info`` (from :func:`parse_signature` on the same ``req``) with the key's secret.

    Raises ``SignatureDoesNotMatch`` (403) for a stale/future request (see :func:`check_request_time`) or a
    wrong signature (AWS's message; the exception carries ``canonical_request`` and ``string_to_sign`` for
    debug logging), ``XAmzContentSHA256Mismatch`` (400) "The provided 'x-amz-content-sha256' header does
    not match what was computed." when that header is a digest of another body.
    """
    check_request_time(info, now, max_skew=max_skew)
    candidates = _payload_hashes(req, info)
    headers = req.lower_headers
    try:
        lines = [f"{name}:{' '.join(headers[name].split())}\n" for name in info.signed_headers]
    except KeyError:  # a signed header is missing
        raise SignatureDoesNotMatch(SIGNATURE_MISMATCH_MESSAGE) from None
    path = req.path
    uri = "/" if path == "/" else _canonical_uri(path)
    start = f"{req.method.upper()}\n{uri}\n".encode()
    tail = _to_bytes(f"\n{''.join(lines)}\n{';'.join(info.signed_headers)}\n")
    signer = _signer(secret_access_key, info.date, info.region, info.service)
    head = f"{ALGORITHM}\n{info.amz_date}\n{info.date}/{info.region}/{info.service}/{TERMINATOR}\n"
    provided = _to_bytes(info.signature)
    canonical = b""
    string_to_sign = ""
    queries = _canonical_queries(req, info.presigned) if req.query_string else (b"",)
    for query in queries:
        prefix = start + query + tail
        for payload_hash in candidates:
            canonical = prefix + payload_hash.encode()
            string_to_sign = head + hashlib.sha256(canonical).hexdigest()
            if hmac.compare_digest(signer.hexdigest(string_to_sign.encode()).encode(), provided):
                return
    error = SignatureDoesNotMatch(SIGNATURE_MISMATCH_MESSAGE)
    error.canonical_request = canonical.decode("utf-8", "replace")  # type: ignore[attr-defined]
    error.string_to_sign = string_to_sign  # type: ignore[attr-defined]
    raise error


def _payload_hashes(req: HttpRequest, info: SignatureInfo) -> tuple[str, ...]:
    declared = info.content_sha256
    if declared == UNSIGNED_PAYLOAD:
        return (declared,)
    body = req.body or b""
    if req.body_sha256 is not None:
        actual = req.body_sha256.lower()
    else:
        actual = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    if declared is not None:
        if declared.lower() != actual:
            raise XAmzContentSHA256Mismatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        return (declared,)
    if info.presigned and actual == EMPTY_SHA256:
        return (actual, UNSIGNED_PAYLOAD)
    return (actual,)


class _Hmac:
    """HMAC-SHA256 under one fixed key, with the key's two padded blocks hashed once (RFC 2104).

    ``hmac.digest`` sets up an OpenSSL HMAC context on every call (~1.6 µs); copying two SHA-256
    states that have already absorbed the padded key costs a third of that. A key signs every
    request of one client for a day, so the saving is per request.
    """

    __slots__ = ("key", "_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        self.key = key
        # SigV4 keys are 32 bytes; a key longer than SHA-256's 64-byte block is hashed first (RFC 2104).
        block = (key if len(key) <= 64 else hashlib.sha256(key).digest()).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


# A memo of a pure function (the key derivation), like the lru_caches of this module: an entry
# depends on its key alone and never goes stale, so it needs no invalidation and no runtime.
_SIGNING_KEYS_MAX = 2048
_SIGNING_KEYS: BoundedCache[tuple[str, str, str, str], _Hmac] = BoundedCache("sigv4-signing-keys", _SIGNING_KEYS_MAX)


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"), cached."""
    return _signer(secret_access_key, date, region, service).key


def _signer(secret_access_key: str, date: str, region: str, service: str) -> _Hmac:
    cache_key = (secret_access_key, date, region, service)
    signer = _SIGNING_KEYS.get(cache_key)
    if signer is None:
        key = hmac.digest(_to_bytes("AWS4" + secret_access_key), _to_bytes(date), "sha256")
        key = hmac.digest(key, _to_bytes(region), "sha256")
        key = hmac.digest(key, _to_bytes(service), "sha256")
        signer = _SIGNING_KEYS.put(cache_key, _Hmac(hmac.digest(key, b"aws4_request", "sha256")))
    return signer


# --- Canonical forms ---------------------------------------------------------------------------
@lru_cache(maxsize=1024)  # services see the same few paths over and over
def _canonical_uri(path: str | bytes) -> str:
    if path == "/" or path == b"/" or not path:
        return "/"
    raw = _wire_bytes(path)
    return quote_from_bytes(_remove_dot_segments(raw), safe="/~")


def _remove_dot_segments(path: bytes) -> bytes:
    """RFC 3986 5.2.4, and empty segments dropped ('//x' is '/x'), as botocore and AWS do."""
    out: list[bytes] = []
    for segment in path.split(b"/"):
        if not segment or segment == b".":
            continue
        if segment == b"..":
            if out:
                out.pop()
        else:
            out.append(segment)
    first = b"/" if path.startswith(b"/") else b""
    last = b"/" if path.endswith(b"/") and out else b""
    return first + b"/".join(out) + last


def _canonical_queries(req: HttpRequest, presigned: bool) -> Iterator[bytes]:
    """The specification's canonical query string, then (if different) the raw pairs sorted as sent.

    The second form is what botocore signs for a query string already present in the URL it is given
    (it does not re-encode it): ``?q=a+b`` or lower-case escapes verify as the client signed them. Both
    forms bind the exact bytes of every pair, so accepting either weakens nothing.
    """
    items = req.query_items
    if not items:
        yield b""
        return
    pairs = []
    for raw_key, raw_value in items:
        key = _canonical_component(raw_key)
        if presigned and key == _Q_SIGNATURE:
            continue
        pairs.append((key, _canonical_component(raw_value)))
    pairs.sort()
    canonical = "&".join(f"{k}={v}" for k, v in pairs).encode()
    yield canonical
    raw_pairs = sorted(
        (_wire_bytes(raw_key), _wire_bytes(raw_value))
        for raw_key, raw_value in items
        if not (presigned and _canonical_component(raw_key) == _Q_SIGNATURE)
    )
    raw = b"&".join(k + b"=" + v for k, v in raw_pairs)
    if raw != canonical:
        yield raw


@lru_cache(maxsize=1024)  # most values repeat: Action, Version, algorithm, credential, session token
def _canonical_component(raw: str) -> str:
    if _UNRESERVED_RE.fullmatch(raw):
        return raw
    return quote_from_bytes(unquote_to_bytes(_wire_bytes(raw).replace(b"+", b" ")), safe="-_.~")


@lru_cache(maxsize=1024)
def _decode_component(raw: str) -> str:
    if "%" not in raw and "+" not in raw:
        return raw
    return unquote_to_bytes(_wire_bytes(raw).replace(b"+", b" ")).decode("utf-8", "replace")


def _wire_bytes(text: str | bytes) -> bytes:
    """Raw path/query text back to wire bytes: Latin-1 when it fits (ASGI convention), else UTF-8."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return _to_bytes(text)


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them distinct, never fail
        return text.encode("utf-8", "surrogatepass")


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is timezone.utc:
        return now
    if now.tzinfo is None:
        return now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)
