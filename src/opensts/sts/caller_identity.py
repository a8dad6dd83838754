"""GetCallerIdentity: who signed this request. Needs no permission; works even under an explicit Deny."""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, Params, action
from opensts.identity.principal import Caller


@dataclass(frozen=True, slots=True)
class GetCallerIdentityResult:
    user_id: str
    account: str
    arn: str


def get_caller_identity(caller: Caller) -> GetCallerIdentityResult:
    return GetCallerIdentityResult(user_id=caller.user_id, account=caller.account_id, arn=caller.arn)


@action("sts", "GetCallerIdentity", blocking=False)
def handle(ctx: ActionContext, params: Params) -> GetCallerIdentityResult:
    assert ctx.caller is not None
    return get_caller_identity(ctx.caller)
