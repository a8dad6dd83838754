"""Trust policies name users and roles by ARN, but trust the *entity*, as AWS does.

When a trust policy is written (CreateRole, UpdateAssumeRolePolicy), every IAM user or role ARN in
its ``Principal.AWS`` must name an existing user or role — else ``MalformedPolicyDocument`` "Invalid
principal in policy" — and its unique id (AIDA…/AROA…) is remembered with the role. When the policy
is used, a principal whose ARN now belongs to another entity (deleted, perhaps re-created under the
same name) or to none is replaced by the remembered unique id, so it matches nobody: a new "bob" is
not the "bob" the role trusted. GetRole shows the policy the same way (AWS shows the unique id too).

Account principals (``"123456789012"``, ``arn:aws:iam::ACCT:root``), session ARNs, wildcards,
``Federated`` and ``Service`` principals are kept as written.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opensts.access.policy_sets import ENTITY_ARN, IamState, current_entity_id
from opensts.errors import MalformedPolicyDocument

if TYPE_CHECKING:
    from opensts.store.iam_roles import RoleRecord


def _aws_principals(document: dict[str, Any]) -> list[str]:
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found: list[str] = []
    for statement in statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict):
            aws = principal.get("AWS", [])
            found.extend(a for a in ([aws] if isinstance(aws, str) else aws) if isinstance(a, str))
    return found


def entity_arns(document_text: str) -> list[str]:
    """The IAM user and role ARNs a (valid) trust policy names as AWS principals."""
    return [arn for arn in _aws_principals(json.loads(document_text)) if ENTITY_ARN.match(arn)]


def bind_trust_principals(runtime: IamState, document_text: str) -> str | None:
    """Resolve the policy's user/role principals to unique ids (JSON), or MalformedPolicyDocument."""
    bound: dict[str, str] = {}
    for arn in entity_arns(document_text):
        entity_id = current_entity_id(runtime.store, arn)
        if entity_id is None:
            raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{arn}"')
        bound[arn] = entity_id
    return json.dumps(bound, sort_keys=True) if bound else None


@lru_cache(maxsize=4096)
def _bound(trust_principal_ids: str) -> tuple[tuple[str, str], ...]:
    """The stored {arn: id} map, parsed once per distinct text (AssumeRole reads it every call)."""
    return tuple(json.loads(trust_principal_ids).items())


def effective_trust_policy(runtime: IamState, role: "RoleRecord") -> str:
    """The role's trust policy with principals that no longer name the trusted entity replaced by
    that entity's unique id (which matches no caller). Remembered until the next IAM change."""
    if not role.trust_principal_ids:
        return role.assume_role_policy
    return runtime.policies.remembered(
        ("effective-trust", role.role_id, role.trust_principal_ids, role.assume_role_policy),
        lambda: _effective_trust_policy(runtime, role),
    )


def _effective_trust_policy(runtime: IamState, role: "RoleRecord") -> str:
    stale = {
        arn: entity_id
        for arn, entity_id in _bound(role.trust_principal_ids)
        if runtime.policies.entity_id(arn) != entity_id
    }
    if not stale:
        return role.assume_role_policy
    document = json.loads(role.assume_role_policy)
    statements = document.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        principal = statement.get("Principal") if isinstance(statement, dict) else None
        if isinstance(principal, dict) and "AWS" in principal:
            aws = principal["AWS"]
            if isinstance(aws, str):
                principal["AWS"] = stale.get(aws, aws)
            else:
                principal["AWS"] = [stale.get(a, a) if isinstance(a, str) else a for a in aws]
    return json.dumps(document, separators=(",", ":"))
