"""A fixed group of policies evaluated together (a principal's identity policies, say).

Build one per principal and keep it with the principal in the caller's cache: it memoises, per
action, which statements of all its policies can apply, so a decision does one dictionary lookup
instead of one per policy.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Union

from .compile import CompiledStatement
from .model import Policy, PolicyKind
from .parse import parse_policy

PolicyLike = Union[Policy, Mapping[str, Any], str]
Group = tuple[str, tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]  # name, denies, allows

_MEMO_MAX = 4096


def as_policy(p: PolicyLike, kind: PolicyKind) -> Policy:
    return p if isinstance(p, Policy) else parse_policy(p, kind)


class PolicySet:
    __slots__ = ("policies", "kind", "_memo")

    def __init__(self, policies: Iterable[PolicyLike] = (), kind: PolicyKind | str = PolicyKind.IDENTITY) -> None:
        self.kind = PolicyKind(kind)
        self.policies: tuple[Policy, ...] = tuple(as_policy(p, self.kind) for p in policies)
        self._memo: dict[str, tuple[Group, ...]] = {}

    def __len__(self) -> int:
        return len(self.policies)

    def __iter__(self) -> Iterator[Policy]:
        return iter(self.policies)

    def __repr__(self) -> str:
        return f"PolicySet({[p.name for p in self.policies]!r})"

    def groups(self, action_lc: str) -> tuple[Group, ...]:
        found = self._memo.get(action_lc)
        if found is None:
            out = []
            for p in self.policies:
                denies, allows = p.compiled.split(action_lc)
                if denies or allows:
                    out.append((p.name, denies, allows))
            found = tuple(out)
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[action_lc] = found
        return found


def groups_of(policies: "PolicySet | Iterable[PolicyLike]", action_lc: str, kind: PolicyKind) -> tuple[Group, ...] | list[Group]:
    if type(policies) is PolicySet:
        return policies.groups(action_lc)
    out: list[Group] = []
    for p in policies:
        if type(p) is not Policy:
            p = as_policy(p, kind)
        denies, allows = p.compiled.split(action_lc)
        if denies or allows:
            out.append((p.name, denies, allows))
    return out
