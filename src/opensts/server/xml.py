"""Encoding Query-protocol XML responses and errors, as botocore parses them.

Results are dataclasses (or dicts). Field ``access_key_id`` becomes ``<AccessKeyId>``; a field can
name its element explicitly with ``field(metadata={"xml": "QRCodePNG"})``. Lists become
``<member>`` elements, dicts ``<entry><key/><value/></entry>``, datetimes ISO-8601 UTC, bools
``true``/``false``, bytes base64. ``None`` fields are left out.

The encoder cannot emit malformed XML, whatever a string holds: characters XML 1.0 does not allow
(C0 controls other than tab and newline, lone surrogates, U+FFFE/U+FFFF) are replaced by U+FFFD,
and ``\r`` is written ``&#13;`` so that it survives a parser's line-end normalisation. Input is
validated against AWS's character patterns before it is stored (params.py); this is the backstop
for text that got in another way (an older release, a direct database edit) and for error messages
that echo what a client sent.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


def format_timestamp(value: datetime) -> str:
    """AWS's wire form: ``2026-11-28T12:00:00Z`` (whole seconds, UTC)."""
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"  # isoformat: cheaper than strftime


@lru_cache(maxsize=4096)
def xml_name(field_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in field_name.split("_"))


@lru_cache(maxsize=512)
def result_fields(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, wire name) for each field of a result dataclass (XML and JSON alike)."""
    return tuple((f.name, f.metadata.get("xml") or xml_name(f.name)) for f in dataclasses.fields(cls))


@lru_cache(maxsize=512)
def _fields(cls: type) -> tuple[tuple[str, str, str], ...]:
    """(attribute, "<Tag>", "</Tag>") for each field of a result dataclass."""
    return tuple((name, f"<{tag}>", f"</{tag}>") for name, tag in result_fields(cls))


# What must be escaped (& < > and \r) or replaced (what XML 1.0 does not allow): one character
# class, so a search or a substitution is one linear pass.
_SPECIAL = re.compile("[&<>\r]|[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}


def _escape_char(match: re.Match[str]) -> str:
    return _ESCAPES.get(match.group(), "\ufffd")


def _text(value: str) -> str:
    """``value`` as XML character data: escaped, and with what XML cannot carry replaced."""
    # Most values (ids, ARNs, dates) are printable ASCII: two C-speed checks and three ``in`` tests
    # are cheaper than a regex search.
    if value.isascii() and value.isprintable():
        return escape(value) if ("&" in value or "<" in value or ">" in value) else value
    return _SPECIAL.sub(_escape_char, value)


def _encode_value(value: Any, out: list[str]) -> None:
    encoder = _BY_TYPE.get(type(value))
    if encoder is not None:  # the common exact types, without the isinstance chain below
        encoder(value, out)
        return
    if dataclasses.is_dataclass(value):
        _struct_encoder(type(value))(value, out)
    elif isinstance(value, str):
        out.append(_text(value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, (int, float)):
        out.append(str(value))
    elif isinstance(value, datetime):
        out.append(format_timestamp(value))
    elif isinstance(value, bytes):
        out.append(base64.b64encode(value).decode("ascii"))
    elif isinstance(value, (list, tuple)):
        for item in value:
            out.append("<member>")
            _encode_value(item, out)
            out.append("</member>")
    elif isinstance(value, dict) and not _is_struct_dict(value):
        for key, item in value.items():
            out.append("<entry><key>")
            out.append(_text(str(key)))
            out.append("</key><value>")
            _encode_value(item, out)
            out.append("</value></entry>")
    else:
        _encode_struct(value, out)


def _is_struct_dict(value: dict[str, Any]) -> bool:
    return getattr(value, "is_struct", False)


class Struct(dict):
    """A dict encoded as a structure (keys are element names) rather than as a map."""

    is_struct = True


def _encode_struct(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for tag, item in value.items():
            if item is not None:
                out.append(f"<{tag}>")
                _encode_value(item, out)
                out.append(f"</{tag}>")
        return
    _struct_encoder(type(value))(value, out)


def _struct_encoder(cls: type) -> Any:
    """The encoder of a result class, written on first use and kept with the others by type."""
    encoder = _BY_TYPE.get(cls)
    if encoder is None:
        encoder = _BY_TYPE[cls] = _compile_struct_encoder(cls)  # result classes are few and fixed
    return encoder


def _compile_struct_encoder(cls: type) -> Any:
    """An encoder written out for one result class, field by field, as dataclasses writes __init__:
    results are encoded on every request, and a loop over (name, tag) pairs with getattr costs
    about twice as much. Field names are identifiers and tags go in as repr() literals."""
    lines = ["def encode(value, out):"]
    for name, open_tag, close_tag in _fields(cls):
        assert name.isidentifier()
        lines += [
            f"    item = value.{name}",
            "    if item is not None:",
            "        if type(item) is str:",
            f"            out.append({open_tag!r} + _text(item) + {close_tag!r})",
            "        else:",
            f"            out.append({open_tag!r})",
            "            _encode_value(item, out)",
            f"            out.append({close_tag!r})",
        ]
    if len(lines) == 1:
        lines.append("    pass")
    namespace: dict[str, Any] = {"_text": _text, "_encode_value": _encode_value}
    exec("\n".join(lines), namespace)  # noqa: S102 - the source is built above from a dataclass's fields
    return namespace["encode"]


_BY_TYPE: dict[type, Any] = {
    str: lambda value, out: out.append(_text(value)),
    bool: lambda value, out: out.append("true" if value else "false"),
    int: lambda value, out: out.append(str(value)),
    datetime: lambda value, out: out.append(format_timestamp(value)),
}


def success_body(service: str, action: str, result: Any, request_id: str) -> bytes:
    out = [f'<{action}Response xmlns="{NAMESPACES[service]}">']
    if result is not None:
        out.append(f"<{action}Result>")
        _encode_struct(result, out)
        out.append(f"</{action}Result>")
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
    return "".join(out).encode("utf-8")


def error_body(service: str, fault: str, code: str, message: str, request_id: str) -> bytes:
    namespace = NAMESPACES.get(service, NAMESPACES["sts"])
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type><Code>{_text(code)}</Code>'
        f"<Message>{_text(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode("utf-8")
