"""Authenticating a request: SigV4 signature → key (long-term or session token) → Caller.

Long-term keys come from the credential cache (the store on a miss, in a worker thread). Session
credentials need no database read at all: the session token carries the secret and the claims,
sealed by the key ring. Decoded tokens and the Callers of long-term keys are remembered in the
runtime's caches (``session_tokens``, ``callers``).
"""

from __future__ import annotations

from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from opensts.actions import ActionContext

from opensts.cache import BoundedCache
from opensts.credentials_cache import decoded_session_token
from opensts.errors import ExpiredToken, InvalidClientTokenId, SignatureDoesNotMatch, Throttling
from opensts.identity import arn
from opensts.identity.principal import Caller, PrincipalKind
from opensts.runtime import Runtime
from opensts.server.forwarded import client_address
from opensts.server.sigv4 import HttpRequest, SignatureInfo, verify_signature
from opensts.store.records import Credential
from opensts.tokens.errors import InvalidSessionToken
from opensts.tokens.session_token import SessionClaims

INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"

_SESSION_KINDS = {
    "assumed-role": PrincipalKind.ASSUMED_ROLE,
    "federated-user": PrincipalKind.FEDERATED_USER,
    "session": PrincipalKind.USER,
    "root-session": PrincipalKind.ROOT,
    "console-user": PrincipalKind.USER,
    "console-root": PrincipalKind.ROOT,
}


async def authenticate(
    runtime: Runtime, request: HttpRequest, info: SignatureInfo, now: datetime, source: str | None = None
) -> Caller:
    """Verify a parsed signature and return who made the request.

    With the request's ``source`` address, failed signatures are counted (``brute_force.py``); a
    failure whose address or key id is blocked is answered Throttling instead, uncounted."""
    guard = runtime.guard
    if source is None or not guard.enabled:
        return await _authenticate(runtime, request, info, now)
    try:
        return await _authenticate(runtime, request, info, now)
    except (InvalidClientTokenId, SignatureDoesNotMatch) as failure:
        # An unknown key id (or session token) counts for the address only: no row per invented id.
        subjects = guard.signature_subjects(info.access_key_id, source, not isinstance(failure, InvalidClientTokenId))
        if not subjects:
            raise
        moment = now.timestamp()
        if guard.refuses_failure(subjects, moment):
            raise Throttling() from None
        if not await run_in_threadpool(guard.count_failure, subjects, moment):
            raise Throttling() from None
        raise


async def _authenticate(runtime: Runtime, request: HttpRequest, info: SignatureInfo, now: datetime) -> Caller:
    allowed = runtime.settings.allowed_regions
    if allowed and info.region not in allowed:
        raise SignatureDoesNotMatch(f"Credential should be scoped to a valid region. Region '{info.region}' is not enabled.")
    if info.security_token is not None:
        claims = await session_claims(runtime, info, now)
        verify_signature(request, info, claims.secret_access_key, now)
        return caller_from_session(claims)
    if info.access_key_id.startswith("ASIA"):
        # Temporary key ids are only valid together with their session token.
        raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
    credential = await runtime.credentials.get(info.access_key_id)
    if credential is None or not credential.active:
        raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
    verify_signature(request, info, credential.secret_access_key, now)
    runtime.store.access_key_use.note(credential.access_key_id, now, info.service, info.region)  # memory only
    return caller_from_credential(credential, runtime.caches.callers)


async def session_claims(runtime: Runtime, info: SignatureInfo, now: datetime) -> SessionClaims:
    token = info.security_token or ""
    memo = runtime.caches.session_tokens
    try:
        claims = decoded_session_token(token, runtime.keyring, memo)
    except InvalidSessionToken as exc:
        if exc.reason != "unknown-key":
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE) from None
        # Perhaps another node rotated keys since we last looked: reload (rate-limited) and retry.
        keyring = await run_in_threadpool(runtime.reload_keyring_if_stale)
        try:
            claims = decoded_session_token(token, keyring, memo)
        except InvalidSessionToken:
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE) from None
    if claims.access_key_id != info.access_key_id:
        raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
    if claims.expires_at <= now.timestamp():
        raise ExpiredToken(EXPIRED_TOKEN_MESSAGE)
    return claims


def caller_from_credential(credential: Credential, memo: BoundedCache[str, tuple[Credential, Caller]]) -> Caller:
    """The Caller for a long-term key, remembered while the credential cache hands out the same credential."""
    entry = memo.get(credential.access_key_id)
    if entry is not None and entry[0] is credential:
        return entry[1]
    return memo.put(credential.access_key_id, (credential, _caller_from_credential(credential)))[1]


def _caller_from_credential(credential: Credential) -> Caller:
    account = credential.account_id
    if credential.is_root:
        return Caller(PrincipalKind.ROOT, account, arn.root_arn(account), account, credential.access_key_id)
    return Caller(
        PrincipalKind.USER,
        account,
        arn.user_arn(account, credential.user_name or "", credential.user_path or "/"),
        credential.user_id or "",
        credential.access_key_id,
        entity_id=credential.user_id,
        user_name=credential.user_name,
    )


def caller_from_session(claims: SessionClaims) -> Caller:
    kind = _SESSION_KINDS.get(claims.kind)
    if kind is None:
        raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
    user_name = arn.Arn.parse(claims.source_arn).resource_name if kind is PrincipalKind.USER else None
    return Caller(
        kind,
        claims.account_id,
        claims.principal_arn,
        claims.principal_id,
        claims.access_key_id,
        entity_id=claims.source_id,
        user_name=user_name,
        session=claims,
    )


def action_context(
    runtime: Runtime, caller: Caller | None, now: datetime, request_id: str, scope: Scope, region: str
) -> ActionContext:
    """The context an action runs with: who called, when, from where (the edge's view of the request)."""
    return ActionContext(
        runtime=runtime,
        caller=caller,
        request_time=now,
        request_id=request_id,
        source_ip=client_address(scope),
        region=region,
        secure_transport=scope.get("scheme") == "https",
    )
