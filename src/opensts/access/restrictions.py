"""Which credentials may call which STS and IAM actions at all, before any policy
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#stsapi_comparison).

* GetFederationToken credentials: no IAM; of STS only GetCallerIdentity and GetScopedCredentials.
* GetSessionToken credentials (user or root): IAM only with MFA; of STS only AssumeRole,
  GetCallerIdentity and GetScopedCredentials.
* AssumeRole* credentials: anything but GetSessionToken and GetFederationToken (those actions
  refuse session credentials themselves).

AWS answers IAM calls made with such credentials with InvalidClientTokenId, and STS calls with
AccessDenied.
"""

from __future__ import annotations

from opensts.errors import AccessDenied, InvalidClientTokenId
from opensts.identity.principal import Caller

INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
# GetScopedCredentials exists to scope down any temporary credentials, federated users' included
# (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html).
_SESSION_STS_ACTIONS = frozenset({"AssumeRole", "GetCallerIdentity", "GetScopedCredentials"})
_FEDERATED_STS_ACTIONS = frozenset({"GetCallerIdentity", "GetScopedCredentials"})


def check_credentials_may_call(caller: Caller | None, service: str, action: str) -> None:
    claims = caller.session if caller is not None else None
    if claims is None:
        return
    if claims.kind == "federated-user":
        if service == "iam":
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
        if service == "sts" and action not in _FEDERATED_STS_ACTIONS:
            raise AccessDenied(f"Cannot call {action} with federated user credentials")
    elif claims.kind in ("session", "root-session"):
        if service == "iam" and claims.mfa_authenticated_at is None:
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE)
        if service == "sts" and action not in _SESSION_STS_ACTIONS:
            raise AccessDenied(f"Cannot call {action} with session credentials")
