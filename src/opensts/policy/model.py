"""Typed, immutable policy documents as parsed from JSON.

These objects are what callers store and pass around; the evaluator works on the compiled form
(:mod:`opensts.policy.compile`), which a :class:`Policy` carries with it so that it is built once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class PolicyKind(str, Enum):
    """Which grammar a document follows (AWS applies different rules to each)."""

    IDENTITY = "identity"  # user/group/role policies, boundaries, session policies: no Principal
    RESOURCE = "resource"  # bucket/key/queue policies: Principal or NotPrincipal required
    TRUST = "trust"  # role trust policies: Principal required, no Resource, no NotPrincipal
    SCP = "scp"  # organisations service control policies: no Principal
    RCP = "rcp"  # organisations resource control policies: Principal required
    ENDPOINT = "endpoint"  # VPC endpoint policies: Principal optional (absent = everyone)


class Effect(str, Enum):
    ALLOW = "Allow"
    DENY = "Deny"


VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A Principal or NotPrincipal element, normalised.

    A bare 12-digit account id in ``AWS`` is stored as the account root ARN, as AWS does.
    """

    wildcard: bool = False  # "*" or {"AWS": "*"}
    aws: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key) pair of a Condition block with its policy values as strings."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # operator without prefix/suffix, e.g. "StringLike"
    set_operator: str | None  # None, "ForAllValues" or "ForAnyValue"
    if_exists: bool
    key: str  # as written
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    index: int  # 0-based position in the policy
    sid: str | None
    effect: Effect
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        return self.sid if self.sid else f"Statement[{self.index}]"


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy document.

    ``name`` identifies the policy in decisions (a policy ARN, "inline:RoleName/PolicyName", ...);
    it defaults to the document's ``Id`` or a digest prefix. ``digest`` is the SHA-256 of the
    canonical JSON, the cache key for compilation.
    """

    version: str
    statements: tuple[Statement, ...]
    kind: PolicyKind
    digest: str
    name: str
    id: str | None = None
    compiled: Any = field(default=None, repr=False, compare=False, hash=False)

    @property
    def uses_variables(self) -> bool:
        return self.version == VERSION_2012

    def named(self, name: str) -> "Policy":
        """The same policy (sharing its compiled form) under another name."""
        from dataclasses import replace

        return replace(self, name=name)
