"""Account aliases (CreateAccountAlias, DeleteAccountAlias, ListAccountAliases) and the account's STS
preferences (SetSecurityTokenServicePreferences).

**Aliases.** ``accountAliasType``: 3-63 lowercase letters, digits and single dashes, not starting or
ending with a dash. An account has at most one alias: creating another replaces it, as AWS's sign-in
guide says ("the new alias overwrites the previous alias"). An alias is unique across every account of
this server (AWS: across all of AWS): another account's alias is ``EntityAlreadyExists``.
ListAccountAliases lists the one alias or none, paged like every list. Authorization: ``iam:ACTION``
on ``*`` (the service authorization reference names no resource for these actions).

**SetSecurityTokenServicePreferences.** On AWS, ``GlobalEndpointTokenVersion`` chooses whether
session tokens issued by the global endpoint (sts.amazonaws.com) are version 1 (valid only in the
Regions enabled by default) or version 2 (valid in every Region, and longer). OpenSTS has one
endpoint and one kind of session token, valid wherever the server is reached, so the choice changes
nothing here: it is validated (``v1Token`` | ``v2Token``), authorized (``iam:SetSecurityTokenServicePreferences``
on ``*``), stored per account and recorded in the audit trail, so scripts and tools that set it work.
GetAccountSummary reports it back as AWS does: ``GlobalEndpointTokenVersion`` 1, or 2 after ``v2Token``.

Deviations from AWS: the texts of the alias errors ("The account alias X already exists." /
"The account alias X cannot be found.") are OpenSTS's; AWS does not document them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import EntityAlreadyExists, NoSuchEntity
from opensts.fields import one_of, text
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account
from opensts.iam.pagination import paginate
from opensts.store.errors import EntityExists

# accountAliasType in botocore's model.
ACCOUNT_ALIAS_PATTERN = r"^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$"
TOKEN_VERSIONS = ("v1Token", "v2Token")  # globalEndpointTokenVersion


def _alias() -> Any:
    return text("AccountAlias", required=True, min_len=3, max_len=63, pattern=ACCOUNT_ALIAS_PATTERN)


# --- Requests (botocore: CreateAccountAliasRequest, ...) and results ---------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class AccountAliasRequest:
    """CreateAccountAlias, DeleteAccountAlias."""

    account_alias: str = _alias()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAccountAliasesRequest:
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSecurityTokenServicePreferencesRequest:
    global_endpoint_token_version: str = one_of("GlobalEndpointTokenVersion", TOKEN_VERSIONS, required=True)


@dataclass(frozen=True, slots=True)
class ListAccountAliasesResult:
    account_aliases: list[str]
    is_truncated: bool
    marker: str | None = None


# --- Actions ------------------------------------------------------------------------------------------
@action("iam", "CreateAccountAlias", request=AccountAliasRequest, writes=True)
def create_account_alias(ctx: ActionContext, request: AccountAliasRequest) -> None:
    account = caller_account(ctx)
    authorize_iam(ctx, "CreateAccountAlias", "*")
    try:
        ctx.runtime.store.account_settings.set_alias(account, request.account_alias, ctx.request_time)
    except EntityExists:
        raise EntityAlreadyExists(f"The account alias {request.account_alias} already exists.") from None


@action("iam", "DeleteAccountAlias", request=AccountAliasRequest, writes=True)
def delete_account_alias(ctx: ActionContext, request: AccountAliasRequest) -> None:
    account = caller_account(ctx)
    authorize_iam(ctx, "DeleteAccountAlias", "*")
    if not ctx.runtime.store.account_settings.delete_alias(account, request.account_alias):
        raise NoSuchEntity(f"The account alias {request.account_alias} cannot be found.")


@action("iam", "ListAccountAliases", request=ListAccountAliasesRequest)
def list_account_aliases(ctx: ActionContext, request: ListAccountAliasesRequest) -> ListAccountAliasesResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListAccountAliases", "*")
    alias = ctx.runtime.store.account_settings.alias(account)
    page = paginate([alias] if alias else [], request.marker, request.max_items, key=lambda a: a)
    return ListAccountAliasesResult(list(page.items), page.is_truncated, page.marker)


@action("iam", "SetSecurityTokenServicePreferences", request=SetSecurityTokenServicePreferencesRequest, writes=True)
def set_security_token_service_preferences(ctx: ActionContext, request: SetSecurityTokenServicePreferencesRequest) -> None:
    account = caller_account(ctx)
    authorize_iam(ctx, "SetSecurityTokenServicePreferences", "*")
    ctx.runtime.store.account_settings.set_global_endpoint_token_version(
        account, request.global_endpoint_token_version, ctx.request_time
    )
