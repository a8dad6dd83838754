"""IAM's policy simulator: SimulateCustomPolicy, SimulatePrincipalPolicy, GetContextKeysForCustomPolicy
and GetContextKeysForPrincipalPolicy, over the policy engine (``opensts.policy``).

https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_testing-policies.html

- ``request``: the four requests, their parameters and ContextEntries;
- ``sources``: the policies simulated, where each came from (the request, or the entity named by
  PolicySourceArn) and where its statements are in its text;
- ``caller``: the simulated principal and the resources' owner;
- ``keys``: the context keys policies read, taken from the compiled policy;
- ``evaluation``: decisions per action and resource, and their explanation;
- ``results``: the result shapes;
- ``simulate`` and ``context_keys``: the actions.

Importing the package registers the four actions.
"""

from . import context_keys, simulate

__all__ = ["context_keys", "simulate"]
