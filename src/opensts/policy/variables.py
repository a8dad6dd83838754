"""Policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team}``, ``${key, 'default'}`` and the
escapes ``${*}``, ``${?}``, ``${$}``.

Only policies with Version ``2012-10-17`` substitute variables; under ``2008-10-17`` the text is
literal (the parser decides, this module only substitutes). A variable whose key is absent or
multivalued in the request context and has no default is unresolvable, and an element containing it
never matches (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Union

from .wildcard import glob_segments, join_segments


def split_default(inner: str) -> tuple[str, str | None]:
    r"""``key, 'default'`` -> (key, default); anything else is (inner, None). Case is kept.

    String operations, not a regex: a lazy group followed by ``\s*,`` backtracks quadratically
    on long inputs."""
    comma = inner.find(",")
    if comma > 0:
        key = inner[:comma].strip()
        rest = inner[comma + 1 :].strip()
        if key and len(rest) >= 2 and rest[0] == "'" and rest[-1] == "'" and "'" not in rest[1:-1]:
            return key, rest[1:-1]
    return inner, None


def variable_names(text: str) -> list[str]:
    """The keys of the ``${...}`` variables in ``text`` (case kept, escapes skipped), in order."""
    out: list[str] = []
    i = 0
    while True:
        start = text.find("${", i)
        if start < 0:
            return out
        end = text.find("}", start + 2)
        if end < 0:
            return out
        inner = text[start + 2 : end].strip()
        if inner and inner not in ("*", "?", "$"):
            out.append(split_default(inner)[0])
        i = end + 1


@dataclass(frozen=True, slots=True)
class Var:
    key: str  # lower-cased: condition keys are case-insensitive
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Literal:
    """Text that must match literally even in a glob (from ``${*}``, ``${?}``, ``${$}``)."""

    text: str


Part = Union[str, Var, Literal]
Template = tuple[Part, ...]
Context = Mapping[str, tuple[str, ...]]


def has_variables(text: str) -> bool:
    return "${" in text


def parse_template(text: str) -> Template:
    """Split text into glob text, variables and literal escapes. Unterminated ``${`` stays text."""
    parts: list[Part] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        start = text.find("${", i)
        if start < 0:
            buf.append(text[i:])
            break
        end = text.find("}", start + 2)
        if end < 0:
            buf.append(text[i:])
            break
        buf.append(text[i:start])
        inner = text[start + 2 : end].strip()
        if inner in ("*", "?", "$"):
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Literal(inner))
        else:
            key, default = split_default(inner)
            var = Var(key.lower(), default)
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(var)
        i = end + 1
    if buf:
        joined = "".join(buf)
        if joined:
            parts.append(joined)
    return tuple(p for p in parts if p != "")


def _value(var: Var, ctx: Context) -> str | None:
    values = ctx.get(var.key)
    if values is not None and len(values) == 1:
        return values[0]
    return var.default


def substitute(template: Template, ctx: Context) -> str | None:
    """The template as plain text (glob characters kept as-is), or None if unresolvable."""
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Literal):
            out.append(part.text)
        else:
            value = _value(part, ctx)
            if value is None:
                return None
            out.append(value)
    return "".join(out)


def substitute_glob(template: Template, ctx: Context, ignore_case: bool = False) -> re.Pattern[str] | None:
    """A compiled regex for the template read as a glob; substituted values match literally.

    Built from star-separated segments like :func:`~.wildcard.glob_to_regex`, so matching is
    linear-time whatever the substituted values contain.
    """
    segments: list[str] = [""]
    for part in template:
        if isinstance(part, str):
            pieces = glob_segments(part)
            segments[-1] += pieces[0]
            segments.extend(pieces[1:])
        elif isinstance(part, Literal):
            segments[-1] += re.escape(part.text)
        else:
            value = _value(part, ctx)
            if value is None:
                return None
            segments[-1] += re.escape(value)
    return _compile(join_segments(segments), ignore_case)


@lru_cache(maxsize=8192)
def _compile(regex: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class TemplateGlob:
    """A glob with variables, compiled once per distinct set of variable values (bounded memo)."""

    __slots__ = ("template", "vars", "_memo")

    def __init__(self, template: Template) -> None:
        self.template = template
        self.vars = tuple(p for p in template if isinstance(p, Var))
        self._memo: dict[tuple[str | None, ...], re.Pattern[str] | None] = {}

    def regex(self, ctx: Context) -> re.Pattern[str] | None:
        key = tuple(_value(v, ctx) for v in self.vars)
        try:
            return self._memo[key]
        except KeyError:
            pass
        rx = None if None in key else substitute_glob(self.template, ctx)
        if len(self._memo) > 1024:
            self._memo.clear()
        self._memo[key] = rx
        return rx

    def fullmatch(self, text: str, ctx: Context) -> bool:
        rx = self.regex(ctx)
        return rx is not None and rx.fullmatch(text) is not None
