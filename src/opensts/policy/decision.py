"""The answer of an evaluation, with enough detail to explain it.

``Decision.authorization_message(request)`` gives the JSON that AWS's DecodeAuthorizationMessage
returns (allowed, explicitDeny, matchedStatements, failures, context) so the STS layer only has to
encrypt it.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from .request import Request


class Outcome(str, Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that applied to the request (action, resource, principal and conditions matched)."""

    policy: str  # the Policy's name (policy ARN, inline name, Id or digest prefix)
    source: str  # identity | resource | boundary | session | scp | rcp | endpoint | scope
    index: int  # 0-based position in the policy
    sid: str | None
    effect: str  # "Allow" | "Deny"

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "source": self.source, "index": self.index, "sid": self.sid, "effect": self.effect}


class Decision:
    """Outcome of :func:`~opensts.policy.evaluate`.

    ``matched``: the statements that decided — every applying Deny for an explicit deny; for an
    allow, the first applying Allow of each policy type that had to allow; for an implicit deny,
    the Allows found in the policy types that did allow. ``blocked_by``: the policy types that
    denied explicitly or failed to allow (identity, resource, boundary, session, scp, rcp,
    endpoint, scope, guardrail, root). ``reasons``: human-readable explanations.
    """

    __slots__ = ("outcome", "reasons", "blocked_by", "_raw", "_matched")

    def __init__(
        self,
        outcome: Outcome,
        matched: "tuple[MatchedStatement, ...] | list[Any]" = (),
        reasons: tuple[str, ...] = (),
        blocked_by: tuple[str, ...] = (),
    ) -> None:
        self.outcome = outcome
        self.reasons = reasons
        self.blocked_by = blocked_by
        # matched may be raw (policy name, source, CompiledStatement) triples; built lazily
        # because most callers only read the outcome.
        self._raw = matched
        self._matched: tuple[MatchedStatement, ...] | None = None

    @property
    def matched(self) -> tuple[MatchedStatement, ...]:
        if self._matched is None:
            out = []
            for item in self._raw:
                if isinstance(item, MatchedStatement):
                    out.append(item)
                else:
                    name, source, cs = item
                    st = cs.statement
                    out.append(MatchedStatement(name, source, st.index, st.sid, st.effect.value))
            self._matched = tuple(out)
        return self._matched

    def __repr__(self) -> str:
        return f"Decision({self.outcome.value}, blocked_by={self.blocked_by!r}, matched={list(self.matched)!r})"

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def explicit_deny(self) -> bool:
        return self.outcome is Outcome.EXPLICIT_DENY

    def __bool__(self) -> bool:
        return self.outcome is Outcome.ALLOW

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.outcome.value,
            "allowed": self.allowed,
            "explicitDeny": self.explicit_deny,
            "matchedStatements": [m.to_dict() for m in self.matched],
            "blockedBy": list(self.blocked_by),
            "reasons": list(self.reasons),
        }

    def authorization_message(self, request: Request) -> dict[str, Any]:
        """The decoded DecodeAuthorizationMessage document for this decision (the format https://docs.aws.amazon.com/STS/latest/APIReference/API_DecodeAuthorizationMessage.html documents)."""
        p = request.principal
        items = []
        for m in self.matched:
            items.append(
                {
                    "statementId": m.sid or f"{m.policy}#{m.index}",
                    "effect": m.effect.upper(),
                    "policy": m.policy,
                    "source": m.source,
                }
            )
        return {
            "allowed": self.allowed,
            "explicitDeny": self.explicit_deny,
            "matchedStatements": {"items": items},
            "failures": {"items": [{"reason": r} for r in self.reasons] if not self.allowed else []},
            "context": {
                "principal": {"id": p.id or p.arn, "arn": p.arn},
                "action": request.action,
                "resource": request.resource,
                "conditions": {
                    "items": [
                        {"key": k, "values": {"items": [{"value": v} for v in vals]}}
                        for k, vals in sorted(request.ctx.items())
                    ]
                },
            },
        }
