"""One simulation: the policies' decision on each action and resource, explained as IAM's simulator
explains it (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_testing-policies.html).

Each action name gives one EvaluationResult. Each resource gives a ResourceSpecificResult, listed
only when ResourceArns were given; the action's decision is the most restrictive of its resources'
(explicitDeny, then implicitDeny, then allowed), with the statements matched by the resources that
share that decision and every resource's missing keys. Without ResourceArns the resource is ``*``.
A resource containing ``*`` or ``?`` is simulated as a pattern standing for many resources
(deviation: OpenSTS's rule, AWS documents none): an Allow applies if it covers some of them, a Deny
only if it covers all of them.

A resource of another account than the caller's (ResourceOwner) needs both sides' permission:
EvalDecisionDetails then gives the identity side's decision ("IAM Policy") and the resource
policy's own ("Resource Policy"). For a resource other than ``*`` in the caller's account,
EvalDecisionDetails is present and empty. A permissions boundary's own decision on the action is
PermissionsBoundaryDecisionDetail. MissingContextValues lists the keys, absent from the context,
that the applying statements read (``keys.missing_keys``).

A federated user has no permissions without session policies; simulating one, the identity
policies given stand for the intersection of its user's and its session's policies.
Deviation: OpenSTS has no AWS Organizations, so no service or resource control policy applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.iam.pagination import paginate
from opensts.policy import Outcome, Policy, Principal, PrincipalType, Request, evaluate, resource_policy_verdict

from .keys import missing_keys, unique_keys
from .request import Context
from .results import (
    DECISIONS, RESTRICTIVENESS, EvaluationResult, PermissionsBoundaryDecisionDetail, ResourceSpecificResult,
    SimulatePolicyResult, StatementRef,
)
from .sources import Sources


@dataclass
class Simulation:
    principal: Principal
    identity: list[Policy]
    boundaries: list[Policy]
    resource_policy: Policy | None
    resource_owner: str | None
    context: Context
    sources: Sources

    def request(self, action_name: str, resource: str, *, own_account: bool = False) -> Request:
        owner = self.principal.account if own_account else self.resource_owner
        return Request(
            self.principal, action_name, resource, resource_account=owner, context=self.context,
            resource_is_pattern="*" in resource or "?" in resource,
        )

    def resource_result(self, action_name: str, resource: str) -> ResourceSpecificResult:
        req = self.request(action_name, resource)
        decision = evaluate(req, self.identity, self.resource_policy, self.boundaries, self._session())
        verdict = DECISIONS[decision.outcome]
        boundary = None
        if self.boundaries:
            allowed = evaluate(self.request(action_name, resource, own_account=True), self.boundaries).allowed
            boundary = PermissionsBoundaryDecisionDetail(allowed)
        cross_account = req.resource_account != self.principal.account
        details: dict[str, str] | None = None
        if cross_account:
            identity_side = evaluate(
                self.request(action_name, resource, own_account=True), self.identity, None, self.boundaries, self._session()
            )
            details = {"IAM Policy": DECISIONS[identity_side.outcome], "Resource Policy": self._resource_side(req)}
        elif resource != "*":
            details = {}
        policies = [*self.identity, *self.boundaries, *([self.resource_policy] if self.resource_policy else [])]
        return ResourceSpecificResult(
            resource, verdict, self.sources.refs(decision), missing_keys(req, policies), details, boundary
        )

    def _session(self) -> list[Policy]:
        """A federated user's session policies: the identity policies given (see the module's text)."""
        return self.identity if self.principal.type is PrincipalType.FEDERATED_USER else []

    def _resource_side(self, req: Request) -> str:
        """The resource policy's own verdict on the caller: explicitDeny, allowed (it names the
        caller, its role or its account) or implicitDeny."""
        if self.resource_policy is None:
            return "implicitDeny"
        verdict = resource_policy_verdict(req, self.resource_policy, has_boundary=bool(self.boundaries))
        return {Outcome.EXPLICIT_DENY: "explicitDeny", Outcome.ALLOW: "allowed"}.get(verdict, "implicitDeny")

    def result(self, action_name: str, resources: list[str], resources_given: bool) -> EvaluationResult:
        per_resource = [self.resource_result(action_name, r) for r in resources]
        worst = max(per_resource, key=lambda r: RESTRICTIVENESS[r.eval_resource_decision])
        decision = worst.eval_resource_decision
        matched: list[StatementRef] = []
        for r in per_resource:
            if r.eval_resource_decision == decision:
                matched += [m for m in r.matched_statements if m not in matched]
        missing = unique_keys(k for r in per_resource for k in r.missing_context_values)
        boundary = None
        if self.boundaries:
            boundary = PermissionsBoundaryDecisionDetail(
                all(r.permissions_boundary_decision_detail.allowed_by_permissions_boundary for r in per_resource)  # type: ignore[union-attr]
            )
        details = worst.eval_decision_details if len(per_resource) == 1 else (
            {} if any(r.eval_decision_details is not None for r in per_resource) else None
        )
        if len(per_resource) > 1:
            cross = [r.eval_decision_details for r in per_resource if r.eval_decision_details]
            if cross:
                details = {k: max((c[k] for c in cross if k in c), key=RESTRICTIVENESS.__getitem__) for k in cross[0]}
        return EvaluationResult(
            eval_action_name=action_name,
            eval_resource_name=resources[0] if len(resources) == 1 else "*",
            eval_decision=decision,
            matched_statements=matched,
            missing_context_values=sorted(missing, key=str.lower),
            permissions_boundary_decision_detail=boundary,
            eval_decision_details=details,
            resource_specific_results=per_resource if resources_given else None,
        )

    def run(self, actions: list[str], resources: list[str], marker: str | None, max_items: int) -> SimulatePolicyResult:
        """One page of results, one per action in the order given (Marker: the last index returned)."""
        indices = [f"{i:06d}" for i in range(len(actions))]
        page = paginate(indices, marker, max_items)
        results = [self.result(actions[int(i)], resources or ["*"], bool(resources)) for i in page.items]
        return SimulatePolicyResult(results, page.is_truncated, page.marker)
