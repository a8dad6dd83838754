"""The simulation actions' results, as AWS's model shapes them.

- https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_ResourceSpecificResult.html
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_Statement.html (a matched statement)
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_PermissionsBoundaryDecisionDetail.html

Decisions are ``allowed``, ``explicitDeny`` or ``implicitDeny``. ``SourcePolicyType`` is ``user``,
``group``, ``role``, ``aws-managed``, ``user-managed``, ``resource`` or ``none`` (a policy given in
the request). Positions are 1-based lines and columns in the policy text: StartPosition is the
statement's first character (its ``{``), EndPosition the character just after its last.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.policy import Outcome

DECISIONS = {Outcome.ALLOW: "allowed", Outcome.EXPLICIT_DENY: "explicitDeny", Outcome.IMPLICIT_DENY: "implicitDeny"}
RESTRICTIVENESS = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}  # to take the most restrictive


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class StatementRef:
    source_policy_id: str
    source_policy_type: str | None = None
    start_position: Position | None = None
    end_position: Position | None = None


@dataclass(frozen=True, slots=True)
class PermissionsBoundaryDecisionDetail:
    allowed_by_permissions_boundary: bool


@dataclass(frozen=True, slots=True)
class ResourceSpecificResult:
    eval_resource_name: str
    eval_resource_decision: str
    matched_statements: list[StatementRef]
    missing_context_values: list[str]
    eval_decision_details: dict[str, str] | None = None
    permissions_boundary_decision_detail: PermissionsBoundaryDecisionDetail | None = None


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    eval_action_name: str
    eval_resource_name: str
    eval_decision: str
    matched_statements: list[StatementRef]
    missing_context_values: list[str]
    permissions_boundary_decision_detail: PermissionsBoundaryDecisionDetail | None = None
    eval_decision_details: dict[str, str] | None = None
    resource_specific_results: list[ResourceSpecificResult] | None = None


@dataclass(frozen=True, slots=True)
class SimulatePolicyResult:
    """SimulateCustomPolicy's and SimulatePrincipalPolicy's result."""

    evaluation_results: list[EvaluationResult]
    is_truncated: bool = False
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class ContextKeysResult:
    """GetContextKeysForCustomPolicy's and GetContextKeysForPrincipalPolicy's result."""

    context_key_names: list[str]
