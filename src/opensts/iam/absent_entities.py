"""IAM entities OpenSTS does not have: instance profiles, console passwords, account aliases,
password policies.

Tools that manage users and roles (Terraform's AWS provider among them) read or clean these up
before deleting a user or role; an InvalidAction there would fail the whole operation. So the
reads answer truthfully — an empty list, or NoSuchEntity for a single item — after the usual
authorization, and nothing can be created. The parameters are validated as AWS does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import NoSuchEntity
from opensts.fields import NoParameters
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import authorized_role, authorized_user


# --- Requests (botocore: ListInstanceProfilesForRoleRequest, ...) and results ------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ListInstanceProfilesForRoleRequest:
    role_name: str = fields.role_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInstanceProfilesRequest:
    path_prefix: str = fields.path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginProfileRequest:
    """GetLoginProfile, DeleteLoginProfile."""

    user_name: str = fields.user_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAccountAliasesRequest:
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True)
class ListInstanceProfilesResult:
    instance_profiles: list[Any] = field(default_factory=list)
    is_truncated: bool = False


@dataclass(frozen=True, slots=True)
class ListAccountAliasesResult:
    account_aliases: list[Any] = field(default_factory=list)
    is_truncated: bool = False


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "ListInstanceProfilesForRole", request=ListInstanceProfilesForRoleRequest)
def list_instance_profiles_for_role(
    ctx: ActionContext, request: ListInstanceProfilesForRoleRequest
) -> ListInstanceProfilesResult:
    authorized_role(ctx, "ListInstanceProfilesForRole", request.role_name)
    return ListInstanceProfilesResult()


@action("iam", "ListInstanceProfiles", request=ListInstanceProfilesRequest)
def list_instance_profiles(ctx: ActionContext, request: ListInstanceProfilesRequest) -> ListInstanceProfilesResult:
    resource = resource_arn(caller_account(ctx), "instance-profile", "", request.path_prefix)
    authorize_iam(ctx, "ListInstanceProfiles", resource)
    return ListInstanceProfilesResult()


def _no_login_profile(ctx: ActionContext, action_name: str, name: str) -> None:
    user = authorized_user(ctx, action_name, name)
    raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")


@action("iam", "GetLoginProfile", request=LoginProfileRequest)
def get_login_profile(ctx: ActionContext, request: LoginProfileRequest) -> None:
    _no_login_profile(ctx, "GetLoginProfile", request.user_name)


# A write in AWS's sense (CloudTrail's readOnly is false), though here it never finds anything.
@action("iam", "DeleteLoginProfile", request=LoginProfileRequest, writes=True)
def delete_login_profile(ctx: ActionContext, request: LoginProfileRequest) -> None:
    _no_login_profile(ctx, "DeleteLoginProfile", request.user_name)


@action("iam", "ListAccountAliases", request=ListAccountAliasesRequest)
def list_account_aliases(ctx: ActionContext, request: ListAccountAliasesRequest) -> ListAccountAliasesResult:
    authorize_iam(ctx, "ListAccountAliases", "*")
    return ListAccountAliasesResult()


@action("iam", "GetAccountPasswordPolicy", request=NoParameters)
def get_account_password_policy(ctx: ActionContext, request: NoParameters) -> None:
    authorize_iam(ctx, "GetAccountPasswordPolicy", "*")
    raise NoSuchEntity(f"The Password Policy with domain name {caller_account(ctx)} cannot be found.")
