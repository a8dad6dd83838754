"""IAM entities OpenSTS does not have: console passwords, signing certificates, SSH keys,
service-specific credentials, account aliases, password policies.

Tools that manage users and roles (Terraform's AWS provider among them) read or clean these up
before deleting a user or role; an InvalidAction there would fail the whole operation. So the
reads answer truthfully — an empty list, or NoSuchEntity for a single item — after the usual
authorization, and nothing can be created. The parameters are validated as AWS does, except
ListServiceSpecificCredentials' ``AllUsers`` (a boolean in AWS's model), which is only checked as
text of at most 1,024 characters, since nothing is listed whatever it says
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListServiceSpecificCredentials.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opensts.actions import ActionContext, action
from opensts.fields import text
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import authorized_user


# --- Requests (botocore: GetLoginProfileRequest, ...) and results ------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class UserCredentialsListRequest:
    """ListSigningCertificates, ListSSHPublicKeys: UserName optional (the calling user's)."""

    user_name: str | None = fields.user_name(required=False)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListServiceSpecificCredentialsRequest:
    user_name: str | None = fields.user_name(required=False)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()
    # Read only to be validated (nothing is listed whatever they say); AllUsers is a boolean in
    # AWS's model, checked here as text of at most 1024 characters.
    service_name: str | None = text("ServiceName", max_len=1024)
    all_users: str | None = text("AllUsers", max_len=1024)


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


# --- Actions ------------------------------------------------------------------------------------
def _authorize_user_scope(ctx: ActionContext, action_name: str, name: str | None) -> None:
    """Authorize a per-user listing: the user named (who must exist), else the calling user."""
    if name is not None:
        authorized_user(ctx, action_name, name)
    elif ctx.caller is not None and ctx.caller.user_name:
        authorized_user(ctx, action_name, ctx.caller.user_name)
    else:
        authorize_iam(ctx, action_name, resource_arn(caller_account(ctx), "user", ""))




@action("iam", "ListSigningCertificates", request=UserCredentialsListRequest)
def list_signing_certificates(ctx: ActionContext, request: UserCredentialsListRequest) -> ListSigningCertificatesResult:
    _authorize_user_scope(ctx, "ListSigningCertificates", request.user_name)
    return ListSigningCertificatesResult()


@action("iam", "ListSSHPublicKeys", request=UserCredentialsListRequest)
def list_ssh_public_keys(ctx: ActionContext, request: UserCredentialsListRequest) -> ListSSHPublicKeysResult:
    _authorize_user_scope(ctx, "ListSSHPublicKeys", request.user_name)
    return ListSSHPublicKeysResult()


@action("iam", "ListServiceSpecificCredentials", request=ListServiceSpecificCredentialsRequest)
def list_service_specific_credentials(
    ctx: ActionContext, request: ListServiceSpecificCredentialsRequest
) -> ListServiceSpecificCredentialsResult:
    _authorize_user_scope(ctx, "ListServiceSpecificCredentials", request.user_name)
    return ListServiceSpecificCredentialsResult()
