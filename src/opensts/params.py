"""Reading and validating Query parameters with AWS's messages.

botocore checks only ``required`` and ``min`` on the client, so the server enforces every length,
pattern, range and list size. Failures are collected and reported together in AWS's format::

    2 validation errors detected: Value '20' at 'durationSeconds' failed to satisfy constraint:
    Member must have value greater than or equal to 900; Value ...

Messages name members in lowerCamelCase (``roleSessionName``) as AWS does.
"""

from __future__ import annotations

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

    def fail(self, value: Any, member: str, constraint: str) -> None:
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
    ) -> None:
        if min_len is not None and len(value) < min_len:
            self.fail(value, member, f"Member must have length greater than or equal to {min_len}")
        if max_len is not None and len(value) > max_len:
            self.fail(value, member, f"Member must have length less than or equal to {max_len}")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            self.fail(value, member, f"Member must satisfy regular expression pattern: {pattern}")

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        min_len: int | None = None,
        max_len: int | None = None,
        pattern: str | None = None,
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
        self.check_string(value, member, min_len=min_len, max_len=max_len, pattern=pattern)
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

    def list(self, name: str, *, max_items: int | None = None) -> list[Any]:
        """A ``Name.member.N`` list; an empty string (botocore's empty list) is []."""
        raw = self.params.get(name)
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
