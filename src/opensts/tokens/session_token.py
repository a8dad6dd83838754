"""The session-token codec: everything needed to verify a request made with temporary credentials.

A session token is an authenticated-encrypted blob (DESIGN.md, "Stateless sessions"). Any server
holding the key ring decodes it with no database read for the session itself; the policies of the
role/user it derives from are looked up by ``source_arn`` (and checked against ``source_id``, so a
role deleted and re-created with the same name does not inherit old sessions).

Wire format, version 1 (then standard base64 with padding, like AWS's tokens)::

    offset  size  field
    0       1     version = 0x01
    1       4     key id (the ring key's 8 hex chars as 4 bytes)
    5       12    nonce (random)
    17      n+16  AES-256-GCM( key = HKDF-SHA256(ring key, info=b"opensts/v1/session-token"),
                               aad = b"opensts/v1/session-token" || bytes 0..4,
                               plaintext = raw DEFLATE (preset dictionary ZDICT_V1) of compact UTF-8 JSON )

Small payloads go as a single DEFLATE stored block (see ``STORED_MAX``): the same format, any
inflater reads it.

The JSON is an object with short keys (see ``_FIELDS``); empty/None/False optional fields are left
out. A new field or a change of meaning needs a new version byte; a decoder rejects versions and
keys it does not know (fail closed), so during a rolling upgrade old nodes reject new-format tokens
rather than misread them.

Version 2 (0x02) is version 1 with two more keys, and everything else unchanged (key derivation,
AAD, dictionary): ``sc``, the scope-down policies of GetScopedCredentials (a list of 1-3 policy
texts, each of which must allow every later request), and ``pd``, padding (a string of ``0``,
ignored) that makes the token at least ``min_size`` characters long (``MinimumSessionTokenSize``).
A token is written as version 2 only when it has one of those keys, so every other token stays
version 1 and is read by nodes that know only version 1; such a node refuses a version-2 token
(as it must: it would drop the scope-down policies). Version-1 tokens are read as before.

Padding sits inside the sealed payload, so it cannot be stripped without breaking the tag. A
padded payload is sent as one stored block (not compressed) so that its size is exact: the token
is then the smallest multiple of 4 characters at or above ``min_size`` -- or the unpadded token,
when that is already long enough.

**Expiry is not checked here.** :func:`decode_session_token` only proves the token is authentic and
well formed; the caller compares ``claims.expires_at`` with its clock and answers ``ExpiredToken``.

Every failure to decode raises :class:`InvalidSessionToken` (with a ``reason``) -- never another
exception, whatever the input.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any, Iterable

from . import compact_json, hazmat
from .deflate import stored_block, stored_block_payload
from .errors import InvalidSessionToken
from .keyring import KeyRing, SigningKey

__all__ = [
    "SessionClaims",
    "InvalidSessionToken",
    "encode_session_token",
    "decode_session_token",
    "packed_policy_size_percent",
    "packed_policy_size",
    "PACKED_POLICY_BUDGET",
    "KINDS",
    "MAX_TOKEN_CHARS",
    "MAX_SCOPE_POLICIES",
    "MAX_MIN_SIZE",
]

# Appended only: a kind travels as its index here.
KINDS = ("assumed-role", "federated-user", "session", "root-session", "console-user", "console-root")
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}

VERSION_V1 = 0x01
VERSION_V2 = 0x02  # v1 + "sc" (scope-down policies) and "pd" (padding): see the module's text
_LABEL = b"opensts/v1/session-token"  # the same key derivation and AAD prefix for both versions
_VERSION_BYTE = bytes((VERSION_V1,))
_VERSION_BYTE_V2 = bytes((VERSION_V2,))
MAX_SCOPE_POLICIES = 3  # GetScopedCredentials layers a session may carry
MAX_MIN_SIZE = 4096  # the largest MinimumSessionTokenSize
_HEADER_SIZE = 5
_MIN_RAW = _HEADER_SIZE + hazmat.NONCE_SIZE + hazmat.TAG_SIZE
MAX_TOKEN_CHARS = 64 * 1024  # defensive cap on input; issuers never exceed 32 KiB (sts/credentials.py)
_MAX_PAYLOAD = 1024 * 1024  # cap on the inflated payload

# Preset DEFLATE dictionary of format v1: strings most tokens repeat. PART OF THE WIRE FORMAT --
# never edit it; a new dictionary needs a new version byte (a test pins its SHA-256).
ZDICT_V1 = (
    '"Condition":{"StringEquals":{"aws:PrincipalTag/"}},"StringLike":{"aws:RequestTag/"}}"Bool":{"aws:'
    'MultiFactorAuthPresent":"true"}}"NotAction":"NotResource":"Principal":{"AWS":"*"}'
    '{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Deny","Action":["iam:*","sts:AssumeRole",'
    '"ec2:Describe*","s3:ListBucket","s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::'
    '*"]},{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    '"at":[["saml:sub","saml:aud","https://signin.aws.amazon.com/saml"]]"fp":"oidc-provider/'
    'saml-provider/"pa":["arn:aws:iam::aws:policy/ReadOnlyAccess","arn:aws:iam::'
    ':policy/"],"so":"","tt":["team","project","department","cost-center"],"tg":[["'
    '{"k":"ASIA","s":"","a":"","t":0,"p":"arn:aws:sts::'
    ':federated-user/:assumed-role/","i":"AROA","sa":"arn:aws:iam::'
    ':root:user/:role/","si":"AIDA","ia":17,"ea":17,"m":17,"rc":1,'
).encode("ascii")

# JSON key -> attribute name. Order here is the serialisation order.
_FIELDS = (
    ("k", "access_key_id"),
    ("s", "secret_access_key"),
    ("a", "account_id"),
    ("t", "kind"),
    ("p", "principal_arn"),
    ("i", "principal_id"),
    ("sa", "source_arn"),
    ("si", "source_id"),
    ("ia", "issued_at"),
    ("ea", "expires_at"),
    ("m", "mfa_authenticated_at"),
    ("so", "source_identity"),
    ("tg", "tags"),
    ("tt", "transitive_tag_keys"),
    ("sp", "session_policy"),
    ("pa", "policy_arns"),
    ("rc", "role_chained"),
    ("fp", "federated_provider"),
    ("at", "attributes"),
    ("sc", "scope_policies"),  # version 2 only
)
_REQUIRED = frozenset(("k", "s", "a", "t", "p", "i", "sa", "si", "ia", "ea"))
_KNOWN_V2 = frozenset(k for k, _ in _FIELDS) | {"pd"}
_V2_ONLY = frozenset(("sc", "pd"))
_KNOWN = _KNOWN_V2 - _V2_ONLY  # version 1


def _is_int(v: object) -> bool:
    return type(v) is int


def _str_tuple(v: Any, name: str) -> tuple[str, ...]:
    out: tuple[str, ...] = tuple(v)
    for x in out:
        if type(x) is not str:
            raise TypeError(f"{name} must hold strings")
    return out


def _pair_tuple(v: Any, name: str) -> tuple[tuple[str, str], ...]:
    out = []
    for p in v:
        p = tuple(p)
        if len(p) != 2 or type(p[0]) is not str or type(p[1]) is not str:
            raise TypeError(f"{name} must hold (str, str) pairs")
        out.append(p)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a session token says. Times are integer epoch seconds (UTC).

    ``kind``: ``"assumed-role"`` (AssumeRole*), ``"federated-user"`` (GetFederationToken),
    ``"session"`` (GetSessionToken of an IAM user), ``"root-session"`` (GetSessionToken of root),
    ``"console-user"`` / ``"console-root"`` (a web-console sign-in with a password or root's keys:
    the principal's own permissions, never handed to the browser; ``opensts.console``).
    ``source_arn``/``source_id``: the role or user (or root) the session derives from; its policies
    are looked up, not frozen here. ``attributes``: extra condition keys (e.g. web-identity / SAML
    claims) as ``(key, value)`` pairs; a key may repeat for multi-valued keys.
    ``scope_policies``: the scope-down policies of GetScopedCredentials, oldest first (at most
    :data:`MAX_SCOPE_POLICIES`); each must allow a request, on top of everything else.
    """

    access_key_id: str
    secret_access_key: str
    account_id: str
    kind: str
    principal_arn: str
    principal_id: str
    source_arn: str
    source_id: str
    issued_at: int
    expires_at: int
    mfa_authenticated_at: int | None = None
    source_identity: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    session_policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    role_chained: bool = False
    federated_provider: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    scope_policies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (type(self.access_key_id) is str and type(self.secret_access_key) is str  # noqa: E721 - exact types
                and type(self.account_id) is str and type(self.principal_arn) is str
                and type(self.principal_id) is str and type(self.source_arn) is str and type(self.source_id) is str):
            for name in ("access_key_id", "secret_access_key", "account_id", "principal_arn", "principal_id",
                         "source_arn", "source_id"):
                if type(getattr(self, name)) is not str:
                    raise TypeError(f"{name} must be a string")
        if not self.access_key_id or not self.secret_access_key:
            raise ValueError("access_key_id and secret_access_key must not be empty")
        if self.kind not in _KIND_CODE:
            raise ValueError(f"kind must be one of {KINDS}")
        if not (_is_int(self.issued_at) and _is_int(self.expires_at)):
            raise TypeError("issued_at and expires_at must be int epoch seconds")
        if self.issued_at < 0 or self.expires_at < self.issued_at:
            raise ValueError("need 0 <= issued_at <= expires_at")
        if self.mfa_authenticated_at is not None and not _is_int(self.mfa_authenticated_at):
            raise TypeError("mfa_authenticated_at must be int or None")
        for name, v in (("source_identity", self.source_identity), ("session_policy", self.session_policy),
                        ("federated_provider", self.federated_provider)):
            if v is not None and type(v) is not str:
                raise TypeError(f"{name} must be a string or None")
        if type(self.role_chained) is not bool:
            raise TypeError("role_chained must be a bool")
        # accept any iterables (lists from callers), keep tuples (hashable, immutable)
        if type(self.tags) is not tuple or self.tags:
            object.__setattr__(self, "tags", _pair_tuple(self.tags, "tags"))
        if type(self.attributes) is not tuple or self.attributes:
            object.__setattr__(self, "attributes", _pair_tuple(self.attributes, "attributes"))
        if type(self.transitive_tag_keys) is not tuple or self.transitive_tag_keys:
            object.__setattr__(self, "transitive_tag_keys", _str_tuple(self.transitive_tag_keys, "transitive_tag_keys"))
        if type(self.policy_arns) is not tuple or self.policy_arns:
            object.__setattr__(self, "policy_arns", _str_tuple(self.policy_arns, "policy_arns"))
        if type(self.scope_policies) is not tuple or self.scope_policies:
            object.__setattr__(self, "scope_policies", _str_tuple(self.scope_policies, "scope_policies"))
            if len(self.scope_policies) > MAX_SCOPE_POLICIES:
                raise ValueError(f"at most {MAX_SCOPE_POLICIES} scope_policies")

    def __repr__(self) -> str:  # never print the secret
        return (f"SessionClaims(access_key_id={self.access_key_id!r}, kind={self.kind!r}, "
                f"principal_arn={self.principal_arn!r}, expires_at={self.expires_at})")

    # -- small conveniences for the authorization layer --------------------------------------
    @property
    def mfa_present(self) -> bool:
        return self.mfa_authenticated_at is not None

    def mfa_age(self, now: int) -> int | None:
        """Seconds since MFA authentication (``aws:MultiFactorAuthAge``), None without MFA."""
        return None if self.mfa_authenticated_at is None else max(0, int(now) - self.mfa_authenticated_at)

    def is_expired(self, now: float) -> bool:
        return now >= self.expires_at


# -- encoding ---------------------------------------------------------------------------------------
def _to_wire(c: SessionClaims) -> dict[str, Any]:
    d: dict[str, Any] = {
        "k": c.access_key_id, "s": c.secret_access_key, "a": c.account_id, "t": _KIND_CODE[c.kind],
        "p": c.principal_arn, "i": c.principal_id, "sa": c.source_arn, "si": c.source_id,
        "ia": c.issued_at, "ea": c.expires_at,
    }
    if c.mfa_authenticated_at is not None:
        d["m"] = c.mfa_authenticated_at
    if c.source_identity is not None:
        d["so"] = c.source_identity
    if c.tags:
        d["tg"] = c.tags
    if c.transitive_tag_keys:
        d["tt"] = c.transitive_tag_keys
    if c.session_policy is not None:
        d["sp"] = c.session_policy
    if c.policy_arns:
        d["pa"] = c.policy_arns
    if c.role_chained:
        d["rc"] = 1
    if c.federated_provider is not None:
        d["fp"] = c.federated_provider
    if c.attributes:
        d["at"] = c.attributes
    if c.scope_policies:
        d["sc"] = c.scope_policies
    return d


# Payloads up to this size (a session without policies, tags or claims: ~300 bytes) are sent as one
# DEFLATE *stored* block: still the v1 format, but building it costs nothing, while running the
# compressor costs more than the AES-GCM seal and the JSON together. Larger payloads are compressed.
STORED_MAX = 400



def _deflate(data: bytes) -> bytes:
    if len(data) <= STORED_MAX:
        return stored_block(data)
    # memLevel 8: memLevel 9's larger buffers cost ~40 us of allocation per call for nothing here
    co = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, ZDICT_V1)
    return co.compress(data) + co.flush()


def _inflate(data: bytes) -> bytes:
    stored = stored_block_payload(data, STORED_MAX)
    if stored is not None:
        return stored  # one final stored block spanning the whole stream: what zlib would inflate
    d = zlib.decompressobj(-15, ZDICT_V1)
    payload = d.decompress(data, _MAX_PAYLOAD)
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise ValueError("bad deflate stream")
    return payload


def encode_session_token(claims: SessionClaims, keyring: KeyRing, *, min_size: int = 0) -> str:
    """Encrypt ``claims`` under the ring's active key. Returns standard base64 text of at least
    ``min_size`` characters (0-:data:`MAX_MIN_SIZE`; padding inside the sealed payload)."""
    if not isinstance(claims, SessionClaims):
        raise TypeError("claims must be SessionClaims")
    if type(min_size) is not int or not 0 <= min_size <= MAX_MIN_SIZE:
        raise ValueError(f"min_size must be an int 0-{MAX_MIN_SIZE}")
    wire = _to_wire(claims)
    key = keyring.active
    version = _VERSION_BYTE_V2 if claims.scope_policies else _VERSION_BYTE
    token = _seal(key, version, _deflate(compact_json.dumps(wire)))
    if len(token) >= min_size:
        return token
    # Too short: pad. The claims stay compressed (a non-final block, flushed to a byte boundary) and
    # the padding follows them in a final stored block, whose size is exact: ...,"pd":"000..."}.
    # (Sending everything stored would make a well-compressed token grow to its raw size instead.)
    # 4 * ceil(raw / 3) >= min_size  <=>  raw >= 3 * ceil(min_size / 4) - 2
    need_raw = 3 * -(-min_size // 4) - 2
    body = compact_json.dumps(wire)
    assert body.endswith(b"}") and len(body) > 2  # an object with members: the padding goes last
    co = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, ZDICT_V1)
    claims_part = co.compress(body[:-1]) + co.flush(zlib.Z_SYNC_FLUSH)
    bare_tail = b',"pd":""}'
    pad = max(0, need_raw - _OVERHEAD - len(claims_part) - _STORED_HEADER - len(bare_tail))
    tail = b',"pd":"' + b"0" * pad + b'"}'
    token = _seal(key, _VERSION_BYTE_V2, claims_part + stored_block(tail))
    assert len(token) >= min_size
    return token


_OVERHEAD = _MIN_RAW  # header, nonce and tag around the sealed payload
_STORED_HEADER = 5  # a stored block's BFINAL/BTYPE, LEN and NLEN


def _seal(key: SigningKey, version: bytes, deflated: bytes) -> str:
    header = version + key.raw_id
    raw = header + hazmat.seal(key._session_aead, deflated, _LABEL + header)
    return base64.b64encode(raw).decode("ascii")


# -- decoding ---------------------------------------------------------------------------------------
def _bad(reason: str, detail: str = "", key_id: str | None = None) -> InvalidSessionToken:
    return InvalidSessionToken(reason, detail, key_id=key_id)


def decode_session_token(token: str, keyring: KeyRing) -> SessionClaims:
    """Verify and decrypt ``token``. Raises :class:`InvalidSessionToken` for anything wrong.

    Does NOT check expiry: compare ``expires_at`` with the clock (``ExpiredToken``).
    """
    if type(token) is not str:
        raise _bad(InvalidSessionToken.MALFORMED, "not a string")
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise _bad(InvalidSessionToken.MALFORMED, "empty or too long")
    try:
        text = token.encode("ascii")
        raw = base64.b64decode(text, validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _bad(InvalidSessionToken.MALFORMED, "not base64") from None
    # one canonical spelling per token (no alternative padding bits)
    if len(raw) < _MIN_RAW or base64.b64encode(raw) != text:
        raise _bad(InvalidSessionToken.MALFORMED, "truncated or not canonical base64")
    if raw[0] != VERSION_V1 and raw[0] != VERSION_V2:
        raise _bad(InvalidSessionToken.VERSION, f"version {raw[0]}")
    header = raw[:_HEADER_SIZE]
    key = keyring.get_raw(header[1:])
    if key is None:
        raise _bad(InvalidSessionToken.UNKNOWN_KEY, "key id not in the key ring", header[1:].hex())
    try:
        compressed = key._session_aead.decrypt(raw[_HEADER_SIZE:_HEADER_SIZE + hazmat.NONCE_SIZE],
                                               raw[_HEADER_SIZE + hazmat.NONCE_SIZE:], _LABEL + header)
    except hazmat.InvalidTag:
        raise _bad(InvalidSessionToken.AUTHENTICATION, "does not verify", key.key_id) from None
    try:
        return _from_wire(json.loads(_inflate(compressed).decode("utf-8", "surrogatepass")), raw[0])
    except Exception as exc:  # authenticated but unreadable: a bug or a foreign format, never a crash
        raise _bad(InvalidSessionToken.PAYLOAD, type(exc).__name__, key.key_id) from None


def _from_wire(d: Any, version: int = VERSION_V1) -> SessionClaims:
    known = _KNOWN_V2 if version == VERSION_V2 else _KNOWN
    if type(d) is not dict or not _REQUIRED.issubset(d) or not known.issuperset(d):
        raise ValueError("wrong fields")
    if type(d.get("pd", "")) is not str:
        raise ValueError("pd")
    kind = d["t"]
    if type(kind) is not int or not 0 <= kind < len(KINDS):
        raise ValueError("kind")
    rc = d.get("rc", 0)
    if rc not in (0, 1) or type(rc) is not int:
        raise ValueError("rc")
    return SessionClaims(
        access_key_id=d["k"], secret_access_key=d["s"], account_id=d["a"], kind=KINDS[kind],
        principal_arn=d["p"], principal_id=d["i"], source_arn=d["sa"], source_id=d["si"],
        issued_at=d["ia"], expires_at=d["ea"], mfa_authenticated_at=d.get("m"),
        source_identity=d.get("so"), tags=d.get("tg", ()), transitive_tag_keys=d.get("tt", ()),
        session_policy=d.get("sp"), policy_arns=d.get("pa", ()), role_chained=rc == 1,
        federated_provider=d.get("fp"), attributes=d.get("at", ()), scope_policies=d.get("sc", ()),
    )


# -- PackedPolicySize (ours) ------------------------------------------------------------------------
PACKED_POLICY_BUDGET = 2048  # bytes of packed (compressed) policies and tags = 100 %


def _canonical_policy(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        return text.strip()


def packed_policy_size(session_policy: str | None, policy_arns: Iterable[str] = (),
                       tags: Iterable[tuple[str, str]] = ()) -> int:
    """Bytes of the packed form (see :func:`packed_policy_size_percent`)."""
    arns = sorted(policy_arns)
    tag_list = sorted(([k, v] for k, v in tags), key=lambda kv: (kv[0].lower(), kv[0], kv[1]))
    if session_policy is None and not arns and not tag_list:
        return 0
    doc = {"p": _canonical_policy(session_policy) if session_policy is not None else "", "a": arns, "t": tag_list}
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return len(zlib.compress(data, 9, -15))


def packed_policy_size_percent(session_policy: str | None, policy_arns: Iterable[str] = (),
                               tags: Iterable[tuple[str, str]] = ()) -> int:
    """PackedPolicySize: the session policies and tags, packed, as a percentage of the budget (ours).

    Packing (stable; also in docs/SESSION-TOKENS.md):

    1. the inline policy is re-serialised as compact JSON (``json.dumps(json.loads(p),
       separators=(",", ":"), ensure_ascii=False)``, key order kept); if it is not JSON, its
       stripped text is used;
    2. the canonical document is ``{"p": POLICY or "", "a": sorted(policy_arns), "t": [[key, value],
       ...]}`` with tags sorted by (lower-cased key, key, value), as compact UTF-8 JSON;
    3. it is compressed with raw DEFLATE: ``zlib.compress(data, level=9, wbits=-15)`` (memLevel 8,
       default strategy, no dictionary);
    4. percent = ceil(100 * compressed_bytes / 2048). No policy, no ARNs and no tags give 0.

    Over 100 means ``PackedPolicyTooLarge``. A typical 2048-character policy with a few tags lands
    around 15-35 %; ten policy ARNs, fifty long tags and a large policy exceed 100.
    """
    size = packed_policy_size(session_policy, policy_arns, tags)
    return math.ceil(size * 100 / PACKED_POLICY_BUDGET)
