"""GetCallerIdentity: who signed this request. Needs no permission; works even under an explicit Deny.

https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.fields import NoParameters


@dataclass(frozen=True, slots=True)
class GetCallerIdentityResult:
    user_id: str
    account: str
    arn: str


@action("sts", "GetCallerIdentity", request=NoParameters, blocking=False)
def get_caller_identity(ctx: ActionContext, request: NoParameters) -> GetCallerIdentityResult:
    caller = ctx.caller
    assert caller is not None  # the action is not unsigned: the edge authenticated the caller
    return GetCallerIdentityResult(user_id=caller.user_id, account=caller.account_id, arn=caller.arn)
