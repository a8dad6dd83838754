"""SimulateCustomPolicy and SimulatePrincipalPolicy: what the given (and stored) policies decide on
each action and resource.

- https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html: the policies
  are PolicyInputList, PermissionsBoundaryPolicyInputList and ResourcePolicy. The caller needs
  ``iam:SimulateCustomPolicy`` on ``*``.
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html: the policies
  are those of the user, group or role named by PolicySourceArn (for a user, its groups' too), then
  PolicyInputList's; PermissionsBoundaryPolicyInputList, when given, replaces the entity's
  permissions boundary. The caller needs ``iam:SimulatePrincipalPolicy`` on PolicySourceArn.
  Without CallerArn, the simulated caller is the user or role itself (a group has none).

A ResourcePolicy needs a caller to match its Principal against: CallerArn is then required
(InvalidInput), unless PolicySourceArn is a user or role. Results are paginated by action
(Marker, MaxItems). ResourceHandlingOption is validated and otherwise ignored (deviation: OpenSTS
simulates no EC2 scenario). See ``evaluation`` for how decisions are reached and explained.
"""

from __future__ import annotations

from opensts.actions import ActionContext, action
from opensts.errors import InvalidInput
from opensts.iam.common import authorize_iam, caller_account
from opensts.policy import Policy

from .caller import anonymous_caller, caller_principal, owner_account
from .evaluation import Simulation
from .request import SimulateCustomPolicyRequest, SimulatePrincipalPolicyRequest, SimulationRequest, check_actions
from .results import SimulatePolicyResult
from .sources import Sources, load_source_entity


@action("iam", "SimulateCustomPolicy", request=SimulateCustomPolicyRequest)
def simulate_custom_policy(ctx: ActionContext, request: SimulateCustomPolicyRequest) -> SimulatePolicyResult:
    check_actions(request)
    account = caller_account(ctx)
    authorize_iam(ctx, "SimulateCustomPolicy", "*")
    sources = Sources()
    identity, boundaries, resource_policy = _request_policies(sources, request)
    if resource_policy is not None and request.caller_arn is None:
        raise InvalidInput("CallerArn is required when a ResourcePolicy is given: it is the principal the policy is matched against.")
    principal = caller_principal(request.caller_arn) if request.caller_arn else anonymous_caller(account)
    sim = Simulation(
        principal, identity, boundaries, resource_policy, owner_account(request.resource_owner), request.context_entries,
        sources,
    )
    return sim.run(request.action_names, request.resource_arns, request.marker, request.max_items)


@action("iam", "SimulatePrincipalPolicy", request=SimulatePrincipalPolicyRequest)
def simulate_principal_policy(ctx: ActionContext, request: SimulatePrincipalPolicyRequest) -> SimulatePolicyResult:
    check_actions(request)
    authorize_iam(ctx, "SimulatePrincipalPolicy", request.policy_source_arn)
    entity = load_source_entity(ctx, request.policy_source_arn)
    sources = Sources()
    identity, boundaries, resource_policy = _request_policies(sources, request)
    identity = sources.add_stored(entity.documents) + identity
    if not request.permissions_boundary_policy_input_list and entity.boundary is not None:
        boundaries = sources.add_stored([entity.boundary])
    if request.caller_arn:
        principal = caller_principal(request.caller_arn)
    elif entity.kind in ("user", "role"):
        principal = caller_principal(entity.arn, tags=entity.tags, principal_id=entity.entity_id)
    elif resource_policy is not None:
        raise InvalidInput("CallerArn is required when a ResourcePolicy is given and PolicySourceArn is a group.")
    else:
        principal = anonymous_caller(caller_account(ctx))
    sim = Simulation(
        principal, identity, boundaries, resource_policy, owner_account(request.resource_owner), request.context_entries,
        sources,
    )
    return sim.run(request.action_names, request.resource_arns, request.marker, request.max_items)


def _request_policies(sources: Sources, request: SimulationRequest) -> tuple[list[Policy], list[Policy], Policy | None]:
    """The request's identity policies, permissions boundaries and resource policy, in that order."""
    identity = sources.add_inputs("PolicyInputList", request.policy_input_list)
    boundaries = sources.add_inputs("PermissionsBoundaryPolicyInputList", request.permissions_boundary_policy_input_list)
    resource_policy = None
    if request.resource_policy is not None:
        resource_policy = sources.add(request.resource_policy, "resource", "ResourcePolicy", "resource")
    return identity, boundaries, resource_policy
