"""The federation endpoint: temporary credentials become a console session
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_enable-console-custom-url.html).

``GET /federation?Action=getSigninToken&Session=<JSON>[&SessionDuration=<seconds>]`` answers
``{"SigninToken": "..."}``. ``Session`` is ``{"sessionId": <access key id>, "sessionKey": <secret
access key>, "sessionToken": <session token>}``: temporary credentials this server issued with
AssumeRole, AssumeRoleWithWebIdentity, AssumeRoleWithSAML or GetFederationToken (as at AWS,
GetSessionToken's are refused), unexpired, whose secret matches. The sign-in token is random,
single-use and valid :data:`SIGNIN_TOKEN_SECONDS` (15 minutes); the store keeps only its SHA-256.

``GET /federation?Action=login&SigninToken=<token>&Destination=<console URL>`` shows a page whose
"Continue" button POSTs the token (with the sign-in form's CSRF token) to be redeemed for a console
session with exactly those credentials' permissions (``sessions.py``), then goes to the destination,
which must be a page of this console (no open redirect). *Deviation*: AWS signs in on the GET itself;
a GET that opens a session would let any site sign a browser in to the attacker's session (login
CSRF), and a ``SameSite=Strict`` cookie set during another site's navigation would not be sent on
its redirect.

*Deviation*: at AWS, ``SessionDuration`` (900–43,200 s, default 43,200) sets the console session's
length independently of the credentials'. Here a console session signs its calls with the
credentials, so it ends when they expire: ``SessionDuration`` can only shorten it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from opensts.console.errors import InvalidSession, InvalidSigninToken
from opensts.credentials_cache import decoded_session_token
from opensts.runtime import Runtime
from opensts.store.console_sessions import SigninGrant
from opensts.tokens.errors import InvalidSessionToken
from opensts.tokens.session_token import MAX_TOKEN_CHARS, SessionClaims

SIGNIN_TOKEN_SECONDS = 900
MIN_SESSION_DURATION, MAX_SESSION_DURATION = 900, 43200
MAX_SESSION_CHARS = MAX_TOKEN_CHARS + 1024  # the Session parameter: a token and two short strings
FEDERATED_KINDS = frozenset({"assumed-role", "federated-user"})
NOT_TEMPORARY = "The Session must hold temporary credentials from AssumeRole*, or GetFederationToken."
BAD_SESSION = "The Session parameter is not valid JSON with sessionId, sessionKey and sessionToken."
BAD_CREDENTIALS = "The credentials in the Session are invalid."
EXPIRED = "The credentials in the Session have expired."
BAD_TOKEN = "The sign-in token is invalid, expired or already used."


@dataclass(frozen=True, slots=True)
class FederationSession:
    """getSigninToken's ``Session`` parameter."""

    session_id: str
    session_key: str = field(repr=False)
    session_token: str = field(repr=False)


def parse_session(text: str) -> FederationSession:
    if len(text) > MAX_SESSION_CHARS:
        raise InvalidSession(BAD_SESSION)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurd nesting
        raise InvalidSession(BAD_SESSION) from None
    if not isinstance(data, dict):
        raise InvalidSession(BAD_SESSION)
    values = [data.get(name) for name in ("sessionId", "sessionKey", "sessionToken")]
    if not all(isinstance(value, str) and value for value in values):
        raise InvalidSession(BAD_SESSION)
    return FederationSession(*values)  # type: ignore[arg-type]


def session_duration(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not MIN_SESSION_DURATION <= int(text) <= MAX_SESSION_DURATION:
        raise InvalidSession(f"SessionDuration must be between {MIN_SESSION_DURATION} and {MAX_SESSION_DURATION} seconds.")
    return int(text)


def session_claims(runtime: Runtime, session_token: str) -> SessionClaims:
    """The claims of a session token this server issued; InvalidSession otherwise (blocking: may
    reload the key ring)."""
    memo = runtime.caches.session_tokens  # the edge's: a page's token is decoded once, not per page
    try:
        return decoded_session_token(session_token, runtime.keyring, memo)
    except InvalidSessionToken as exc:
        if exc.reason != "unknown-key":
            raise InvalidSession(BAD_CREDENTIALS) from None
    try:  # another node may have rotated keys since this one last looked
        return decoded_session_token(session_token, runtime.reload_keyring_if_stale(), memo)
    except InvalidSessionToken:
        raise InvalidSession(BAD_CREDENTIALS) from None


def get_signin_token(runtime: Runtime, session: FederationSession, duration: int | None, now: datetime) -> str:
    """A new single-use sign-in token for these credentials (blocking: one store write)."""
    claims = session_claims(runtime, session.session_token)
    if claims.expires_at <= now.timestamp():
        raise InvalidSession(EXPIRED)
    if claims.kind not in FEDERATED_KINDS:
        raise InvalidSession(NOT_TEMPORARY)
    if not (
        hmac.compare_digest(claims.access_key_id.encode(), session.session_id.encode())
        and hmac.compare_digest(claims.secret_access_key.encode(), session.session_key.encode())
    ):
        raise InvalidSession(BAD_CREDENTIALS)
    session_ends = datetime.fromtimestamp(claims.expires_at, timezone.utc)
    if duration is not None:
        session_ends = min(session_ends, now + timedelta(seconds=duration))
    return issue_signin_token(runtime, session.session_token, session_ends, now)


def issue_signin_token(runtime: Runtime, session_token: str, session_ends: datetime, now: datetime,
                       lifetime: int = SIGNIN_TOKEN_SECONDS) -> str:
    """A new single-use token that :func:`redeem_signin_token` turns into a console session for
    these credentials (the federation endpoint's, and a sign-in paused for a password change)."""
    token = secrets.token_urlsafe(48)
    runtime.store.console.add_signin_token(token_hash(token), session_token, session_ends, now + timedelta(seconds=lifetime))
    return token


def redeem_signin_token(runtime: Runtime, token: str, now: datetime, kinds: frozenset[str]) -> SigninGrant:
    """The grant of a sign-in token, which can never be redeemed again (blocking). ``kinds``: the
    session kinds this redemption accepts, so that a token is good only for its own purpose (the
    federation endpoint's are role and federated-user sessions; a sign-in paused for a password
    change holds a ``console-user`` session, which must not open without the change)."""
    if not token or len(token) > 256:
        raise InvalidSigninToken(BAD_TOKEN)
    grant = runtime.store.console.redeem_signin_token(token_hash(token), now)
    if grant is None or grant.session_expires_at <= now:
        raise InvalidSigninToken(BAD_TOKEN)
    try:
        kind = session_claims(runtime, grant.session_token).kind
    except InvalidSession:
        raise InvalidSigninToken(BAD_TOKEN) from None
    if kind not in kinds:
        raise InvalidSigninToken(BAD_TOKEN)
    return grant


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
