"""Decoding AWS Query protocol parameters.

The Query protocol flattens structures into dotted names: ``Tags.member.1.Key=k``,
``PolicyArns.member.2.arn=...``, ``ContextEntries.member.1.ContextKeyValues.member.1=v`` and, for
maps, ``Attributes.entry.1.key`` / ``.value``. :func:`decode_params` turns the flat pairs back into
nested dicts and lists (1-based indices, gaps closed, order by index) so that actions read typed
values and never see the wire format.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

from opensts.errors import MalformedQueryString

# Parameters that belong to SigV4, not to the action.
SIGV4_PARAMS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    }
)
MAX_PARAMS = 2000
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_INDEX = 1000
MAX_DEPTH = 16  # the deepest AWS shape (ContextEntries.member.N.ContextKeyValues.member.N) has 5 parts

Nested = dict[str, Any]


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``a=1&b=2`` → pairs, '+' as space, strict percent-decoding; MalformedQueryString otherwise."""
    if not text:
        return []
    escaped = "%" in text
    if escaped and _BAD_ESCAPE.search(text):
        raise MalformedQueryString("The query string or form body has an invalid percent-encoding.")
    plain = not escaped and "+" not in text
    pairs = []
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if not eq:
            raise MalformedQueryString("The query string or form body is malformed.")
        if not plain:  # decode only the components that need it (most are plain words)
            if "%" in value or "+" in value:
                value = _decode_component(value)
            if "%" in name or "+" in name:
                name = _decode_component(name)
        pairs.append((name, value))
    if len(pairs) > MAX_PARAMS:
        raise MalformedQueryString("Too many parameters.")
    return pairs


def _decode_component(raw: str) -> str:
    # Short escaped values repeat from request to request (a client assumes the same role ARN over
    # and over): remember those. Long ones (policies) are decoded each time, so the cache stays small.
    return _decode_short(raw) if len(raw) <= 256 else _decode(raw)


def _decode(raw: str) -> str:
    if "+" in raw:
        raw = raw.replace("+", " ")
    if "%" not in raw:
        return raw
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedQueryString("The query string or form body is malformed.") from exc


_decode_short = lru_cache(maxsize=2048)(_decode)


def decode_params(pairs: list[tuple[str, str]]) -> Nested:
    """Nest flat Query parameters. SigV4's own ``X-Amz-*`` parameters are dropped."""
    if not any("." in name or name in SIGV4_PARAMS for name, _ in pairs):
        # Flat parameters only (Action=...&Version=...): nothing to nest.
        flat = dict(pairs)
        if len(flat) != len(pairs):
            raise MalformedQueryString("A parameter is given more than once.")
        if "" in flat:
            raise MalformedQueryString("Parameter name '' has an empty part.")
        return flat
    root: Nested = {}
    for name, value in pairs:
        if name in SIGV4_PARAMS:
            continue
        parts = name.split(".")
        if len(parts) > MAX_DEPTH:
            raise MalformedQueryString(f"Parameter name {name[:100]!r} is nested too deeply.")
        if not all(parts):
            raise MalformedQueryString(f"Parameter name {name[:100]!r} has an empty part.")
        _insert(root, parts, value, name)
    return _finish(root)


def _insert(node: Nested, parts: list[str], value: str, full_name: str) -> None:
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise MalformedQueryString(f"Parameter {full_name} conflicts with {'.'.join(parts[: i + 1])}.")
        node = child
    last = parts[-1]
    if last in node:
        raise MalformedQueryString(f"Parameter {full_name} is given more than once.")
    node[last] = value


def _finish(node: Any) -> Any:
    """Turn ``{'member': {'1': x, '2': y}}`` into ``[x, y]`` and ``entry`` maps into dicts."""
    if not isinstance(node, dict):
        return node
    if node.keys() == {"member"} and isinstance(node["member"], dict):
        return [_finish(v) for _, v in _indexed(node["member"])]
    if node.keys() == {"entry"} and isinstance(node["entry"], dict):
        result: dict[str, Any] = {}
        for _, entry in _indexed(node["entry"]):
            if not isinstance(entry, dict) or "key" not in entry:
                raise MalformedQueryString("A map entry lacks its key.")
            result[entry["key"]] = _finish(entry.get("value"))
        return result
    return {k: _finish(v) for k, v in node.items()}


def _indexed(members: dict[str, Any]) -> list[tuple[int, Any]]:
    items = []
    for key, value in members.items():
        if not (key.isascii() and key.isdigit()) or not 1 <= int(key) <= MAX_INDEX:
            raise MalformedQueryString(f"List index {key!r} is not a number from 1 to {MAX_INDEX}.")
        items.append((int(key), value))
    items.sort(key=lambda kv: kv[0])
    return items
