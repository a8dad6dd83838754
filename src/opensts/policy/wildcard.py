"""Glob patterns of the policy language (``*`` any run of characters, ``?`` one character).

Actions compare case-insensitively, resources and ARNs case-sensitively. ``*`` spans ``/`` and ``:``
(AWS §10). A set of patterns compiles to one :class:`PatternSet` that answers with at most three C-level
calls (set membership, ``str.startswith`` with a tuple, one alternation regex), because statements are
matched on every request while they are compiled once.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

_WILD = ("*", "?")


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(glob_to_regex(pattern), flags)


def glob_match(pattern: str, text: str, ignore_case: bool = False) -> bool:
    if not has_wildcard(pattern):
        return pattern.lower() == text.lower() if ignore_case else pattern == text
    return compile_glob(pattern, ignore_case).fullmatch(text) is not None


class PatternSet:
    """Union of glob patterns, split into fast paths.

    ``ignore_case`` sets are stored lower-cased and must be queried with lower-cased text (the
    evaluator lower-cases the action once per request).
    """

    __slots__ = ("patterns", "match_all", "exact", "prefixes", "regex", "ignore_case")

    def __init__(self, patterns: Iterable[str], ignore_case: bool = False) -> None:
        pats = tuple(p.lower() if ignore_case else p for p in patterns)
        self.patterns = pats
        self.ignore_case = ignore_case
        self.match_all = "*" in pats
        exact: set[str] = set()
        prefixes: list[str] = []
        rest: list[str] = []
        for p in pats:
            if not has_wildcard(p):
                exact.add(p)
            elif p.endswith("*") and not has_wildcard(p[:-1]):
                prefixes.append(p[:-1])
            else:
                rest.append(p)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.regex = (
            re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in rest), re.DOTALL) if rest else None
        )

    def matches(self, text: str) -> bool:
        if self.match_all or text in self.exact:
            return True
        if self.prefixes and text.startswith(self.prefixes):
            return True
        regex = self.regex
        return regex is not None and regex.fullmatch(text) is not None

    # --- request patterns (simulation of a request whose resource is itself a glob) ----------------
    def intersects(self, pattern: str) -> bool:
        """Some string matched by ``pattern`` is also matched by one of ours."""
        return any(glob_intersects(p, pattern) for p in self.patterns)

    def covers(self, pattern: str) -> bool:
        """Every string matched by ``pattern`` is matched by one of ours (sound, not complete)."""
        return any(glob_covers(p, pattern) for p in self.patterns)

    def __repr__(self) -> str:
        return f"PatternSet({list(self.patterns)!r})"


@lru_cache(maxsize=4096)
def glob_intersects(a: str, b: str) -> bool:
    """Whether two glob patterns match at least one common string."""
    la, lb = len(a), len(b)
    seen: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        key = (i, j)
        if key in seen:
            return seen[key]
        seen[key] = False
        if i == la and j == lb:
            res = True
        elif i < la and a[i] == "*":
            res = go(i + 1, j) or (j < lb and go(i, j + 1))
        elif j < lb and b[j] == "*":
            res = go(i, j + 1) or (i < la and go(i + 1, j))
        elif i < la and j < lb:
            res = (a[i] == "?" or b[j] == "?" or a[i] == b[j]) and go(i + 1, j + 1)
        else:
            res = False
        seen[key] = res
        return res

    return go(0, 0)


@lru_cache(maxsize=4096)
def _cover_regex(general: str) -> re.Pattern[str]:
    # Match ``general`` against the *text* of the specific pattern: our ``*`` absorbs anything
    # (including its wildcards), our ``?`` one character that is not the other side's ``*``, and our
    # literals only themselves.
    out: list[str] = []
    for ch in general:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(r"[^*]")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def glob_covers(general: str, specific: str) -> bool:
    """Whether every string matched by ``specific`` is matched by ``general``."""
    return _cover_regex(general).fullmatch(specific) is not None
