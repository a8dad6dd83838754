"""GetContextKeysForCustomPolicy and GetContextKeysForPrincipalPolicy: the condition keys that
policies read, so that a simulation can be given their values.

- https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetContextKeysForCustomPolicy.html: the
  keys of PolicyInputList's policies. The caller needs ``iam:GetContextKeysForCustomPolicy`` on ``*``.
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetContextKeysForPrincipalPolicy.html: the
  keys of the policies of the user, group or role named by PolicySourceArn (for a user, its groups'
  too), then of PolicyInputList's. The caller needs ``iam:GetContextKeysForPrincipalPolicy`` on
  PolicySourceArn. The entity's permissions boundary is not among them.

Every statement counts, whatever its action. Keys are listed as written in the policies, each once
(keys are case-insensitive: the first spelling is kept), in the order they appear (``keys``).
"""

from __future__ import annotations

from opensts.actions import ActionContext, action
from opensts.iam.common import authorize_iam

from .keys import policy_keys
from .request import GetContextKeysForCustomPolicyRequest, GetContextKeysForPrincipalPolicyRequest
from .results import ContextKeysResult
from .sources import Sources, load_source_entity


@action("iam", "GetContextKeysForCustomPolicy", request=GetContextKeysForCustomPolicyRequest)
def get_context_keys_for_custom_policy(
    ctx: ActionContext, request: GetContextKeysForCustomPolicyRequest
) -> ContextKeysResult:
    authorize_iam(ctx, "GetContextKeysForCustomPolicy", "*")
    policies = Sources().add_inputs("PolicyInputList", request.policy_input_list)
    return ContextKeysResult(policy_keys(policies))


@action("iam", "GetContextKeysForPrincipalPolicy", request=GetContextKeysForPrincipalPolicyRequest)
def get_context_keys_for_principal_policy(
    ctx: ActionContext, request: GetContextKeysForPrincipalPolicyRequest
) -> ContextKeysResult:
    authorize_iam(ctx, "GetContextKeysForPrincipalPolicy", request.policy_source_arn)
    entity = load_source_entity(ctx, request.policy_source_arn)
    sources = Sources()
    stored = sources.add_stored(entity.documents)
    given = sources.add_inputs("PolicyInputList", request.policy_input_list)
    return ContextKeysResult(policy_keys([*stored, *given]))
