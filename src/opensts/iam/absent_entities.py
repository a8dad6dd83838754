"""IAM entities OpenSTS does not have: instance profiles, console passwords, signing certificates,
SSH keys, service-specific credentials, account aliases, password policies.

Tools that manage users and roles (Terraform's AWS provider among them) read or clean these up
before deleting a user or role; an InvalidAction there would fail the whole operation. So the
reads answer truthfully — an empty list, or NoSuchEntity for a single item — after the usual
authorization, and nothing can be created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opensts.actions import ActionContext, Params, action
from opensts.errors import NoSuchEntity
from opensts.iam.common import authorize_iam, caller_account, read_pagination, read_path_prefix, resource_arn
from opensts.iam.roles import authorized_role, read_role_name
from opensts.iam.common import read_user_name
from opensts.iam.entities import authorized_user
from opensts.params import ParamReader


@dataclass(frozen=True, slots=True)
class ListInstanceProfilesResult:
    instance_profiles: list[Any] = field(default_factory=list)
    is_truncated: bool = False


@dataclass(frozen=True, slots=True)
class ListSigningCertificatesResult:
    certificates: list[Any] = field(default_factory=list)
    is_truncated: bool = False


@dataclass(frozen=True, slots=True)
class ListSSHPublicKeysResult:
    ssh_public_keys: list[Any] = field(default_factory=list, metadata={"xml": "SSHPublicKeys"})
    is_truncated: bool = False


@dataclass(frozen=True, slots=True)
class ListServiceSpecificCredentialsResult:
    service_specific_credentials: list[Any] = field(default_factory=list)
    is_truncated: bool = False


@dataclass(frozen=True, slots=True)
class ListAccountAliasesResult:
    account_aliases: list[Any] = field(default_factory=list)
    is_truncated: bool = False


def _user_scope(ctx: ActionContext, params: Params, action_name: str, *, extra: tuple[str, ...] = ()) -> None:
    """Validate and authorize a per-user listing (UserName optional: the calling user)."""
    reader = ParamReader(params)
    name = read_user_name(reader, required=False)
    read_pagination(reader)
    for optional in extra:
        reader.string(optional, max_len=1024)
    reader.done()
    if name is not None:
        authorized_user(ctx, action_name, name)
    elif ctx.caller is not None and ctx.caller.user_name:
        authorized_user(ctx, action_name, ctx.caller.user_name)
    else:
        authorize_iam(ctx, action_name, resource_arn(caller_account(ctx), "user", ""))


@action("iam", "ListInstanceProfilesForRole")
def list_instance_profiles_for_role(ctx: ActionContext, params: Params) -> ListInstanceProfilesResult:
    reader = ParamReader(params)
    name = read_role_name(reader)
    read_pagination(reader)
    reader.done()
    authorized_role(ctx, "ListInstanceProfilesForRole", name)
    return ListInstanceProfilesResult()


@action("iam", "ListInstanceProfiles")
def list_instance_profiles(ctx: ActionContext, params: Params) -> ListInstanceProfilesResult:
    reader = ParamReader(params)
    prefix = read_path_prefix(reader)
    read_pagination(reader)
    reader.done()
    authorize_iam(ctx, "ListInstanceProfiles", resource_arn(caller_account(ctx), "instance-profile", "", prefix))
    return ListInstanceProfilesResult()


def _no_login_profile(ctx: ActionContext, params: Params, action_name: str) -> None:
    reader = ParamReader(params)
    name = read_user_name(reader)
    reader.done()
    assert name is not None
    user = authorized_user(ctx, action_name, name)
    raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")


@action("iam", "GetLoginProfile")
def get_login_profile(ctx: ActionContext, params: Params) -> None:
    _no_login_profile(ctx, params, "GetLoginProfile")


@action("iam", "DeleteLoginProfile")
def delete_login_profile(ctx: ActionContext, params: Params) -> None:
    _no_login_profile(ctx, params, "DeleteLoginProfile")


@action("iam", "ListSigningCertificates")
def list_signing_certificates(ctx: ActionContext, params: Params) -> ListSigningCertificatesResult:
    _user_scope(ctx, params, "ListSigningCertificates")
    return ListSigningCertificatesResult()


@action("iam", "ListSSHPublicKeys")
def list_ssh_public_keys(ctx: ActionContext, params: Params) -> ListSSHPublicKeysResult:
    _user_scope(ctx, params, "ListSSHPublicKeys")
    return ListSSHPublicKeysResult()


@action("iam", "ListServiceSpecificCredentials")
def list_service_specific_credentials(ctx: ActionContext, params: Params) -> ListServiceSpecificCredentialsResult:
    _user_scope(ctx, params, "ListServiceSpecificCredentials", extra=("ServiceName", "AllUsers"))
    return ListServiceSpecificCredentialsResult()


@action("iam", "ListAccountAliases")
def list_account_aliases(ctx: ActionContext, params: Params) -> ListAccountAliasesResult:
    reader = ParamReader(params)
    read_pagination(reader)
    reader.done()
    authorize_iam(ctx, "ListAccountAliases", "*")
    return ListAccountAliasesResult()


@action("iam", "GetAccountPasswordPolicy")
def get_account_password_policy(ctx: ActionContext, params: Params) -> None:
    ParamReader(params).done()
    authorize_iam(ctx, "GetAccountPasswordPolicy", "*")
    raise NoSuchEntity(f"The Password Policy with domain name {caller_account(ctx)} cannot be found.")
