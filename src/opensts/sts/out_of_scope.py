"""AssumeRoot and GetDelegatedAccessToken: STS actions OpenSTS knows but cannot serve.

https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoot.html
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetDelegatedAccessToken.html

AssumeRoot opens a root session on a member account of an AWS Organization that has centralized
root access; GetDelegatedAccessToken exchanges a trade-in token from an IAM delegation request.
OpenSTS has neither organizations nor delegation requests, so there is nothing either call could
succeed on. Both are registered (so that SDKs and the AWS CLI get an answer that says why, not
``InvalidAction``), read and validate their parameters as AWS does, and then answer
``RegionDisabledException`` (403): of the errors botocore's model gives these operations, the one
that means "not available here" (``ExpiredTokenException`` and ``ExpiredTradeInTokenException``
would send a client off to fetch a new token). The message names the missing feature. Documented
in docs/STS.md, "Out of scope".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import RegionDisabled
from opensts.fields import custom, integer, text
from opensts.params import ParamReader
from opensts.sts import session_params as sp

ASSUME_ROOT_MESSAGE = (
    "AssumeRoot is not available in OpenSTS: it needs an AWS Organization with centralized root access for "
    "member accounts, and OpenSTS has no organizations. Assume a role in the account instead."
)
DELEGATED_ACCESS_MESSAGE = (
    "GetDelegatedAccessToken is not available in OpenSTS: it exchanges a trade-in token from an IAM delegation "
    "request, and OpenSTS has no delegation requests."
)


def read_task_policy_arn(reader: ParamReader) -> str | None:
    """``TaskPolicyArn.arn`` (a PolicyDescriptorType structure), required."""
    value: Any = reader.params.get("TaskPolicyArn")
    arn = value.get("arn") if isinstance(value, dict) else None
    if not isinstance(arn, str):
        reader.fail(None, "taskPolicyArn", "Member must not be null")
        return None
    reader.check_string(arn, "taskPolicyArn.arn", min_len=20, max_len=2048)
    return arn


@dataclass(frozen=True, slots=True, kw_only=True)
class AssumeRootRequest:
    target_principal: str = text("TargetPrincipal", required=True, min_len=12, max_len=2048)
    task_policy_arn: str | None = custom(read_task_policy_arn, default=None, param="TaskPolicyArn")
    duration_seconds: int | None = integer("DurationSeconds", min_value=0, max_value=900)
    minimum_session_token_size: int | None = sp.minimum_session_token_size()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetDelegatedAccessTokenRequest:
    trade_in_token: str = text("TradeInToken", required=True, secret=True)


@action("sts", "AssumeRoot", request=AssumeRootRequest, blocking=False)
def assume_root(ctx: ActionContext, request: AssumeRootRequest) -> None:
    raise RegionDisabled(ASSUME_ROOT_MESSAGE)


@action("sts", "GetDelegatedAccessToken", request=GetDelegatedAccessTokenRequest, blocking=False)
def get_delegated_access_token(ctx: ActionContext, request: GetDelegatedAccessTokenRequest) -> None:
    raise RegionDisabled(DELEGATED_ACCESS_MESSAGE)
