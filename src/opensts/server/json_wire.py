"""The JSON form of Query-protocol responses, for clients that send ``Accept: application/json``.

AWS's Query services answer in JSON when asked (aws-iam-authenticator's verifier asks for
GetCallerIdentity this way): ``{"GetCallerIdentityResponse": {"GetCallerIdentityResult": {...},
"ResponseMetadata": {"RequestId": "..."}}}``; errors as ``{"Error": {"Code", "Message", "Type"},
"RequestId"}``. Names are the XML element names; timestamps are epoch seconds, as in AWS's JSON.

Like the XML encoder, this one cannot fail or emit what a strict parser refuses: the output is
ASCII (``json.dumps`` escapes every control and non-ASCII character), and lone surrogates and
U+FFFE/U+FFFF, which JSON escapes would carry through to clients that reject them, are
replaced by U+FFFD first.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from opensts.server.xml import result_fields

JSON_TYPE = "application/json"


_UNSAFE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _str(value: str) -> str:
    return value if value.isascii() else _UNSAFE.sub("\ufffd", value)


def wants_json(accept: str | None) -> bool:
    return bool(accept) and "application/json" in accept.lower()  # type: ignore[union-attr]


def _value(value: Any) -> Any:
    if isinstance(value, str):
        return _str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [_value(item) for item in value]
    if isinstance(value, dict):
        return {_str(str(key)): _value(item) for key, item in value.items()}
    fields = result_fields(type(value))  # type: ignore[arg-type]  # a class is hashable
    return {name: _value(getattr(value, attr)) for attr, name in fields if getattr(value, attr) is not None}


def success_json(action: str, result: Any, request_id: str) -> bytes:
    body: dict[str, Any] = {}
    if result is not None:
        body[f"{action}Result"] = _value(result)
    body["ResponseMetadata"] = {"RequestId": request_id}
    return json.dumps({f"{action}Response": body}, separators=(",", ":")).encode()


def error_json(fault: str, code: str, message: str, request_id: str) -> bytes:
    return json.dumps(
        {"Error": {"Code": _str(code), "Message": _str(message), "Type": fault}, "RequestId": request_id}, separators=(",", ":")
    ).encode()
