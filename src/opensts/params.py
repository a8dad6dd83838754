"""Reading and validating Query parameters with AWS's messages.

botocore checks only ``required`` and ``min`` on the client, so the server enforces every length,
pattern, range and list size. Failures are collected and reported together in AWS's format::

    2 validation errors detected: Value '20' at 'durationSeconds' failed to satisfy constraint:
    Member must have value greater than or equal to 900; Value ...

Messages name members in lowerCamelCase (``roleSessionName``) as AWS does.

Every string is checked against a character pattern. Actions pass the pattern of the member's shape
in botocore's model; where the model gives none (ARNs, URLs, client ids, enums, SAML documents...),
:data:`TEXT_PATTERN` applies: the characters XML 1.0 can carry, which is the pattern STS's model
gives its ``arnType``. Deviation: AWS documents no pattern for those members; OpenSTS refuses NUL,
other C0 controls than tab/CR/LF, lone surrogates and U+FFFE/U+FFFF in them anyway, because no
such value is meaningful and PostgreSQL cannot store NUL. Every pattern here is a character class
or a sequence of them without nested quantifiers, so matching is linear in the value's length.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Any

from opensts.errors import ValidationError, validation_message


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | re.DOTALL)


# Patterns botocore's models give for tags and policy text (IAM and STS alike).
TAG_KEY_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+"
TAG_VALUE_PATTERN = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*"
POLICY_TEXT_PATTERN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"
# STS's arnType, as AWS prints it (``\u10000`` is Java's way to write U+10000) ...
TEXT_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+"
# ... and as Python's re reads it (not ASCII-only: the class names code points above U+007F).
_TEXT_CHARS = re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def text_chars_valid(text: str) -> bool:
    """Whether every character of ``text`` is in :data:`TEXT_PATTERN` (empty text is, here)."""
    return (text.isascii() and text.isprintable()) or _TEXT_CHARS.fullmatch(text) is not None


# MalformedPolicyDocument's message for a policy that escapes a lone surrogate.
LONE_SURROGATE = "Syntax errors in policy: a \\u escape names an unpaired UTF-16 surrogate."


def json_has_lone_surrogate(text: str) -> bool:
    """Whether JSON ``text`` escapes a UTF-16 surrogate without its pair (``"\\ud800"``): such a
    string has no UTF-8 form, so it can be neither stored nor answered. Other JSON errors are the
    parser's to report (False here)."""
    if _SURROGATE_ESCAPE.search(text) is None:  # the common case: one linear scan, no parse
        return False
    try:
        value = json.loads(text)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def tag_text_valid(text: str, *, allow_empty: bool = False) -> bool:
    r"""Tag keys and values: ``[\p{L}\p{Z}\p{N}_.:/=+\-@]+`` (``*`` for values) — letters, separators,
    numbers and a few symbols; checked by Unicode category, as Python's ``re`` knows no ``\p{...}``."""
    if not text:
        return allow_empty
    return all(ch in "_.:/=+-@" or unicodedata.category(ch)[0] in "LZN" for ch in text)


def member_name(name: str) -> str:
    return name[:1].lower() + name[1:]


def _shown(value: str) -> str:
    return value if len(value) <= 256 else value[:256] + "..."


class ParamReader:
    """Typed, validated access to one request's decoded parameters."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.failures: list[str] = []

    def fail(self, value: Any, member: str, constraint: str, *, secret: bool = False) -> None:
        """Record a failure. A ``secret`` value is not quoted (as AWS does for sensitive members):
        the message goes back to the client and into the audit trail."""
        if secret and value is not None:
            self.failures.append(f"Value at '{member}' failed to satisfy constraint: {constraint}")
            return
        shown = "null" if value is None else f"'{_shown(str(value))}'"
        self.failures.append(f"Value {shown} at '{member}' failed to satisfy constraint: {constraint}")

    def check_string(
        self,
        value: str,
        member: str,
        *,
        min_len: int | None = None,
        max_len: int | None = None,
        pattern: str | None = None,
        text_check: bool = True,
        secret: bool = False,
    ) -> None:
        """Length and pattern checks; without ``pattern``, :data:`TEXT_PATTERN`'s characters unless
        ``text_check`` is False (the caller checks a stricter pattern itself, e.g. tags)."""
        if min_len is not None and len(value) < min_len:
            self.fail(value, member, f"Member must have length greater than or equal to {min_len}", secret=secret)
        if max_len is not None and len(value) > max_len:
            self.fail(value, member, f"Member must have length less than or equal to {max_len}", secret=secret)
        if pattern is not None:
            if not _compiled(pattern).fullmatch(value):
                self.fail(value, member, f"Member must satisfy regular expression pattern: {pattern}", secret=secret)
        elif text_check and not text_chars_valid(value):
            self.fail(value, member, f"Member must satisfy regular expression pattern: {TEXT_PATTERN}", secret=secret)

    def check_tag_key(self, key: str, member: str, *, pattern_when_empty: bool = True) -> None:
        """A tag key (IAM and STS alike): 1-128 characters of :data:`TAG_KEY_PATTERN`. An empty key
        fails the length, and the pattern too unless ``pattern_when_empty`` is False (STS session
        tags and the TagKeys of Untag* report one failure for it, IAM's Tags two)."""
        self.check_string(key, member, min_len=1, max_len=128, text_check=False)
        if (key or pattern_when_empty) and not tag_text_valid(key):
            self.fail(key, member, f"Member must satisfy regular expression pattern: {TAG_KEY_PATTERN}")

    def check_tag_value(self, value: str, member: str) -> None:
        """A tag value: 0-256 characters of :data:`TAG_VALUE_PATTERN`."""
        self.check_string(value, member, max_len=256, text_check=False)
        if not tag_text_valid(value, allow_empty=True):
            self.fail(value, member, f"Member must satisfy regular expression pattern: {TAG_VALUE_PATTERN}")

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_len: int | None = None,
        max_len: int | None = None,
        pattern: str | None = None,
        secret: bool = False,
    ) -> str | None:
        value = self.params.get(name)
        if value is None:
            if required:
                self.fail(None, member_name(name), "Member must not be null")
            return None
        member = member_name(name)
        if not isinstance(value, str):
            self.fail(None, member, "Member must be a string")
            return None
        self.check_string(value, member, min_len=min_len, max_len=max_len, pattern=pattern, secret=secret)
        return value

    def integer(
        self, name: str, *, required: bool = False, min_value: int | None = None, max_value: int | None = None
    ) -> int | None:
        raw = self.params.get(name)
        if raw is None:
            if required:
                self.fail(None, member_name(name), "Member must not be null")
            return None
        member = member_name(name)
        if not isinstance(raw, str) or not re.fullmatch(r"-?[0-9]{1,18}", raw):
            self.fail(raw, member, "Member must be an integer")
            return None
        value = int(raw)
        if min_value is not None and value < min_value:
            self.fail(raw, member, f"Member must have value greater than or equal to {min_value}")
        if max_value is not None and value > max_value:
            self.fail(raw, member, f"Member must have value less than or equal to {max_value}")
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            self.fail(raw, member_name(name), "Member must be a boolean")
            return None
        return raw == "true"

    def list(self, name: str, *, max_items: int | None = None, required: bool = False) -> list[Any]:
        """A ``Name.member.N`` list; an empty string (botocore's empty list) is []."""
        raw = self.params.get(name)
        if raw is None and required:
            self.fail(None, member_name(name), "Member must not be null")
        if raw is None or raw == "":
            return []
        if not isinstance(raw, list):
            self.fail(None, member_name(name), "Member must be a list")
            return []
        if max_items is not None and len(raw) > max_items:
            self.fail(
                f"[{', '.join(map(str, raw))}]"[:200],
                member_name(name),
                f"Member must have length less than or equal to {max_items}",
            )
        return raw

    def done(self) -> None:
        if self.failures:
            raise ValidationError(validation_message(self.failures))
