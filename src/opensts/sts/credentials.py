"""Issuing temporary credentials: a fresh ASIA key id and secret, sealed into a session token.

The token carries everything needed to authenticate and authorize later requests (see
``tokens/session_token.py``); nothing is stored. Also: the result shapes the issuing actions share,
PackedPolicySize, and the token-size fields every issuing action has: ``MinimumSessionTokenSize``
(0-4,096; the token is padded inside its sealed payload to at least that many characters),
``SessionTokenSize`` (the token's length in bytes: base64 text, one byte a character) and
``SessionTokenUtilization`` (that size as a percentage of :data:`MAX_SESSION_TOKEN_SIZE`, rounded
up). OpenSTS never issues a token longer than :data:`MAX_SESSION_TOKEN_SIZE`: one that would be is
refused with ``PackedPolicyTooLarge`` (AWS's error for a session token over its maximum size).
Every combination of inputs within the documented limits fits (docs/SESSION-TOKENS.md, and a test
that builds the largest such token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from opensts.errors import PackedPolicyTooLarge
from opensts.fields import FINGERPRINTED_SECRET_FIELD, SECRET_FIELD
from opensts.identity import ids
from opensts.tokens.session_token import SessionClaims, encode_session_token, packed_policy_size_percent

if TYPE_CHECKING:
    from opensts.runtime import Runtime

# The longest session token OpenSTS issues, in bytes (characters of base64). The largest token the
# input limits allow measures about 18,200 (docs/SESSION-TOKENS.md); the rest is margin for
# federation claims in multi-byte UTF-8. Well within what the edge accepts (64 KiB of headers).
MAX_SESSION_TOKEN_SIZE = 32768


def token_size_fields(credentials: "Credentials") -> tuple[int, int]:
    """(SessionTokenUtilization, SessionTokenSize) of issued credentials."""
    size = len(credentials.session_token)
    return min(100, math.ceil(size * 100 / MAX_SESSION_TOKEN_SIZE)), size


def too_large(size: int) -> PackedPolicyTooLarge:
    return PackedPolicyTooLarge(
        f"The session token is {size} bytes, more than the maximum allowed size of {MAX_SESSION_TOKEN_SIZE} bytes. "
        "Session policies, session tags and scope-down policies add to its size."
    )


@dataclass(frozen=True, slots=True)
class Credentials:
    """The ``Credentials`` of every issuing action's result:
    https://docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html"""

    access_key_id: str
    # Marked secret (fields.redacted hides them) and kept out of repr() (tracebacks, debug logs).
    secret_access_key: str = field(repr=False, metadata=SECRET_FIELD)
    session_token: str = field(repr=False, metadata=FINGERPRINTED_SECRET_FIELD)  # traced by its SHA-256
    expiration: datetime


@dataclass(frozen=True, slots=True)
class AssumedRoleUser:
    assumed_role_id: str
    arn: str


@dataclass(frozen=True, slots=True)
class FederatedUser:
    federated_user_id: str
    arn: str


def packed_size(policy: str | None, policy_arns: tuple[str, ...], tags: tuple[tuple[str, str], ...]) -> int | None:
    """PackedPolicySize in percent, or None when no session policy or tag was passed (AWS omits it)."""
    if policy is None and not policy_arns and not tags:
        return None
    percent = packed_policy_size_percent(policy, policy_arns, tags)
    if percent > 100:
        raise PackedPolicyTooLarge(
            f"Packed size of consumed session policies and session tags exceeds the limit ({percent}% of the allowed size)."
        )
    return percent


def issue(
    runtime: "Runtime",
    *,
    account_id: str,
    kind: str,
    principal_arn: str,
    principal_id: str,
    source_arn: str,
    source_id: str,
    issued_at: datetime,
    duration_seconds: int,
    mfa_authenticated_at: int | None = None,
    source_identity: str | None = None,
    tags: tuple[tuple[str, str], ...] = (),
    transitive_tag_keys: tuple[str, ...] = (),
    session_policy: str | None = None,
    policy_arns: tuple[str, ...] = (),
    role_chained: bool = False,
    federated_provider: str | None = None,
    attributes: tuple[tuple[str, str], ...] = (),
    scope_policies: tuple[str, ...] = (),
    min_token_size: int | None = None,
    expires_at: int | None = None,
) -> Credentials:
    """New credentials for these claims, expiring ``duration_seconds`` after ``issued_at`` (or at
    ``expires_at`` when given). PackedPolicyTooLarge if the token would exceed the maximum size."""
    issued = int(issued_at.timestamp())
    expires = issued + duration_seconds if expires_at is None else expires_at
    access_key_id, secret_access_key = ids.new_temporary_key_pair(account_id)
    claims = SessionClaims(
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        account_id=account_id,
        kind=kind,
        principal_arn=principal_arn,
        principal_id=principal_id,
        source_arn=source_arn,
        source_id=source_id,
        issued_at=issued,
        expires_at=expires,
        mfa_authenticated_at=mfa_authenticated_at,
        source_identity=source_identity,
        tags=tags,
        transitive_tag_keys=transitive_tag_keys,
        session_policy=session_policy,
        policy_arns=policy_arns,
        role_chained=role_chained,
        federated_provider=federated_provider,
        attributes=attributes,
        scope_policies=scope_policies,
    )
    token = encode_session_token(claims, runtime.keyring, min_size=min_token_size or 0)
    if len(token) > MAX_SESSION_TOKEN_SIZE:
        raise too_large(len(token))
    return Credentials(
        claims.access_key_id, claims.secret_access_key, token, datetime.fromtimestamp(expires, timezone.utc)
    )


def reissue(
    runtime: "Runtime",
    claims: SessionClaims,
    *,
    expires_at: int,
    scope_policies: tuple[str, ...],
    min_token_size: int | None = None,
) -> Credentials:
    """New credentials for the same session (GetScopedCredentials): a fresh key pair, every claim
    kept, the given expiry and scope-down policies. The issue time is the session's own: a Deny on
    ``aws:TokenIssueTime`` that revokes a session revokes every scoped copy of it too (a fresh time
    would let a stolen session escape its revocation)."""
    access_key_id, secret_access_key = ids.new_temporary_key_pair(claims.account_id)
    new = replace(
        claims, access_key_id=access_key_id, secret_access_key=secret_access_key,
        expires_at=expires_at, scope_policies=scope_policies,
    )
    token = encode_session_token(new, runtime.keyring, min_size=min_token_size or 0)
    if len(token) > MAX_SESSION_TOKEN_SIZE:
        raise too_large(len(token))
    return Credentials(access_key_id, secret_access_key, token, datetime.fromtimestamp(expires_at, timezone.utc))
