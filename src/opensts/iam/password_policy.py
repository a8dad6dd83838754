"""The account password policy: GetAccountPasswordPolicy, UpdateAccountPasswordPolicy,
DeleteAccountPasswordPolicy (https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccountPasswordPolicy.html).

UpdateAccountPasswordPolicy replaces the whole policy: every member left out takes AWS's default
(MinimumPasswordLength 6, the Require* and AllowUsersToChangePassword false, MaxPasswordAge 0 —
passwords never expire —, PasswordReusePrevention 0, HardExpiry false), with the model's limits
(MinimumPasswordLength 6-128, MaxPasswordAge 1-1095, PasswordReusePrevention 1-24; the 0 defaults
cannot be sent, as AWS says). GetAccountPasswordPolicy reports ExpirePasswords (true when
MaxPasswordAge is set) and leaves out MaxPasswordAge, PasswordReusePrevention and HardExpiry when
they were not given. With no policy set it answers NoSuchEntity "The Password Policy with domain name
ACCOUNT cannot be found." and passwords follow AWS's default policy (``iam/login_profiles.py``).

The policy is enforced on every password set (``iam/login_profiles.py``); MaxPasswordAge and
HardExpiry are the web console's sign-in to apply (``store/iam_passwords.py: password_expired``): a
user whose password has expired must change it there, and may always change it with ChangePassword
over the API, as AWS documents.

Authorization: ``iam:ACTION`` on ``*`` (the service authorization reference names no resource for
these actions). When the policy says AllowUsersToChangePassword, every IAM user of the account may
call GetAccountPasswordPolicy without a policy of its own, as AWS documents (an explicit Deny still
denies).
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import NoSuchEntity
from opensts.fields import NoParameters, boolean, integer
from opensts.iam.common import authorize_iam, authorize_iam_account_grant, caller_account
from opensts.identity.principal import PrincipalKind
from opensts.store.iam_account_settings import PasswordPolicyRecord


# --- Requests (botocore: UpdateAccountPasswordPolicyRequest) and results ------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateAccountPasswordPolicyRequest:
    minimum_password_length: int = integer("MinimumPasswordLength", min_value=6, max_value=128, default=6)
    require_symbols: bool = boolean("RequireSymbols", default=False)
    require_numbers: bool = boolean("RequireNumbers", default=False)
    require_uppercase_characters: bool = boolean("RequireUppercaseCharacters", default=False)
    require_lowercase_characters: bool = boolean("RequireLowercaseCharacters", default=False)
    allow_users_to_change_password: bool = boolean("AllowUsersToChangePassword", default=False)
    max_password_age: int | None = integer("MaxPasswordAge", min_value=1, max_value=1095)
    password_reuse_prevention: int | None = integer("PasswordReusePrevention", min_value=1, max_value=24)
    hard_expiry: bool | None = boolean("HardExpiry")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    minimum_password_length: int
    require_symbols: bool
    require_numbers: bool
    require_uppercase_characters: bool
    require_lowercase_characters: bool
    allow_users_to_change_password: bool
    expire_passwords: bool
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool | None = None


@dataclass(frozen=True, slots=True)
class GetAccountPasswordPolicyResult:
    password_policy: PasswordPolicy


def _shape(policy: PasswordPolicyRecord) -> PasswordPolicy:
    return PasswordPolicy(
        minimum_password_length=policy.minimum_password_length,
        require_symbols=policy.require_symbols,
        require_numbers=policy.require_numbers,
        require_uppercase_characters=policy.require_uppercase_characters,
        require_lowercase_characters=policy.require_lowercase_characters,
        allow_users_to_change_password=policy.allow_users_to_change_password,
        expire_passwords=bool(policy.max_password_age),
        max_password_age=policy.max_password_age,
        password_reuse_prevention=policy.password_reuse_prevention,
        hard_expiry=policy.hard_expiry,
    )


def no_password_policy(account: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Password Policy with domain name {account} cannot be found.")


# --- Actions ------------------------------------------------------------------------------------------
@action("iam", "GetAccountPasswordPolicy", request=NoParameters)
def get_account_password_policy(ctx: ActionContext, request: NoParameters) -> GetAccountPasswordPolicyResult:
    account = caller_account(ctx)
    assert ctx.caller is not None
    # Read first only to know whether the account grants its users this action; nothing is said
    # about the policy before the caller is authorized.
    policy = ctx.runtime.store.account_settings.password_policy(account)
    granted = policy is not None and policy.allow_users_to_change_password and ctx.caller.kind is PrincipalKind.USER
    authorize_iam_account_grant(ctx, "GetAccountPasswordPolicy", "*", granted=granted)
    if policy is None:
        raise no_password_policy(account)
    return GetAccountPasswordPolicyResult(_shape(policy))


@action("iam", "UpdateAccountPasswordPolicy", request=UpdateAccountPasswordPolicyRequest, writes=True)
def update_account_password_policy(ctx: ActionContext, request: UpdateAccountPasswordPolicyRequest) -> None:
    account = caller_account(ctx)
    authorize_iam(ctx, "UpdateAccountPasswordPolicy", "*")
    policy = PasswordPolicyRecord(
        minimum_password_length=request.minimum_password_length,
        require_symbols=request.require_symbols,
        require_numbers=request.require_numbers,
        require_uppercase_characters=request.require_uppercase_characters,
        require_lowercase_characters=request.require_lowercase_characters,
        allow_users_to_change_password=request.allow_users_to_change_password,
        max_password_age=request.max_password_age,
        password_reuse_prevention=request.password_reuse_prevention,
        hard_expiry=request.hard_expiry,
    )
    ctx.runtime.store.account_settings.put_password_policy(account, policy, ctx.request_time)


@action("iam", "DeleteAccountPasswordPolicy", request=NoParameters, writes=True)
def delete_account_password_policy(ctx: ActionContext, request: NoParameters) -> None:
    account = caller_account(ctx)
    authorize_iam(ctx, "DeleteAccountPasswordPolicy", "*")
    if not ctx.runtime.store.account_settings.delete_password_policy(account):
        raise no_password_policy(account)
