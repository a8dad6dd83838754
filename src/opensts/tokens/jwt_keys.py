"""Signing keys of the JSON Web Tokens OpenSTS issues (GetWebIdentityToken), their rotation and JWKS.

One key set per deployment, shared by every account's issuer (each account has its own issuer URL,
``iss``, and verifiers check it: a token of one account never passes as another's). Two algorithms,
each with its own keys: ``RS256`` (RSA 2048, e = 65537) and ``ES384`` (ECDSA on P-384). Private keys
are PKCS#8 DER sealed under the master key (purpose ``"jwt-signing-key"``); the public half is kept
beside them as a JWK (RFC 7517) so that serving the JWKS never unseals anything. A key's ``kid`` is
its RFC 7638 JWK thumbprint (SHA-256, base64url): the same key has the same id on every node.

Rotation is data, as for the session-token key ring (``keyring.py``): the store keeps one row per key,
``(kid, algorithm, sealed private key, public JWK, created_at, active, not_after)``, and calls the
pure functions below, which return the complete new set of rows:

* :func:`missing_jwt_key_records` -- first need: one active key per algorithm that has none.
* :func:`rotate_jwt_key_records` -- a new active key per algorithm; each previously active key becomes
  *retired* with ``not_after = now + PUBLISH_AHEAD + MAX_TOKEN_LIFETIME + RETIREMENT_GRACE``, and rows
  whose ``not_after`` has passed are dropped.

Every row whose ``not_after`` has not passed is published in the JWKS (:func:`published_jwks`), so a
retired key stays there until every token it signed has expired. A new key is *published before it
signs*: :func:`signing_key_id` picks the newest key that has been published for ``PUBLISH_AHEAD``
seconds (longer than the JWKS's ``Cache-Control: max-age`` plus a node's reload) and outlives a token
signed now, so a verifier holding a cached JWKS, fetched from any node, already knows the key of every
token it is shown. Only when no key qualifies (a new deployment) does the newest active key sign at once.

Times are integer epoch seconds. This module imports nothing else of OpenSTS but its own package.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .errors import KeyRingError
from .master_key import MasterKey

__all__ = [
    "ALGORITHMS",
    "JwtKeyRecord",
    "JwtSigner",
    "MAX_TOKEN_LIFETIME",
    "PUBLISH_AHEAD",
    "PURPOSE_JWT_SIGNING_KEY",
    "RETIREMENT_GRACE",
    "jwt_rotation_due",
    "missing_jwt_key_records",
    "new_jwt_key_record",
    "prune_jwt_key_records",
    "published_jwks",
    "rotate_jwt_key_records",
    "signing_key_id",
]

PURPOSE_JWT_SIGNING_KEY = "jwt-signing-key"
ALGORITHMS = ("RS256", "ES384")
RSA_BITS = 2048
MAX_TOKEN_LIFETIME = 3600  # seconds: GetWebIdentityToken's longest DurationSeconds
# A new key is published this long before it signs: more than a JWKS response may be cached
# (max-age 300 s, server/oidc_issuer.py) plus the time a node takes to see a rotation.
PUBLISH_AHEAD = 600
RETIREMENT_GRACE = 300  # seconds of slack for clock skew between nodes and verifiers
DEFAULT_MAX_KEY_AGE = 30 * 24 * 3600


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_fixed(value: int, size: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode("ascii")


def public_jwk(private_key: Any, algorithm: str) -> dict[str, str]:
    """The public JWK of ``private_key`` with ``kid`` (RFC 7638 thumbprint), ``use`` and ``alg``."""
    if algorithm == "RS256":
        numbers = private_key.public_key().public_numbers()
        essential = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    elif algorithm == "ES384":
        numbers = private_key.public_key().public_numbers()
        essential = {"crv": "P-384", "kty": "EC", "x": _b64url_fixed(numbers.x, 48), "y": _b64url_fixed(numbers.y, 48)}
    else:
        raise KeyRingError(f"unsupported JWT algorithm {algorithm!r}")
    # RFC 7638: the required members, sorted, no whitespace, hashed with SHA-256.
    canonical = json.dumps(essential, sort_keys=True, separators=(",", ":")).encode("ascii")
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")
    return {**essential, "kid": kid, "use": "sig", "alg": algorithm}


@dataclass(frozen=True, slots=True)
class JwtKeyRecord:
    """One persisted JWT signing key. ``not_after``: None while active; else when it leaves the JWKS."""

    key_id: str
    algorithm: str
    sealed_key: bytes = field(repr=False)
    public_jwk: str  # JSON text of the public JWK (with kid, use, alg)
    created_at: int
    active: bool
    not_after: int | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise KeyRingError(f"unsupported JWT algorithm {self.algorithm!r}")

    def published(self, now: int) -> bool:
        return self.not_after is None or self.not_after > now


def _generate(algorithm: str) -> Any:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if algorithm == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    raise KeyRingError(f"unsupported JWT algorithm {algorithm!r}")


def new_jwt_key_record(master_key: MasterKey, algorithm: str, now: int) -> JwtKeyRecord:
    """A fresh key of ``algorithm``, sealed under ``master_key``, as an active row."""
    private_key = _generate(algorithm)
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    jwk = public_jwk(private_key, algorithm)
    return JwtKeyRecord(
        jwk["kid"], algorithm, master_key.seal(der, PURPOSE_JWT_SIGNING_KEY),
        json.dumps(jwk, separators=(",", ":")), int(now), True, None,
    )


def prune_jwt_key_records(records: Iterable[JwtKeyRecord], now: int) -> tuple[JwtKeyRecord, ...]:
    """Drop retired rows whose ``not_after`` has passed (no token they signed is still valid)."""
    return tuple(r for r in records if r.published(now))


def missing_jwt_key_records(
    records: Sequence[JwtKeyRecord], master_key: MasterKey, now: int
) -> tuple[JwtKeyRecord, ...] | None:
    """The rows with an active key added for every algorithm that has none; None when all have one."""
    have = {r.algorithm for r in records if r.active}
    missing = [alg for alg in ALGORITHMS if alg not in have]
    if not missing:
        return None
    return (*(new_jwt_key_record(master_key, alg, now) for alg in missing), *prune_jwt_key_records(records, now))


def rotate_jwt_key_records(
    records: Iterable[JwtKeyRecord], master_key: MasterKey, now: int
) -> tuple[JwtKeyRecord, ...]:
    """The rows after a rotation: a new active key per algorithm, the previous ones retired (still
    published, and signing until the new ones have been published for ``PUBLISH_AHEAD``)."""
    now = int(now)
    retire_at = now + PUBLISH_AHEAD + MAX_TOKEN_LIFETIME + RETIREMENT_GRACE
    kept = [
        replace(r, active=False, not_after=retire_at if r.not_after is None else min(r.not_after, retire_at))
        if r.active or r.not_after is None else r
        for r in records
    ]
    new = [new_jwt_key_record(master_key, alg, now) for alg in ALGORITHMS]
    return (*new, *prune_jwt_key_records(kept, now))


def jwt_rotation_due(records: Iterable[JwtKeyRecord], now: int, max_age: int = DEFAULT_MAX_KEY_AGE) -> bool:
    """True when some algorithm's active key is older than ``max_age`` (keys exist: see ``missing``)."""
    actives = [r for r in records if r.active]
    return bool(actives) and any(now - r.created_at >= max_age for r in actives)


def published_jwks(records: Iterable[JwtKeyRecord], now: int) -> dict[str, list[dict[str, Any]]]:
    """The JWKS document: the public JWK of every key not yet past its ``not_after``, newest first."""
    rows = sorted((r for r in records if r.published(now)), key=lambda r: (-r.created_at, r.key_id))
    return {"keys": [json.loads(r.public_jwk) for r in rows]}


def signing_key_id(records: Iterable[JwtKeyRecord], algorithm: str, now: int) -> str:
    """The kid that signs a token of ``algorithm`` issued at ``now`` (see the module)."""
    rows = [r for r in records if r.algorithm == algorithm and r.published(now)]
    ready = [
        r for r in rows
        if now - r.created_at >= PUBLISH_AHEAD and (r.not_after is None or now + MAX_TOKEN_LIFETIME < r.not_after)
    ]
    pool = ready or [r for r in rows if r.active]
    if not pool:
        raise KeyRingError(f"no {algorithm} signing key")
    return max(pool, key=lambda r: (r.created_at, r.key_id)).key_id


class JwtSigner:
    """Unsealed private keys by kid, opened once each (RSA key loading costs about a millisecond)."""

    __slots__ = ("_master_key", "_keys")

    MAX_KEYS = 64  # far more than are ever published at once; the map is emptied past it

    def __init__(self, master_key: MasterKey) -> None:
        self._master_key = master_key
        self._keys: dict[str, Any] = {}

    def _private_key(self, record: JwtKeyRecord) -> Any:
        key = self._keys.get(record.key_id)
        if key is None:
            der = self._master_key.open(record.sealed_key, PURPOSE_JWT_SIGNING_KEY)
            key = serialization.load_der_private_key(der, password=None)
            if len(self._keys) >= self.MAX_KEYS:
                self._keys.clear()
            self._keys[record.key_id] = key
        return key

    def sign(self, records: Sequence[JwtKeyRecord], algorithm: str, payload: Mapping[str, Any], now: int) -> tuple[str, str]:
        """``(compact JWS, kid)``: ``payload`` signed with the key :func:`signing_key_id` picks."""
        kid = signing_key_id(records, algorithm, now)
        record = next(r for r in records if r.key_id == kid)
        token = jwt.encode(dict(payload), self._private_key(record), algorithm=algorithm, headers={"kid": kid, "typ": "JWT"})
        return token, kid
