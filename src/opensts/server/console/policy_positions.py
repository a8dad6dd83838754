"""Where in a policy's text its problems are: the JSON policy editor's line and column of each error.

:func:`check_policy` validates a document typed in the console's editor and answers its problems,
each with a 1-based line and column in the text:

- a JSON syntax error where :class:`json.JSONDecodeError` says it is (its ``lineno``/``colno``);
- the engine's semantic errors (:func:`opensts.policy.validate_policy`, the validator IAM uses):
  the engine names the offending statement (``statement_index``); this module finds it in the text,
  and the field the message is about (``Effect``, ``Principal``...), and the value in that field the
  message quotes when there is one. Errors about the whole document (``Version``, a duplicate key,
  ``NaN``) point at their key or token.

Pure functions, no I/O. Columns count characters (code points), as Python's JSON decoder does;
lines are separated by ``\\n`` (a ``\\r`` before it belongs to the line it ends). The text is parsed
once more, by a small JSON scanner that keeps each key's and value's offset (linear time, nesting
bounded), only when the engine refused a document that :func:`json.loads` accepted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opensts.policy import (
    MANAGED_POLICY_MAX_SIZE, TRUST_POLICY_MAX_SIZE, PolicyKind, PolicyValidationError, policy_size, validate_policy,
)

MAX_DEPTH = 200  # deeper nesting is refused by the scanner (Python's JSON decoder recurses too)
KINDS = ("trust", "identity", "resource", "managed")  # "managed": identity grammar, Version 2012-10-17 required
_QUOTAS = {"trust": (TRUST_POLICY_MAX_SIZE, "ACLSizePerRole"), "managed": (MANAGED_POLICY_MAX_SIZE, "PolicySize")}


@dataclass(frozen=True, slots=True)
class Problem:
    """One error in the text: 1-based line and column, and the validator's message."""

    line: int
    column: int
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


# --------------------------------------------------------------------------------------- checking
def check_policy(text: str, kind: str) -> list[Problem]:
    """The problems of ``text`` as a policy of ``kind`` (one of :data:`KINDS`): [] when valid.

    The engine stops at the first problem, so there is at most one, plus the size quota IAM checks
    after the grammar (trust policies and managed policies)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return [Problem(error.lineno, error.colno, f"Syntax errors in policy. {error.msg}.")]
    except RecursionError:
        return [problem_at(text, _too_deep_offset(text), "Syntax errors in policy. The document is nested too deeply.")]
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        return [Problem(1, 1, f"Syntax errors in policy. {error}.")]
    try:
        engine_kind = PolicyKind.IDENTITY if kind == "managed" else PolicyKind(kind)
        validate_policy(text, engine_kind, require_current_version=kind == "managed")
    except PolicyValidationError as error:
        return [problem_at(text, locate(text, error), error.message)]
    quota = _QUOTAS.get(kind)
    if quota is not None and policy_size(text) > quota[0]:
        return [problem_at(text, 0, f"Cannot exceed quota for {quota[1]}: {quota[0]} (characters, whitespace not counted).")]
    return []


def position(text: str, offset: int) -> tuple[int, int]:
    """(line, column), 1-based, of ``offset`` (0 to ``len(text)``) — as JSONDecodeError counts them."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def problem_at(text: str, offset: int, message: str) -> Problem:
    line, column = position(text, offset)
    return Problem(line, column, message)


# ----------------------------------------------------------------------------------- the scanner
@dataclass(slots=True)
class Node:
    """A JSON value and where it starts; objects keep their members' keys and where each key starts."""

    start: int
    kind: str  # "object", "array", "string", "constant" (NaN/Infinity), "other"
    value: Any = None  # string: its text; constant: its token
    members: list[tuple[str, int, "Node"]] = field(default_factory=list)  # object: (key, key offset, value)
    items: list["Node"] = field(default_factory=list)  # array

    def member(self, key: str) -> tuple[int, "Node"] | None:
        for name, offset, value in self.members:
            if name == key:
                return offset, value
        return None

    def walk(self) -> list["Node"]:
        """This node and every node inside it, in document order (iteratively)."""
        out: list[Node] = []
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            children = [m[2] for m in node.members] if node.kind == "object" else node.items
            stack.extend(reversed(children))
        return out


class _TooDeep(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


# The JSON decoder's own string reader (C): (the string, the offset after its closing quote).
scanstring: Callable[[str, int], tuple[str, int]] = getattr(json.decoder, "scanstring")
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_CONSTANTS = ("NaN", "Infinity", "-Infinity", "true", "false", "null")


def scan(text: str) -> Node | None:
    """The positioned tree of a text ``json.loads`` accepts (None if the scanner cannot read it)."""
    try:
        node, _ = _value(text, _WS.match(text, 0).end(), 0)  # type: ignore[union-attr]
        return node
    except (_TooDeep, ValueError, IndexError):
        return None


def _value(text: str, at: int, depth: int) -> tuple[Node, int]:
    if depth > MAX_DEPTH:
        raise _TooDeep(at)
    ch = text[at]
    if ch == '"':
        string, end = scanstring(text, at + 1)
        return Node(at, "string", string), end
    if ch == "{":
        return _object(text, at, depth)
    if ch == "[":
        node = Node(at, "array")
        at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]
        if text[at] == "]":
            return node, at + 1
        while True:
            item, at = _value(text, at, depth + 1)
            node.items.append(item)
            at = _WS.match(text, at).end()  # type: ignore[union-attr]
            if text[at] == "]":
                return node, at + 1
            at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]  # past ","
    for token in _CONSTANTS:
        if text.startswith(token, at):
            kind = "constant" if token in ("NaN", "Infinity", "-Infinity") else "other"
            return Node(at, kind, token), at + len(token)
    number = _NUMBER.match(text, at)
    if number is None or number.end() == at:
        raise ValueError(f"no JSON value at {at}")
    return Node(at, "other", number.group()), number.end()


def _object(text: str, at: int, depth: int) -> tuple[Node, int]:
    node = Node(at, "object")
    at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]
    if text[at] == "}":
        return node, at + 1
    while True:
        key_at = at
        key, at = scanstring(text, at + 1)
        at = _WS.match(text, at).end()  # type: ignore[union-attr]
        at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]  # past ":"
        value, at = _value(text, at, depth + 1)
        node.members.append((key, key_at, value))
        at = _WS.match(text, at).end()  # type: ignore[union-attr]
        if text[at] == "}":
            return node, at + 1
        at = _WS.match(text, at + 1).end()  # type: ignore[union-attr]  # past ","


def _too_deep_offset(text: str) -> int:
    try:
        _value(text, _WS.match(text, 0).end(), 0)  # type: ignore[union-attr]
    except _TooDeep as deep:
        return deep.offset
    except (ValueError, IndexError):
        pass
    return 0


# ------------------------------------------------------------------------------------ locating
_KEYED = re.compile(r'(?:Unknown field|Has prohibited field) "?(\w+)"?')
_BOTH = re.compile(r"contain both (\w+) and (\w+)")
_DUPLICATE = re.compile(r'Duplicate key "(.*)"\.$')
_CONSTANT = re.compile(r"Invalid number (\S+)\.$")
# (words in the message, the statement's fields it is about, in the order to try)
_FIELDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("Missing required field", "must contain actions", "must contain resources"), ()),
    (("effect",), ("Effect",)),
    (("SID", "Sid"), ("Sid",)),
    (("principal",), ("Principal", "NotPrincipal")),
    (("Trust policies",), ("Action", "NotAction")),
    (("prefaced by a vendor",), ("Action", "NotAction", "Condition")),
    (("ondition",), ("Condition",)),
    (("NotResource",), ("NotResource",)),
    (("Resource",), ("Resource", "NotResource")),
    (("NotAction",), ("NotAction",)),
    (("Action",), ("Action", "NotAction")),
)


def locate(text: str, error: PolicyValidationError) -> int:
    """The offset in ``text`` (which ``json.loads`` accepts) of what ``error`` is about."""
    root = scan(text)
    if root is None:
        return _too_deep_offset(text)
    message = error.aws_message
    if error.statement_index is not None:
        statement = _statement(root, error.statement_index)
        if statement is not None:
            return _in_statement(statement, message)
    return _in_document(root, message)


def _statement(root: Node, index: int) -> Node | None:
    found = root.member("Statement") if root.kind == "object" else None
    if found is None:
        return None
    statements = found[1]
    if statements.kind == "object":
        return statements if index == 0 else None
    if statements.kind == "array" and index < len(statements.items):
        return statements.items[index]
    return None


def _in_statement(statement: Node, message: str) -> int:
    if statement.kind != "object":
        return statement.start
    keyed = _KEYED.search(message) or _BOTH.search(message)
    if keyed is not None:
        member = statement.member(keyed.group(keyed.lastindex or 1))
        return member[0] if member is not None else statement.start
    for words, fields in _FIELDS:
        if not any(word in message for word in words):
            continue
        for name in fields:
            member = statement.member(name)
            if member is None:
                continue
            if "prefaced by a vendor" in message:
                offset = _vendorless(member[1], name)
                if offset is not None:
                    return offset
                continue
            return _quoted(member[1], message)
        break
    return statement.start


def _vendorless(value: Node, name: str) -> int | None:
    """The start of the first action (or condition key) without its ``vendor:`` prefix, if any."""
    if name == "Condition":
        candidates = [(key, offset) for block in value.members for key, offset, _ in block[2].members]
    else:
        candidates = [(node.value, node.start) for node in value.walk() if node.kind == "string"]
    for string, offset in candidates:
        if string != "*" and (":" not in string or string.startswith(":")):
            return offset
    return None


_MAX_QUOTED = 256


def _quoted(value: Node, message: str) -> int:
    """The start of the string inside ``value`` that ``message`` quotes; else of ``value``.

    First a value the message quotes as JSON (``"Alow"``), then a key it quotes, then a value or key
    it names between spaces (``Resource foo must be``), then the value itself."""
    # Bounded: a message is short, so only strings shorter than it can be quoted in it, and at most
    # _MAX_QUOTED candidates are tried (a hostile document has tens of thousands of strings).
    values: list[tuple[str, int]] = []
    keys: list[tuple[str, int]] = []
    for node in value.walk():
        if node.kind in ("string", "other") and len(node.value) < len(message):
            values.append((node.value, node.start))
        keys.extend((key, offset) for key, offset, _ in node.members if len(key) < len(message))
        if len(values) + len(keys) >= _MAX_QUOTED:
            break
    for strings in (values, keys):
        for string, offset in strings:
            if string and json.dumps(string) in message:
                return offset
    for string, offset in values + keys:
        if string and any(f" {string}{end}" in message for end in (" ", ".", ":")):
            return offset
    return value.start


def _in_document(root: Node, message: str) -> int:
    duplicate = _DUPLICATE.search(message)
    if duplicate is not None:
        for node in root.walk():
            seen = set()
            for key, offset, _ in node.members:
                if key == duplicate.group(1) and key in seen:
                    return offset
                seen.add(key)
    constant = _CONSTANT.search(message)
    if constant is not None:
        for node in root.walk():
            if node.kind == "constant" and node.value == constant.group(1):
                return node.start
    if root.kind != "object":
        return root.start
    keyed = _KEYED.search(message)
    if keyed is not None:
        member = root.member(keyed.group(1))
        if member is not None:
            return member[0]
    for name in ("Version", "Id", "Statement"):
        if name in message:
            member = root.member(name)
            if member is not None:
                return member[1].start
    return root.start
