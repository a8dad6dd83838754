"""DecodeAuthorizationMessage: read the encoded message of a denial.

https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html

The caller needs ``sts:DecodeAuthorizationMessage``. Messages are sealed by OpenSTS's key ring
(``opensts.tokens.authorization_message``); a tampered, truncated or foreign one is
``InvalidAuthorizationMessageException``. Deviation: a message may be decoded only by principals of
the account of the principal it is about (a multi-account deployment does not show one account's
principals, policies and request details to another).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opensts.access.authorize import authorize
from opensts.actions import ActionContext, action
from opensts.errors import InvalidAuthorizationMessage
from opensts.fields import text
from opensts.tokens import authorization_message as codec
from opensts.tokens.errors import AuthorizationMessageInvalid

INVALID_MESSAGE = "The encoded authorization message is invalid."


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodeAuthorizationMessageRequest:
    encoded_message: str = text("EncodedMessage", required=True, min_len=1, max_len=codec.MAX_ENCODED_CHARS)


@dataclass(frozen=True, slots=True)
class DecodeAuthorizationMessageResult:
    decoded_message: str


def _message_account(doc: dict[str, Any]) -> str | None:
    context = doc.get("context")
    principal = context.get("principal") if isinstance(context, dict) else None
    arn = principal.get("arn") if isinstance(principal, dict) else None
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


def decode(ctx: ActionContext, encoded: str) -> dict[str, Any]:
    runtime = ctx.runtime
    try:
        doc = codec.decode_authorization_message(encoded, runtime.keyring)
    except AuthorizationMessageInvalid as exc:
        if exc.reason != AuthorizationMessageInvalid.UNKNOWN_KEY:
            raise InvalidAuthorizationMessage(INVALID_MESSAGE) from None
        try:  # another node may have rotated keys since we last looked
            doc = codec.decode_authorization_message(encoded, runtime.reload_keyring_if_stale())
        except AuthorizationMessageInvalid:
            raise InvalidAuthorizationMessage(INVALID_MESSAGE) from None
    assert ctx.caller is not None
    if _message_account(doc) != ctx.caller.account_id:
        raise InvalidAuthorizationMessage(INVALID_MESSAGE)
    return doc


@action("sts", "DecodeAuthorizationMessage", request=DecodeAuthorizationMessageRequest, cache_first=True)
def decode_authorization_message(
    ctx: ActionContext, request: DecodeAuthorizationMessageRequest
) -> DecodeAuthorizationMessageResult:
    authorize(ctx, "sts:DecodeAuthorizationMessage", "*")
    doc = decode(ctx, request.encoded_message)
    return DecodeAuthorizationMessageResult(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
