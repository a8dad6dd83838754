"""Signing in to the console with a password (IAM users) or the root's access key.

https://docs.aws.amazon.com/IAM/latest/UserGuide/console.html

**IAM user.** Account (its 12-digit id or its alias), user name and password, checked against the
user's login profile (``store/iam_passwords.py``: argon2id, the same work whether or not the user
exists). A user with an MFA device must also give a current code of one of its devices (each code is
accepted once). A password that must be changed (``PasswordResetRequired``, or older than the
account's ``MaxPasswordAge``) signs in with ``must_change_password`` set: the console then asks for a
new one and calls ChangePassword as the user before it opens the session, as AWS's sign-in page
does. Under the policy's ``HardExpiry`` an expired password is refused (:class:`PasswordChangeRequired`):
only an administrator can reset it. A successful sign-in records the
login profile's ``PasswordLastUsed`` (GetUser, the credential report).

**Root.** AWS's root signs in with an e-mail address and password, which OpenSTS's root does not
have: it signs in with one of its access keys (id and secret) instead.

Either way the session gets new temporary credentials of that principal, for
:data:`USER_SESSION_SECONDS` (or the login profile's ``MaxSigninSessionDuration``) or
:data:`ROOT_SESSION_SECONDS`: session kinds ``console-user`` / ``console-root``, which carry the
principal's own permissions (unlike GetSessionToken's, they may call IAM without MFA, as a console
user can) and, after an MFA code, ``aws:MultiFactorAuthPresent``. They are never shown to the browser.

Wrong passwords are counted against the account and user name as typed, from the address and from
anywhere (``BruteForceGuard.signin_subjects``: the same whether or not the user exists, so the
answers never tell), and against the address; wrong root secrets as bad signatures are; all are
slowed down by ``brute_force.py``; while
blocked, the attempt is refused (``Throttling``) before anything is checked. All functions here are
blocking (argon2 and store reads): the edge runs them in a worker thread.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime

from opensts.console.errors import WRONG_CREDENTIALS, MfaRequired, PasswordChangeRequired, SigninFailed
from opensts.errors import Throttling
from opensts.federation.mfa import check_mfa_code
from opensts.identity import arn as arns
from opensts.identity.ids import is_account_id
from opensts.runtime import Runtime
from opensts.store.iam_passwords import password_expired, verify_password
from opensts.sts.credentials import Credentials, issue

USER_SESSION_SECONDS = 12 * 3600  # the AWS console's default session for IAM users
ROOT_SESSION_SECONDS = 3600  # as GetSessionToken caps root sessions
MFA_REQUIRED = "This user has an MFA device: enter a current code from it."
HARD_EXPIRED = "Your password has expired. Ask an administrator to reset it."
_NO_ACCOUNT = "000000000000"  # an account nobody has: its lookups find nothing, at the same cost


@dataclass(frozen=True, slots=True)
class PasswordSignin:
    account: str  # the account's id or alias
    user_name: str
    password: str = field(repr=False)
    mfa_code: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RootSignin:
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ConsoleCredentials:
    """What a sign-in yields: the principal and its new temporary credentials."""

    account_id: str
    principal_arn: str
    credentials: Credentials = field(repr=False)
    must_change_password: bool = False


def sign_in_with_password(runtime: Runtime, signin: PasswordSignin, now: datetime, source_ip: str | None) -> ConsoleCredentials:
    store, guard = runtime.store, runtime.guard
    account_id = _account_id(runtime, signin.account)
    user = store.users.get(account_id, signin.user_name) if account_id != _NO_ACCOUNT else None
    subjects = guard.signin_subjects(signin.account.strip(), signin.user_name, source_ip)
    guard.begin_attempt(subjects, now.timestamp())  # Throttling while blocked: nothing is checked
    if not verify_password(store, account_id, signin.user_name, signin.password) or user is None:
        raise SigninFailed(WRONG_CREDENTIALS)
    guard.forgive(subjects)
    profile = store.passwords.get(user.user_id)
    assert profile is not None  # verify_password found it
    policy = store.account_settings.password_policy(account_id)
    expired = policy is not None and password_expired(profile.password_changed_at, policy.max_password_age, now)
    mfa_at = _check_mfa(runtime, user.user_id, signin.mfa_code, now, source_ip)
    if expired and policy is not None and policy.hard_expiry:  # after the MFA code: says the password was right
        raise PasswordChangeRequired(HARD_EXPIRED)
    store.passwords.record_use(user.user_id, now)
    user_arn = arns.user_arn(account_id, user.name, user.path)
    credentials = issue(
        runtime, account_id=account_id, kind="console-user", principal_arn=user_arn, principal_id=user.user_id,
        source_arn=user_arn, source_id=user.user_id, issued_at=now,
        duration_seconds=profile.max_signin_session_duration or USER_SESSION_SECONDS, mfa_authenticated_at=mfa_at,
    )
    return ConsoleCredentials(account_id, user_arn, credentials, profile.password_reset_required or expired)


def sign_in_as_root(runtime: Runtime, signin: RootSignin, now: datetime, source_ip: str | None) -> ConsoleCredentials:
    guard = runtime.guard
    credential = runtime.store.access_keys.get(signin.access_key_id) if signin.access_key_id.isalnum() else None
    subjects = guard.signature_subjects(signin.access_key_id, source_ip, credential is not None)
    if guard.refuses_failure(subjects, now.timestamp()):
        raise Throttling()
    if (
        credential is None
        or not credential.is_root
        or not credential.active
        or not hmac.compare_digest(credential.secret_access_key.encode(), signin.secret_access_key.encode())
    ):
        guard.count_failure(subjects, now.timestamp())
        raise SigninFailed(WRONG_CREDENTIALS)
    account_id = credential.account_id
    root_arn = arns.root_arn(account_id)
    credentials = issue(
        runtime, account_id=account_id, kind="console-root", principal_arn=root_arn, principal_id=account_id,
        source_arn=root_arn, source_id="", issued_at=now, duration_seconds=ROOT_SESSION_SECONDS,
    )
    return ConsoleCredentials(account_id, root_arn, credentials)


def _account_id(runtime: Runtime, account: str) -> str:
    account = account.strip()
    if is_account_id(account):
        return account
    if 3 <= len(account) <= 63:
        found = runtime.store.account_settings.account_for_alias(account.lower())
        if found is not None:
            return found
    return _NO_ACCOUNT


def _check_mfa(runtime: Runtime, user_id: str, code: str | None, now: datetime, source_ip: str | None) -> int | None:
    """None for a user without an enabled MFA device; else the time a code of one of its devices
    was accepted. MfaRequired without a code; SigninFailed for a wrong one (counted per device)."""
    devices = [d for d in runtime.store.mfa.for_user(user_id) if d.enabled_at is not None]
    if not devices:
        return None
    code = (code or "").strip()
    if not code:
        raise MfaRequired(MFA_REQUIRED)
    guard = runtime.guard
    for device in devices:
        subjects = guard.mfa_subjects(device.serial_number, source_ip, True)
        guard.begin_attempt(subjects, now.timestamp())
        if check_mfa_code(runtime.store.mfa, device.serial_number, user_id, code, now):
            guard.forgive(subjects)
            return int(now.timestamp())
    raise SigninFailed(WRONG_CREDENTIALS)
