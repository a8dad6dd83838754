"""GetAccessKeyInfo: the account an access key id belongs to.

https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html

AWS-format ids (AKIA/ASIA + 16 base32 characters) carry their account, so any well-formed id is
answered without a lookup, whoever owns it, as AWS does. Deviation: other ids (operator-chosen root
key ids) are looked up in the store, and an id neither well-formed nor known is
InvalidParameterValue.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import InvalidParameterValue
from opensts.fields import text
from opensts.identity.ids import account_from_access_key_id


@dataclass(frozen=True, slots=True, kw_only=True)
class GetAccessKeyInfoRequest:
    access_key_id: str = text("AccessKeyId", required=True, min_len=16, max_len=128, pattern=r"[\w]*")


@dataclass(frozen=True, slots=True)
class GetAccessKeyInfoResult:
    account: str


@action("sts", "GetAccessKeyInfo", request=GetAccessKeyInfoRequest, cache_first=True)
def get_access_key_info(ctx: ActionContext, request: GetAccessKeyInfoRequest) -> GetAccessKeyInfoResult:
    key_id = request.access_key_id
    account = account_from_access_key_id(key_id) if key_id[:4] in ("AKIA", "ASIA") else None
    if account is None:
        credential = ctx.runtime.store.access_keys.get(key_id)
        if credential is None:
            raise InvalidParameterValue("The access key ID is not in a recognised format and is not known.")
        account = credential.account_id
    return GetAccessKeyInfoResult(account=account)
