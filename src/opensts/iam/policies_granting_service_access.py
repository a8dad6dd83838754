"""ListPoliciesGrantingServiceAccess: which of a user's, group's or role's permissions policies allow
each of the given services (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPoliciesGrantingServiceAccess.html).

As AWS:

- The policies considered are identity policies only (no boundaries, resource or trust policies,
  no session policies): for a user its own inline and managed policies and those of its groups;
  for a group its own; for a role its own.
- A policy grants a service when one of its ``Allow`` statements names an action of it (the
  service prefix before ``:``, with the engine's case-insensitive globbing for wildcards, and
  ``NotAction`` statements that do not exclude the whole service) — the same reading as service
  last accessed data (``iam.common.allowed_namespaces``).
- Managed policies are answered with ``PolicyName``, ``PolicyType`` ``MANAGED`` and ``PolicyArn``;
  inline ones with ``PolicyName``, ``PolicyType`` ``INLINE``, and the ``EntityType``/``EntityName``
  they are embedded in (the user's group, for a group's inline policy seen through a user).
- One entry per requested namespace, in the order given; a namespace no policy grants has an
  empty ``Policies`` list.

Authorization: ``iam:ListPoliciesGrantingServiceAccess`` on the user, group or role ARN (the
service authorization reference's resource types), before saying whether it exists.

Deviation from AWS: the whole answer fits in one page (at most 200 namespaces, each entity's
policies are bounded by IAM's quotas), so ``IsTruncated`` is always false; a ``Marker`` is
accepted and answers the namespaces after the one it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import InvalidInput, NoSuchEntity
from opensts.fields import text_list
from opensts.iam import fields
from opensts.iam.common import allowed_namespaces, authorize_iam, caller_account, resource_arn
from opensts.iam.pagination import paginate
from opensts.identity import arn as arns
from opensts.store.principal_policies import PolicyDocument

SERVICE_NAMESPACE_PATTERN = r"[\w-]*"
MAX_NAMESPACES = 200  # serviceNamespaceListType


# --- Request and result (botocore: ListPoliciesGrantingServiceAccessRequest, ...) ------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ListPoliciesGrantingServiceAccessRequest:
    marker: str | None = fields.marker()
    arn: str = fields.arn("Arn")
    service_namespaces: list[str] = text_list(
        "ServiceNamespaces", required=True, max_items=MAX_NAMESPACES, min_len=1, max_len=64,
        pattern=SERVICE_NAMESPACE_PATTERN,
    )


@dataclass(frozen=True, slots=True)
class PolicyGrantingServiceAccess:
    policy_name: str
    policy_type: str  # INLINE | MANAGED
    policy_arn: str | None = None
    entity_type: str | None = None  # USER | ROLE | GROUP, inline policies only
    entity_name: str | None = None


@dataclass(frozen=True, slots=True)
class ListPoliciesGrantingServiceAccessEntry:
    service_namespace: str
    policies: list[PolicyGrantingServiceAccess]


@dataclass(frozen=True, slots=True)
class ListPoliciesGrantingServiceAccessResult:
    policies_granting_service_access: list[ListPoliciesGrantingServiceAccessEntry]
    is_truncated: bool
    marker: str | None = None


# --- The action -----------------------------------------------------------------------------------
@action("iam", "ListPoliciesGrantingServiceAccess", request=ListPoliciesGrantingServiceAccessRequest)
def list_policies_granting_service_access(
    ctx: ActionContext, request: ListPoliciesGrantingServiceAccessRequest
) -> ListPoliciesGrantingServiceAccessResult:
    if not request.service_namespaces:
        raise InvalidInput("ServiceNamespaces must contain at least one service namespace.")
    documents = _entity_documents(ctx, request.arn)
    wanted = {namespace.lower() for namespace in request.service_namespaces}
    grants = [(_shape(doc), allowed_namespaces([doc.document], wanted)) for doc in documents]
    entries = [
        ListPoliciesGrantingServiceAccessEntry(namespace, [shape for shape, granted in grants if namespace.lower() in granted])
        for namespace in dict.fromkeys(request.service_namespaces)  # each once, in the order given
    ]
    page = paginate(entries, request.marker, MAX_NAMESPACES, key=lambda entry: entry.service_namespace)
    return ListPoliciesGrantingServiceAccessResult(page.items, page.is_truncated, page.marker)


def _entity_documents(ctx: ActionContext, arn_text: str) -> tuple[PolicyDocument, ...]:
    """The identity policies of the user, group or role ``arn_text`` names, once the caller may ask."""
    try:
        parsed = arns.Arn.parse(arn_text)
    except ValueError:
        raise InvalidInput(f"ARN {arn_text} is not valid.") from None
    kind, name = parsed.resource_type, parsed.resource_name
    if parsed.service != "iam" or parsed.region or kind not in ("user", "group", "role") or not name:
        raise InvalidInput(f"ARN {arn_text} is not valid.")
    authorize_iam(ctx, "ListPoliciesGrantingServiceAccess", arn_text)
    store, account = ctx.runtime.store, caller_account(ctx)
    found: tuple[PolicyDocument, ...] | None = None
    if parsed.account == account:
        if kind == "user":
            user = store.users.get(account, name)
            if user is not None and resource_arn(account, "user", user.name, user.path) == arn_text:
                policies = store.principal_policies.for_user(user.user_id)
                found = policies.identity if policies else None
        elif kind == "role":
            role = store.roles.get(account, name)
            if role is not None and role.arn == arn_text:
                policies = store.principal_policies.for_role(role.role_id)
                found = policies.identity if policies else None
        else:
            group = store.groups.get(account, name)
            if group is not None and resource_arn(account, "group", group.name, group.path) == arn_text:
                found = store.principal_policies.for_group(group.group_id)
    if found is None:
        raise NoSuchEntity(f"The {kind} with ARN {arn_text} cannot be found.")
    return found


def _shape(document: PolicyDocument) -> PolicyGrantingServiceAccess:
    """``document.name`` is the policy ARN for a managed policy, ``user|group|role/ENTITY/POLICY`` for
    an inline one (store/principal_policies.py)."""
    if document.name.startswith("arn:"):
        return PolicyGrantingServiceAccess(document.name.rsplit("/", 1)[-1], "MANAGED", policy_arn=document.name)
    owner_type, owner_name, policy_name = document.name.split("/", 2)
    return PolicyGrantingServiceAccess(policy_name, "INLINE", entity_type=owner_type.upper(), entity_name=owner_name)
