"""DecodeAuthorizationMessage: read the encoded message of a denial (reference §11).

The caller needs ``sts:DecodeAuthorizationMessage``. Messages are sealed by OpenSTS's key ring
(``opensts.tokens.authorization_message``); a tampered, truncated or foreign one is
``InvalidAuthorizationMessageException``. **Ours**: a message may be decoded only by principals of
the account of the principal it is about (a multi-account deployment does not show one account's
principals, policies and request details to another).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opensts.access.authorize import authorize
from opensts.actions import ActionContext, Params, action
from opensts.errors import InvalidAuthorizationMessage
from opensts.params import ParamReader
from opensts.tokens.authorization_message import MAX_ENCODED_CHARS, decode_authorization_message
from opensts.tokens.errors import InvalidAuthorizationMessage as InvalidMessageToken

INVALID_MESSAGE = "The encoded authorization message is invalid."


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
        doc = decode_authorization_message(encoded, runtime.keyring)
    except InvalidMessageToken as exc:
        if exc.reason != InvalidMessageToken.UNKNOWN_KEY:
            raise InvalidAuthorizationMessage(INVALID_MESSAGE) from None
        try:  # another node may have rotated keys since we last looked
            doc = decode_authorization_message(encoded, runtime.reload_keyring_if_stale())
        except InvalidMessageToken:
            raise InvalidAuthorizationMessage(INVALID_MESSAGE) from None
    assert ctx.caller is not None
    if _message_account(doc) != ctx.caller.account_id:
        raise InvalidAuthorizationMessage(INVALID_MESSAGE)
    return doc


@action("sts", "DecodeAuthorizationMessage", cache_first=True)
def handle(ctx: ActionContext, params: Params) -> DecodeAuthorizationMessageResult:
    reader = ParamReader(params)
    encoded = reader.string("EncodedMessage", required=True, min_len=1, max_len=MAX_ENCODED_CHARS)
    reader.done()
    authorize(ctx, "sts:DecodeAuthorizationMessage", "*")
    assert encoded is not None
    doc = decode(ctx, encoded)
    return DecodeAuthorizationMessageResult(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
