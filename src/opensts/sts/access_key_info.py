"""GetAccessKeyInfo: the account an access key id belongs to.

AWS-format ids (AKIA/ASIA + 16 base32 characters) carry their account, so any well-formed id is
answered without a lookup, whoever owns it, as AWS does. Other ids (operator-chosen root key ids)
are looked up in the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, Params, action
from opensts.errors import InvalidParameterValue
from opensts.identity.ids import account_from_access_key_id
from opensts.params import ParamReader


@dataclass(frozen=True, slots=True)
class GetAccessKeyInfoResult:
    account: str


@action("sts", "GetAccessKeyInfo", cache_first=True)
def handle(ctx: ActionContext, params: Params) -> GetAccessKeyInfoResult:
    reader = ParamReader(params)
    key_id = reader.string("AccessKeyId", required=True, min_len=16, max_len=128, pattern=r"[\w]*")
    reader.done()
    assert key_id is not None
    account = account_from_access_key_id(key_id) if key_id[:4] in ("AKIA", "ASIA") else None
    if account is None:
        credential = ctx.runtime.store.access_keys.get(key_id)
        if credential is None:
            raise InvalidParameterValue("The access key ID is not in a recognised format and is not known.")
        account = credential.account_id
    return GetAccessKeyInfoResult(account=account)
