"""OpenID Connect ID tokens: discovery, JWKS fetching and caching, and JWT validation.

What AssumeRoleWithWebIdentity (``sts/web_identity.py``) needs from an OIDC identity provider, and
nothing else: this module knows JOSE, HTTPS and the provider record, not IAM or the store.

**Fetching.** Keys come from ``{iss}/.well-known/openid-configuration`` → ``jwks_uri``, both over
HTTPS only, verified with the system trust store (``SSL_CERT_FILE`` selects another bundle, for
private CAs), hostname checked, TLS ≥ 1.2, no redirects, no proxies from the environment, 1 s per
network operation (connect with TLS, each read) and 2 s for discovery and JWKS together (checked
between operations, so about 3 s at worst), at most 512 KiB per document and no compressed bodies
(no decompression bombs).

**Pinning.** When the provider has thumbprints, the JWKS connection must present a *verified*
chain containing a certificate whose SHA-1 (of the DER) is among them: the top intermediate or root
CA as AWS defines the thumbprint, or the server's own certificate. The chain must still verify
against the trust store: a thumbprint narrows trust, it never replaces it (AWS, for CAs it does
not know, trusts on the thumbprint alone; since 2023 it ignores thumbprints for CAs it does know;
OpenSTS always checks both).

**Caching.** One JWKS per (issuer, thumbprints) per process (:class:`JwksCache`, held by the
runtime: ``runtime.jwks``; not IAM data, so IAM changes leave it alone), kept for ``Cache-Control: max-age``
clamped to 1 min..1 h, else 10 min. A token whose ``kid`` is unknown triggers one refresh, but at
most one such forced refresh per issuer every ``FORCED_REFRESH_INTERVAL`` seconds, so a flood of
random kids cannot make us hammer the IdP. A failed fetch is remembered for
``FAILURE_BACKOFF`` seconds (callers fail fast meanwhile), fetches of one issuer are serialised by a
per-issuer lock (no thundering herd), and an expired JWKS is never used when a refresh fails.

**Validation.** Only RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA; never ``none``, never
HMAC, never a key named or embedded by the token (``jku``, ``x5u``, ``jwk``, ``x5c`` are ignored),
never a ``crit`` header. The key is the JWKS key with the token's ``kid`` (or the only compatible
key when the token names none), of a type fitting the algorithm (RSA ≥ 2048 bits; EC P-256/384/521
with the matching curve; OKP Ed25519/Ed448), ``use``/``key_ops``/``alg`` respected. Then ``iss``
equals the provider URL, ``aud`` (a string or a list) or ``azp`` is in the ClientIDList, ``exp`` and
``iat`` are present, and ``exp``/``nbf``/``iat`` hold with ``LEEWAY`` seconds against the *server*
clock passed in by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from opensts.errors import (
    ExpiredTokenException,
    IDPCommunicationError,
    InvalidIdentityToken,
)

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_EC_CURVE_FOR_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
MIN_RSA_BITS = 2048
LEEWAY = 60  # seconds, for exp / nbf / iat
MAX_TOKEN_LENGTH = 20000

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_KEYS = 100
NETWORK_TIMEOUT = 1.0  # seconds per network operation: connect (with TLS), each read, each write
FETCH_DEADLINE = 2.0  # seconds for discovery and JWKS together, checked before each operation
DEFAULT_TTL = 600.0
MIN_TTL, MAX_TTL = 60.0, 3600.0
FORCED_REFRESH_INTERVAL = 10.0
FAILURE_BACKOFF = 2.0
LOCK_TIMEOUT = 5.0
MAX_ISSUERS = 1000

# AWS's own wording for these failures.
COMMUNICATION_MESSAGE = (
    "Couldn't retrieve verification key from your identity provider,  please reference "
    "AssumeRoleWithWebIdentity documentation for requirements"
)
INVALID_MESSAGE = (
    "The web identity token that was passed could not be validated by AWS. Get a new identity token from the "
    "identity provider and then retry the request."
)
EXPIRED_MESSAGE = "Token is expired"
AUDIENCE_MESSAGE = "Incorrect token audience"
UNKNOWN_KEY_MESSAGE = "The web identity token was signed by a key the identity provider does not publish."

AWS_TAGS_CLAIM = "https://aws.amazon.com/tags"
AWS_SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"


# --- The token before its signature is checked ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """Header and ``iss`` of a token whose signature has not been checked yet: only for choosing the
    provider and the key, never for a decision."""

    token: str
    alg: str
    kid: str | None
    issuer: str


def invalid(message: str = INVALID_MESSAGE) -> InvalidIdentityToken:
    return InvalidIdentityToken(message)


def inspect_token(token: str) -> UnverifiedToken:
    """Check the token's shape and header, and read its issuer. InvalidIdentityToken otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise invalid()
    parts = token.split(".")
    if len(parts) == 5:
        raise invalid("Encrypted (JWE) web identity tokens are not supported: pass a signed ID token.")
    if len(parts) != 3 or not all(parts):
        raise invalid()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise invalid() from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise invalid(f"Unsupported token signing algorithm {str(alg)[:20]!r}: use RS*, PS*, ES* or EdDSA.")
    if "crit" in header or "b64" in header:
        raise invalid()  # extensions we do not implement must not be ignored (RFC 7515 §4.1.11)
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= 1024):
        raise invalid()
    try:
        payload = jwt.api_jws.PyJWS().decode_complete(token, options={"verify_signature": False})["payload"]
        claims = json.loads(payload)
    except (jwt.PyJWTError, ValueError, RecursionError):
        raise invalid() from None
    if not isinstance(claims, dict):
        raise invalid()
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise invalid()
    return UnverifiedToken(token, alg, kid, issuer)


def issuer_matches(issuer: str, provider_url: str) -> bool:
    """``iss`` names the provider: both ``https://``, same host (case-insensitive) and port, same path."""
    if not issuer.lower().startswith("https://") or not provider_url.lower().startswith("https://"):
        return False
    a, b = issuer[8:], provider_url[8:]
    a_host, _, a_path = a.partition("/")
    b_host, _, b_path = b.partition("/")
    return a_host.lower() == b_host.lower() and a_path == b_path and (("/" in a) == ("/" in b))


# --- Validation ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ValidatedToken:
    claims: Mapping[str, Any]
    subject: str
    audience: str  # the ClientIDList entry the token was accepted for (aud, else azp)
    audiences: tuple[str, ...]  # the token's aud values
    authorized_party: str | None  # azp


def _number(claims: Mapping[str, Any], name: str, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise invalid()
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid()
    return float(value)


def check_claims(claims: Mapping[str, Any], provider_url: str, client_ids: Sequence[str], now: float) -> ValidatedToken:
    """Everything but the signature: issuer, audience, times, subject."""
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer_matches(issuer, provider_url):
        raise invalid("The issuer of the web identity token does not match the identity provider.")
    exp = _number(claims, "exp", True)
    iat = _number(claims, "iat", True)
    nbf = _number(claims, "nbf", False)
    assert exp is not None and iat is not None
    if iat > now + LEEWAY:
        raise invalid("The web identity token was issued in the future (iat).")
    if nbf is not None and nbf > now + LEEWAY:
        raise invalid("The web identity token is not yet valid (nbf).")
    if exp <= now - LEEWAY:
        raise ExpiredTokenException(EXPIRED_MESSAGE)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise invalid()
    aud = claims.get("aud")
    if isinstance(aud, str):
        audiences: tuple[str, ...] = (aud,)
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        audiences = tuple(aud)
    elif aud is None:
        audiences = ()
    else:
        raise invalid()
    azp = claims.get("azp")
    if azp is not None and not isinstance(azp, str):
        raise invalid()
    accepted = next((a for a in audiences if a in client_ids), None)
    if accepted is None and azp is not None and azp in client_ids:
        accepted = azp
    if accepted is None:
        raise invalid(AUDIENCE_MESSAGE)
    return ValidatedToken(claims, subject, accepted, audiences, azp)


def verify_token(
    unverified: UnverifiedToken,
    provider_url: str,
    client_ids: Sequence[str],
    thumbprints: Sequence[str],
    now: float,
    keys: JwksCache,
) -> ValidatedToken:
    """The signature by a JWKS key of the provider, then the claims (``now``: the server clock)."""
    key = keys.key_for(provider_url, tuple(thumbprints), unverified.kid, unverified.alg)
    try:
        decoded = jwt.api_jws.PyJWS().decode_complete(unverified.token, key, algorithms=[unverified.alg])
        claims = json.loads(decoded["payload"])
    except jwt.InvalidSignatureError:
        raise invalid("The signature of the web identity token could not be verified.") from None
    except (jwt.PyJWTError, ValueError, TypeError, RecursionError):
        raise invalid() from None
    if not isinstance(claims, dict):
        raise invalid()
    return check_claims(claims, provider_url, client_ids, now)


# --- JWKS ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str | None
    kty: str
    alg: str | None  # as the JWK states it, if it does
    curve: str | None  # P-256/P-384/P-521, Ed25519/Ed448
    key: Any  # a cryptography public key

    def fits(self, alg: str) -> bool:
        if self.alg is not None and self.alg != alg:
            return False
        if alg[:2] in ("RS", "PS"):
            return self.kty == "RSA"
        if alg[:2] == "ES":
            return self.kty == "EC" and self.curve == _EC_CURVE_FOR_ALG[alg]
        if alg == "EdDSA":
            return self.kty == "OKP"
        return False


def parse_jwks(document: Any) -> tuple[SigningKey, ...]:
    """The usable public signing keys of a JWKS; anything else (HMAC secrets, encryption keys,
    weak or malformed keys) is skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS")
    out: list[SigningKey] = []
    for jwk in document["keys"][:MAX_KEYS]:
        if not isinstance(jwk, dict):
            continue
        kty = jwk.get("kty")
        if kty not in ("RSA", "EC", "OKP"):
            continue  # never "oct": a symmetric key must never verify a token
        if jwk.get("use", "sig") != "sig":
            continue
        ops = jwk.get("key_ops")
        if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
            continue
        if any(private in jwk for private in ("d", "p", "q", "dp", "dq", "qi", "k")):
            continue  # a published private key is a broken IdP, not a key to trust
        alg = jwk.get("alg")
        if alg is not None and alg not in ALLOWED_ALGORITHMS:
            continue
        kid = jwk.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        try:
            key = jwt.PyJWK(jwk).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        curve: str | None = None
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < MIN_RSA_BITS:
                continue
        elif isinstance(key, ec.EllipticCurvePublicKey):
            curve = _CURVE_NAMES.get(key.curve.name)
            if curve is None:
                continue
        elif isinstance(key, ed25519.Ed25519PublicKey):
            curve = "Ed25519"
        elif isinstance(key, ed448.Ed448PublicKey):
            curve = "Ed448"
        else:
            continue  # a private key object or anything unexpected
        out.append(SigningKey(kid, kty, alg, curve, key))
    return tuple(out)


def _max_age(cache_control: str | None) -> float:
    if not cache_control:
        return DEFAULT_TTL
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return MIN_TTL
    for d in directives:
        if d.startswith("max-age="):
            try:
                return min(MAX_TTL, max(MIN_TTL, float(int(d[8:].strip('"')))))
            except ValueError:
                break
    return DEFAULT_TTL


class FetchError(Exception):
    """A discovery or JWKS document could not be fetched or did not make sense (detail for logs)."""


_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()


def ssl_context() -> ssl.SSLContext:
    """System trust store, or the bundle named by ``SSL_CERT_FILE``; hostname checks; TLS ≥ 1.2."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            # SSL_CERT_FILE is OpenSSL's own variable (not an OpenSTS setting, so not in Settings):
            # read here, as OpenSSL-based clients do, to honour a private CA bundle.
            ctx = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.check_hostname = True
            ctx.verify_mode = ssl.CERT_REQUIRED
            _ssl_context = ctx
        return _ssl_context


def certificate_thumbprints(ssl_object: Any) -> set[str]:
    """SHA-1 (hex, lower case) of each certificate of the verified chain (leaf to root).

    Python 3.11 exposes the verified chain only on the private ``_ssl._SSLSocket`` (public from
    3.13); without it, only the leaf certificate can be pinned.
    """
    import _ssl  # the private module: its Certificate objects and DER encoding constant

    ders: list[bytes] = []
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    chain_fn = getattr(ssl_object, "get_verified_chain", None) or getattr(inner, "get_verified_chain", None)
    if chain_fn is not None:
        for cert in chain_fn() or ():
            if isinstance(cert, bytes):
                ders.append(cert)
            else:
                ders.append(cert.public_bytes(_ssl.ENCODING_DER))
    if not ders:
        try:
            leaf = ssl_object.getpeercert(True)
        except (AttributeError, ValueError, ssl.SSLError):
            leaf = None
        if leaf:
            ders.append(leaf)
    return {hashlib.sha1(der).hexdigest() for der in ders}


def https_url(url: Any) -> str:
    if not isinstance(url, str) or not url.lower().startswith("https://"):
        raise FetchError("not an https URL")
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise FetchError("unusable URL")
    return url


def fetch_json(url: str, thumbprints: Iterable[str] = (), deadline: float | None = None) -> tuple[Any, float]:
    """GET an HTTPS JSON document within the limits above; returns it and its cache lifetime.

    ``deadline`` (``time.monotonic()``): give up once it has passed (checked between operations,
    each of which may take ``NETWORK_TIMEOUT``).
    """
    https_url(url)
    pins = {t.lower() for t in thumbprints}
    if deadline is None:
        deadline = time.monotonic() + FETCH_DEADLINE
    if time.monotonic() > deadline:
        raise FetchError("deadline exceeded")
    timeout = httpx.Timeout(NETWORK_TIMEOUT)
    headers = {"Accept": "application/json", "Accept-Encoding": "identity", "User-Agent": "OpenSTS"}
    client = httpx.Client(verify=ssl_context(), timeout=timeout, follow_redirects=False, trust_env=False)
    try:
        with client, client.stream("GET", url, headers=headers) as response:
            if pins:
                stream = response.extensions.get("network_stream")
                ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
                if ssl_object is None or not (certificate_thumbprints(ssl_object) & pins):
                    raise FetchError("no certificate of the chain matches the provider's thumbprints")
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}")
            if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
                raise FetchError("compressed response")
            length = response.headers.get("content-length")
            if length is not None and length.isascii() and length.isdigit() and int(length) > MAX_DOCUMENT_BYTES:
                raise FetchError("response too large")
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchError("response too large")
                if time.monotonic() > deadline:
                    raise FetchError("deadline exceeded")
            ttl = _max_age(response.headers.get("cache-control"))
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None
    except ssl.SSLError as exc:
        raise FetchError(f"TLS: {exc}") from None
    try:
        return json.loads(bytes(body)), ttl
    except (ValueError, RecursionError):
        raise FetchError("not JSON") from None


def fetch_jwks(issuer: str, thumbprints: Sequence[str]) -> tuple[tuple[SigningKey, ...], float]:
    """Discovery, then the JWKS (pinned when there are thumbprints). FetchError on any failure."""
    deadline = time.monotonic() + FETCH_DEADLINE
    discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    config, _ = fetch_json(discovery_url, deadline=deadline)
    if not isinstance(config, dict):
        raise FetchError("discovery document is not an object")
    if "issuer" in config and not (isinstance(config["issuer"], str) and issuer_matches(config["issuer"], issuer)):
        raise FetchError("discovery document names another issuer")
    jwks_uri = https_url(config.get("jwks_uri"))
    document, ttl = fetch_json(jwks_uri, thumbprints, deadline)
    try:
        return parse_jwks(document), ttl
    except ValueError as exc:
        raise FetchError(str(exc)) from None


@dataclass
class _Entry:
    keys: tuple[SigningKey, ...] = ()
    expires_at: float = 0.0  # monotonic
    fetched_at: float = float("-inf")
    forced_at: float = float("-inf")  # last refresh caused by an unknown kid
    failed_at: float = float("-inf")
    fetches: int = 0


class JwksCache:
    """Per-process JWKS cache, keyed by (issuer, thumbprints). Thread-safe; see the module doc."""

    def __init__(
        self,
        fetcher: Callable[[str, Sequence[str]], tuple[tuple[SigningKey, ...], float]] = fetch_jwks,
        *,
        forced_refresh_interval: float = FORCED_REFRESH_INTERVAL,
        failure_backoff: float = FAILURE_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self._fetch = fetcher
        self._forced_interval = forced_refresh_interval
        self._backoff = failure_backoff
        self._clock = clock
        self._on_error = on_error
        self._entries: dict[tuple[str, tuple[str, ...]], _Entry] = {}
        self._locks: dict[tuple[str, tuple[str, ...]], threading.Lock] = {}
        self._guard = threading.Lock()

    def _slot(self, cache_key: tuple[str, tuple[str, ...]]) -> tuple[_Entry, threading.Lock]:
        with self._guard:
            entry = self._entries.get(cache_key)
            if entry is None:
                if len(self._entries) >= MAX_ISSUERS:
                    oldest = min(self._entries, key=lambda k: self._entries[k].fetched_at)
                    del self._entries[oldest]
                    self._locks.pop(oldest, None)
                entry = self._entries[cache_key] = _Entry()
                self._locks[cache_key] = threading.Lock()
            return entry, self._locks[cache_key]

    def stats(self, issuer: str, thumbprints: Sequence[str] = ()) -> _Entry | None:
        return self._entries.get((issuer, tuple(sorted(t.lower() for t in thumbprints))))

    def key_for(self, issuer: str, thumbprints: tuple[str, ...], kid: str | None, alg: str) -> Any:
        """The public key that must have signed a token (``kid``, ``alg``) of ``issuer``."""
        cache_key = (issuer, tuple(sorted(t.lower() for t in thumbprints)))
        entry, lock = self._slot(cache_key)
        now = self._clock()
        if now < entry.expires_at:
            found = _select(entry.keys, kid, alg)
            if found is not None:
                return found.key
            if now - entry.forced_at < self._forced_interval or not _may_appear(entry.keys, kid):
                raise invalid(UNKNOWN_KEY_MESSAGE)
            forced = True
        else:
            forced = False
        if not lock.acquire(timeout=LOCK_TIMEOUT):
            raise IDPCommunicationError(COMMUNICATION_MESSAGE)
        try:
            now = self._clock()
            fresh = now < entry.expires_at
            if fresh:
                found = _select(entry.keys, kid, alg)
                if found is not None:
                    return found.key
                if now - entry.forced_at < self._forced_interval or not _may_appear(entry.keys, kid):
                    # e.g. another thread refreshed for an unknown kid meanwhile: do not fetch again
                    raise invalid(UNKNOWN_KEY_MESSAGE)
                forced = True
            if now - entry.failed_at < self._backoff:
                raise IDPCommunicationError(COMMUNICATION_MESSAGE)
            if forced:
                entry.forced_at = now
            try:
                keys, ttl = self._fetch(issuer, cache_key[1])
            except Exception as exc:  # noqa: BLE001 - any failure to fetch is the IdP's, reported as such
                entry.failed_at = self._clock()
                if self._on_error is not None:
                    self._on_error(issuer, exc)
                raise IDPCommunicationError(COMMUNICATION_MESSAGE) from None
            done = self._clock()
            entry.keys, entry.fetched_at, entry.expires_at = keys, done, done + ttl
            entry.fetches += 1
        finally:
            lock.release()
        found = _select(entry.keys, kid, alg)
        if found is None:
            raise invalid(UNKNOWN_KEY_MESSAGE)
        return found.key

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._locks.clear()


def _select(keys: tuple[SigningKey, ...], kid: str | None, alg: str) -> SigningKey | None:
    if kid is not None:
        for key in keys:
            if key.kid == kid:
                return key if key.fits(alg) else None
        return None
    fitting = [k for k in keys if k.fits(alg)]
    return fitting[0] if len(fitting) == 1 else None


def _may_appear(keys: tuple[SigningKey, ...], kid: str | None) -> bool:
    """Whether refreshing could help: a kid the cached set lacks (not one it has with another type)."""
    if kid is None:
        return False
    return all(k.kid != kid for k in keys)


def log_fetch_error(issuer: str, exc: Exception) -> None:
    """The runtime's JwksCache reports failed fetches here (callers see only IDPCommunicationError)."""
    log.warning("OIDC key fetch for %s failed: %s", issuer, exc)


# --- Session facts carried by the token ----------------------------------------------------------
class ClaimError(ValueError):
    """An ``https://aws.amazon.com/...`` claim is malformed."""


def session_tags_claim(claims: Mapping[str, Any]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """``{"principal_tags": {"K": ["v"]}, "transitive_tag_keys": ["K"]}`` → (tags, transitive keys).

    Each tag has exactly one value (a one-element list, or a plain string).
    """
    raw = claims.get(AWS_TAGS_CLAIM)
    if raw is None:
        return (), ()
    if not isinstance(raw, dict):
        raise ClaimError("The https://aws.amazon.com/tags claim must be an object.")
    principal_tags = raw.get("principal_tags", {})
    transitive = raw.get("transitive_tag_keys", [])
    if not isinstance(principal_tags, dict) or not isinstance(transitive, list):
        raise ClaimError("The https://aws.amazon.com/tags claim is malformed.")
    tags: list[tuple[str, str]] = []
    for key, value in principal_tags.items():
        if isinstance(value, list):
            if len(value) != 1:
                raise ClaimError(f"Session tag {key!r} must have exactly one value.")
            value = value[0]
        if not isinstance(value, str):
            raise ClaimError(f"Session tag {key!r} must have a string value.")
        tags.append((key, value))
    if not all(isinstance(k, str) for k in transitive):
        raise ClaimError("transitive_tag_keys must be a list of strings.")
    return tuple(tags), tuple(transitive)


def source_identity_claim(claims: Mapping[str, Any]) -> str | None:
    value = claims.get(AWS_SOURCE_IDENTITY_CLAIM)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClaimError("The https://aws.amazon.com/source_identity claim must be a string.")
    return value
