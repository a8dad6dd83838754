"""IAM users' console passwords: CreateLoginProfile, GetLoginProfile, UpdateLoginProfile,
DeleteLoginProfile and ChangePassword (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateLoginProfile.html
and the pages beside it).

A password is kept only as an argon2id hash (``store/iam_passwords.py``); the Password fields are
marked secret on the requests, so logs and the audit trail never carry them, and no result has one.
The web console's sign-in (a separate feature) checks passwords with
``opensts.store.iam_passwords.verify_password`` and applies PasswordResetRequired, MaxPasswordAge
(``password_expired``) and HardExpiry itself.

**Authorization.** ``iam:ACTION`` on the user's ARN before anything is said about the user or its
profile. ChangePassword is ``iam:ChangePassword`` on the caller's own user; when the account's
password policy says AllowUsersToChangePassword, every IAM user has it without a policy of its own,
as AWS documents: it counts as one more identity-policy Allow, so an explicit Deny, a permissions
boundary, session policies and credential scopes still limit it. Every ChangePassword try is counted
by the brute-force guard against the user's password before the old password is checked, and
forgiven when right (``brute_force.py``): beyond 10 wrong ones, ``Throttling`` for a doubling delay.

**The password policy applies to every password set** — by an administrator (Create/
UpdateLoginProfile) or by the user (ChangePassword): ``PasswordPolicyViolation`` "Password does not
conform to the account password policy." With a policy: its minimum length, the character classes it
requires (symbols are AWS's ``! @ # $ % ^ & * ( ) _ + - = [ ] { } | '``), and PasswordReusePrevention
(the new password may not be any of the user's N most recent ones, the current one included). With
none, AWS's default policy: 8 to 128 characters, at least three of uppercase letters, lowercase
letters, digits and those symbols, and not identical to the account's name.

**Errors.** A missing user: NoSuchEntity "The user with name X cannot be found."; no profile:
NoSuchEntity "Login Profile for User X cannot be found."; a second profile: EntityAlreadyExists
"Login Profile for user X already exists."; ChangePassword by the account root or by a role or
federated session: InvalidUserType; a wrong OldPassword: AccessDenied "Either user is not authorized
to perform iam:ChangePassword or entered password is not valid".

Deviations from AWS:

- The omitted-UserName forms name the calling IAM user, as AWS's do; AWS's root-only form (an
  AssumeRoot session managing the root user's own password, CreateLoginProfile then without
  Password) does not exist here, since OpenSTS has no AssumeRoot and no root password: the root
  without UserName gets ValidationError "Must specify userName when calling with non-User
  credentials", and Password is required by CreateLoginProfile.
- The texts of InvalidUserType and of UpdateLoginProfile's InvalidInput (MaxSigninSessionDuration
  together with ResetMaxSigninSessionDuration) are OpenSTS's own; AWS does not document them.
- AWS answers EntityTemporarilyUnmodifiable for a user deleted and re-created moments ago; OpenSTS
  never needs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import AccessDenied, AwsError, EntityAlreadyExists, InvalidInput, NoSuchEntity, ValidationError
from opensts.fields import boolean, integer, text
from opensts.iam import fields
from opensts.iam.common import authorize_iam_account_grant
from opensts.iam.entities import NON_USER_CREDENTIALS, authorized_user, calling_user, no_such_user, user_arn
from opensts.identity.principal import PrincipalKind
from opensts.store.errors import EntityExists
from opensts.store.iam_account_settings import PasswordPolicyRecord
from opensts.store.iam_passwords import hash_password, password_matches
from opensts.store.iam_users import UserRecord

# passwordType in botocore's model.
PASSWORD_PATTERN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"
MIN_SIGNIN_SESSION, MAX_SIGNIN_SESSION = 3600, 7776000  # maxSigninSessionDurationType
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
DEFAULT_MIN_LENGTH, DEFAULT_MIN_CLASSES = 8, 3  # AWS's default password policy
POLICY_VIOLATION = "Password does not conform to the account password policy."
WRONG_OLD_PASSWORD = "Either user is not authorized to perform iam:ChangePassword or entered password is not valid"


class PasswordPolicyViolation(AwsError):
    code, status = "PasswordPolicyViolation", 400


class InvalidUserType(AwsError):
    code, status = "InvalidUserType", 400


def _password(name: str = "Password", *, required: bool = True) -> Any:
    return text(name, required=required, min_len=1, max_len=128, pattern=PASSWORD_PATTERN, secret=True)


def _signin_session() -> Any:
    return integer("MaxSigninSessionDuration", min_value=MIN_SIGNIN_SESSION, max_value=MAX_SIGNIN_SESSION)


# --- Requests (botocore: CreateLoginProfileRequest, ...) and results --------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateLoginProfileRequest:
    user_name: str | None = fields.user_name(required=False, max_len=64)
    password: str = _password()
    password_reset_required: bool = boolean("PasswordResetRequired", default=False)
    max_signin_session_duration: int | None = _signin_session()


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginProfileRequest:
    """GetLoginProfile, DeleteLoginProfile: UserName optional (the calling user's)."""

    user_name: str | None = fields.user_name(required=False, max_len=64)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateLoginProfileRequest:
    user_name: str = fields.user_name(max_len=64)
    password: str | None = _password(required=False)
    password_reset_required: bool | None = boolean("PasswordResetRequired")
    max_signin_session_duration: int | None = _signin_session()
    reset_max_signin_session_duration: bool | None = boolean("ResetMaxSigninSessionDuration")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePasswordRequest:
    old_password: str = _password("OldPassword")
    new_password: str = _password("NewPassword")


@dataclass(frozen=True, slots=True)
class LoginProfile:
    user_name: str
    create_date: datetime
    password_reset_required: bool
    max_signin_session_duration: int | None = None


@dataclass(frozen=True, slots=True)
class LoginProfileResult:
    """CreateLoginProfile, GetLoginProfile."""

    login_profile: LoginProfile


# --- The password policy -----------------------------------------------------------------------------
def _classes(password: str) -> tuple[bool, bool, bool, bool]:
    """(uppercase, lowercase, digit, symbol): which of AWS's character classes ``password`` has."""
    return (
        any("A" <= c <= "Z" for c in password),
        any("a" <= c <= "z" for c in password),
        any("0" <= c <= "9" for c in password),
        any(c in SYMBOLS for c in password),
    )


def conforms(password: str, policy: PasswordPolicyRecord | None, account_name: str | None) -> bool:
    """Whether ``password`` meets the account's policy (None: AWS's default policy). Reuse is
    checked apart (:func:`_check_reuse`), since it needs the user's history."""
    upper, lower, digit, symbol = _classes(password)
    if policy is None:
        return (
            len(password) >= DEFAULT_MIN_LENGTH
            and sum((upper, lower, digit, symbol)) >= DEFAULT_MIN_CLASSES
            and password != account_name
        )
    return (
        len(password) >= policy.minimum_password_length
        and (upper or not policy.require_uppercase_characters)
        and (lower or not policy.require_lowercase_characters)
        and (digit or not policy.require_numbers)
        and (symbol or not policy.require_symbols)
    )


def _checked_hash(ctx: ActionContext, user: UserRecord, password: str) -> str:
    """The hash to store for ``password``, once it conforms to the account's policy (its
    character rules, then PasswordReusePrevention against the user's recent passwords)."""
    store = ctx.runtime.store
    policy = store.account_settings.password_policy(user.account_id)
    account = store.accounts.get(user.account_id) if policy is None else None
    if not conforms(password, policy, account.name if account else None):
        raise PasswordPolicyViolation(POLICY_VIOLATION)
    if policy is not None and policy.password_reuse_prevention:
        # Bounded: at most 24 hashes (passwordReusePreventionType's maximum).
        for previous in store.passwords.recent_hashes(user.user_id, policy.password_reuse_prevention):
            if password_matches(previous, password):
                raise PasswordPolicyViolation(POLICY_VIOLATION)
    return hash_password(password)


# --- Whose profile ------------------------------------------------------------------------------------
def no_login_profile(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Login Profile for User {name} cannot be found.")


def _target_user(ctx: ActionContext, action_name: str, name: str | None) -> UserRecord:
    """The user named (authorized, must exist), else the calling IAM user (authorized on itself)."""
    if name is not None:
        return authorized_user(ctx, action_name, name)
    user = calling_user(ctx)
    if user is None:  # the account root: AWS wants an AssumeRoot session here, which OpenSTS has not
        raise ValidationError(NON_USER_CREDENTIALS)
    return authorized_user(ctx, action_name, user.name)


def _shape(user: UserRecord, created_at: datetime, reset_required: bool, max_session: int | None) -> LoginProfileResult:
    return LoginProfileResult(LoginProfile(user.name, created_at, reset_required, max_session))


# --- Actions ------------------------------------------------------------------------------------------
@action("iam", "CreateLoginProfile", request=CreateLoginProfileRequest, writes=True)
def create_login_profile(ctx: ActionContext, request: CreateLoginProfileRequest) -> LoginProfileResult:
    user = _target_user(ctx, "CreateLoginProfile", request.user_name)
    passwords = ctx.runtime.store.passwords
    if passwords.get(user.user_id) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    password_hash = _checked_hash(ctx, user, request.password)
    try:
        profile = passwords.create(
            user.user_id, user.account_id, password_hash, reset_required=request.password_reset_required,
            max_signin_session_duration=request.max_signin_session_duration, now=ctx.request_time,
        )
    except EntityExists:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.") from None
    return _shape(user, profile.created_at, profile.password_reset_required, profile.max_signin_session_duration)


@action("iam", "GetLoginProfile", request=LoginProfileRequest)
def get_login_profile(ctx: ActionContext, request: LoginProfileRequest) -> LoginProfileResult:
    user = _target_user(ctx, "GetLoginProfile", request.user_name)
    profile = ctx.runtime.store.passwords.get(user.user_id)
    if profile is None:
        raise no_login_profile(user.name)
    return _shape(user, profile.created_at, profile.password_reset_required, profile.max_signin_session_duration)


@action("iam", "UpdateLoginProfile", request=UpdateLoginProfileRequest, writes=True)
def update_login_profile(ctx: ActionContext, request: UpdateLoginProfileRequest) -> None:
    if request.max_signin_session_duration is not None and request.reset_max_signin_session_duration:
        raise InvalidInput("MaxSigninSessionDuration cannot be specified with ResetMaxSigninSessionDuration set to true.")
    user = authorized_user(ctx, "UpdateLoginProfile", request.user_name)
    passwords = ctx.runtime.store.passwords
    if passwords.get(user.user_id) is None:
        raise no_login_profile(user.name)
    password_hash = _checked_hash(ctx, user, request.password) if request.password is not None else None
    if request.reset_max_signin_session_duration:
        updated = passwords.update(
            user.user_id, now=ctx.request_time, password_hash=password_hash,
            reset_required=request.password_reset_required, max_signin_session_duration=None,
        )
    elif request.max_signin_session_duration is not None:
        updated = passwords.update(
            user.user_id, now=ctx.request_time, password_hash=password_hash,
            reset_required=request.password_reset_required,
            max_signin_session_duration=request.max_signin_session_duration,
        )
    else:
        updated = passwords.update(
            user.user_id, now=ctx.request_time, password_hash=password_hash,
            reset_required=request.password_reset_required,
        )
    if not updated:  # deleted meanwhile
        raise no_login_profile(user.name)


# A write in AWS's sense (CloudTrail's readOnly is false).
@action("iam", "DeleteLoginProfile", request=LoginProfileRequest, writes=True)
def delete_login_profile(ctx: ActionContext, request: LoginProfileRequest) -> None:
    user = _target_user(ctx, "DeleteLoginProfile", request.user_name)
    if not ctx.runtime.store.passwords.delete(user.user_id):
        raise no_login_profile(user.name)


@action("iam", "ChangePassword", request=ChangePasswordRequest, writes=True)
def change_password(ctx: ActionContext, request: ChangePasswordRequest) -> None:
    caller = ctx.caller
    assert caller is not None
    if caller.kind is not PrincipalKind.USER or not caller.entity_id:
        raise InvalidUserType("Only IAM users can change their own password with ChangePassword.")
    store = ctx.runtime.store
    user = store.users.get_by_id(caller.entity_id)
    if user is None:
        raise no_such_user(caller.user_name or caller.entity_id)
    policy = store.account_settings.password_policy(user.account_id)
    granted = policy is not None and policy.allow_users_to_change_password
    authorize_iam_account_grant(ctx, "ChangePassword", user_arn(user), granted=granted)
    profile = store.passwords.get(user.user_id)
    if profile is None:
        raise no_login_profile(user.name)
    # Each try is counted before the password is checked (Throttling while the user's password is
    # blocked) and forgiven when right, as MFA codes are (brute_force.py): a stolen access key
    # must not become an oracle for the console password.
    guard, subjects = ctx.runtime.guard, ctx.runtime.guard.password_subjects(user.user_id)
    guard.begin_attempt(subjects, ctx.request_time.timestamp())
    if not password_matches(profile.password_hash, request.old_password):
        raise AccessDenied(WRONG_OLD_PASSWORD)
    guard.forgive(subjects)
    password_hash = _checked_hash(ctx, user, request.new_password)
    # The user has chosen a password of its own: no reset is pending any more.
    if not store.passwords.update(user.user_id, now=ctx.request_time, password_hash=password_hash, reset_required=False):
        raise no_login_profile(user.name)
