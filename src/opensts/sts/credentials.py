"""Issuing temporary credentials: a fresh ASIA key id and secret, sealed into a session token.

The token carries everything needed to authenticate and authorize later requests (see
``tokens/session_token.py``); nothing is stored. Also: the result shapes the issuing actions share,
and PackedPolicySize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from opensts.errors import PackedPolicyTooLarge
from opensts.fields import FINGERPRINTED_SECRET_FIELD, SECRET_FIELD
from opensts.identity import ids
from opensts.tokens.session_token import SessionClaims, encode_session_token, packed_policy_size_percent

if TYPE_CHECKING:
    from opensts.runtime import Runtime


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
) -> Credentials:
    issued = int(issued_at.timestamp())
    expires = issued + duration_seconds
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
    )
    token = encode_session_token(claims, runtime.keyring)
    return Credentials(
        claims.access_key_id, claims.secret_access_key, token, datetime.fromtimestamp(expires, timezone.utc)
    )
