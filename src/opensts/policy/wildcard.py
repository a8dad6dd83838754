"""Glob patterns of the policy language (``*`` any run of characters, ``?`` one character).

Actions compare case-insensitively, resources and ARNs case-sensitively. ``*`` spans ``/`` and ``:``
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html). A set of patterns compiles to one :class:`PatternSet` that answers with at most three C-level
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


def _escape_segment(segment: str, any_char: str) -> str:
    """Regex text of a star-free piece of a glob: ``?`` is ``any_char``, the rest literal."""
    if "?" not in segment:
        return re.escape(segment)
    return any_char.join(re.escape(piece) for piece in segment.split("?"))


def join_segments(segments: list[str]) -> str:
    """The linear-time regex for a glob already split at its stars.

    ``segments`` are the regex texts of the star-free pieces s0, s1, ..., sk of ``s0*s1*...*sk``
    (each matches strings of one fixed length). The first is anchored at the start, the last at
    the end (the caller uses ``fullmatch``), and every middle piece is taken at its *leftmost*
    occurrence inside an atomic group, ``(?>.*?s)``: the text after it starts with ``*`` in the
    pattern, so any later occurrence could only leave less text for the rest, and the leftmost one
    is never worse. The engine therefore never backtracks into an earlier piece: a match costs at
    most O(len(text) * len(pattern)), where ``.*`` per star would cost exponential time on
    patterns like ``*a*a*a*a*a*b``.
    """
    if len(segments) == 1:
        return segments[0]
    middle = "".join(f"(?>.*?{s})" for s in segments[1:-1] if s)
    return f"{segments[0]}{middle}.*{segments[-1]}"


def glob_segments(pattern: str, any_char: str = ".") -> list[str]:
    return [_escape_segment(s, any_char) for s in pattern.split("*")]


def glob_to_regex(pattern: str) -> str:
    """A regex (for ``fullmatch`` with DOTALL) matching what the glob matches, in linear time."""
    return join_segments(glob_segments(pattern))


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


def _collapse_stars(pattern: str) -> str:
    while "**" in pattern:
        pattern = pattern.replace("**", "*")
    return pattern


@lru_cache(maxsize=4096)
def glob_intersects(a: str, b: str) -> bool:
    """Whether two glob patterns match at least one common string.

    A walk over pairs of positions (i in ``a``, j in ``b``): a star may absorb the other side's
    next token or end; ``?`` meets any non-star token; literals meet equal literals or ``?``.
    Runs of stars are collapsed first (same language). Row by row over ``a`` with the reachable
    positions of ``b`` as the bits of an int, so it is iterative (no recursion limit on long
    patterns) and costs O(len(a) * len(b) / 64) word operations.
    """
    a, b = _collapse_stars(a), _collapse_stars(b)
    lb = len(b)
    full = (1 << (lb + 1)) - 1
    star_b = 0
    any_b = 0  # non-star positions: what our ``?`` meets
    by_char: dict[str, int] = {}
    qmark_b = 0
    for j, ch in enumerate(b):
        bit = 1 << j
        if ch == "*":
            star_b |= bit
        else:
            any_b |= bit
            if ch == "?":
                qmark_b |= bit
            else:
                by_char[ch] = by_char.get(ch, 0) | bit
    row = 1  # reachable j in row 0
    for ch in a:
        if not row:
            return False
        if ch == "*":
            # Our star absorbs any run of b: every j from the first reachable one on.
            row = full & ~((row & -row) - 1)
            # ... and may end at any of them.
            continue
        # b's star (no two in a row after collapsing) may absorb nothing more in this row: j -> j+1.
        row |= (row & star_b) << 1
        meets = any_b if ch == "?" else (by_char.get(ch, 0) | qmark_b)
        # Next row: b's star absorbs our token (stay at j), or the tokens meet (j+1).
        row = (row & star_b) | (((row & meets) << 1) & full)
    # a is done: only b's stars (absorbing nothing) may still advance.
    row |= (row & star_b) << 1
    return bool(row >> lb & 1)


@lru_cache(maxsize=4096)
def _cover_regex(general: str) -> re.Pattern[str]:
    # Match ``general`` against the *text* of the specific pattern: our ``*`` absorbs anything
    # (including its wildcards), our ``?`` one character that is not the other side's ``*``, and our
    # literals only themselves. Built like glob_to_regex, so linear-time too.
    return re.compile(join_segments(glob_segments(general, "[^*]")), re.DOTALL)


def glob_covers(general: str, specific: str) -> bool:
    """Whether every string matched by ``specific`` is matched by ``general``."""
    return _cover_regex(general).fullmatch(specific) is not None
