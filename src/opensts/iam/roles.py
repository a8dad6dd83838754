"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole, TagRole/UntagRole/ListRoleTags,
PutRolePermissionsBoundary/DeleteRolePermissionsBoundary.

Shapes follow botocore's IAM model (``Role``). A trust policy is validated with the policy engine's
trust grammar and counted against AWS's quota of 2,048 characters, whitespace not counted
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); its principals are
bound to their unique ids, so a principal deleted and recreated with the same name is not trusted
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
Names are unique per account case-insensitively. Every action authorizes ``iam:ACTION`` on the
role's ARN before it says whether the role exists
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html and the pages beside it).

Service-linked roles (path ``/aws-service-role/``, made by CreateServiceLinkedRole) are protected,
as AWS protects them: DeleteRole, UpdateAssumeRolePolicy, Put/DeleteRolePermissionsBoundary and an
UpdateRole that sets MaxSessionDuration are UnmodifiableEntity; their description and tags stay
editable. CreateRole refuses that path (InvalidInput, AWS's wording).

AssumeRole does not read roles through this module: ``access/`` and ``sts/`` do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from opensts.access.trust_principals import bind_trust_principals, effective_trust_policy
from opensts.actions import ActionContext, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, InvalidInput, LimitExceeded
from opensts.fields import integer
from opensts.iam import fields, tagging
from opensts.iam.common import (
    authorize_iam,
    boundary_context,
    caller_account,
    resource_arn,
    validate_policy_document,
)
from opensts.iam.entities import (
    DELETE_CONFLICT_MESSAGES,
    SERVICE_LINKED_ROLE_PATH,
    authorized_role,
    check_boundary,
    is_service_linked,
    no_such_role,
    refuse_protected_role,
)
from opensts.iam.pagination import paginate
from opensts.iam.shapes import DEFAULT_MAX_SESSION_DURATION, Role, RoleResult, role_shape
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import ids
from opensts.policy import TRUST_POLICY_MAX_SIZE, Policy, policy_size
from opensts.store.errors import EntityExists

TAG_QUOTA = "TagsPerRole"


def max_session_field(*, default: int | None = None) -> Any:
    """``roleMaxSessionDurationType``: 3,600 to 43,200 seconds."""
    return integer("MaxSessionDuration", min_value=3600, max_value=43200, default=default)


# --- Requests (botocore: CreateRoleRequest, ...) and results ---------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateRoleRequest:
    role_name: str = fields.role_name()
    path: str = fields.path()
    assume_role_policy_document: str = fields.policy_document("AssumeRolePolicyDocument")
    description: str | None = fields.description()
    max_session_duration: int = max_session_field(default=DEFAULT_MAX_SESSION_DURATION)
    permissions_boundary: str | None = fields.permissions_boundary()
    tags: list[Tag] = tagging.tags()


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleNameRequest:
    """GetRole, DeleteRole, DeleteRolePermissionsBoundary."""

    role_name: str = fields.role_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRolesRequest:
    path_prefix: str = fields.path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateRoleRequest:
    role_name: str = fields.role_name()
    description: str | None = fields.description()
    max_session_duration: int | None = max_session_field()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateRoleDescriptionRequest:
    role_name: str = fields.role_name()
    description: str = fields.description(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateAssumeRolePolicyRequest:
    role_name: str = fields.role_name()
    policy_document: str = fields.policy_document()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagRoleRequest:
    role_name: str = fields.role_name()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagRoleRequest:
    role_name: str = fields.role_name()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRoleTagsRequest:
    role_name: str = fields.role_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class PutRolePermissionsBoundaryRequest:
    role_name: str = fields.role_name()
    permissions_boundary: str = fields.permissions_boundary(required=True)


@dataclass(frozen=True, slots=True)
class UpdateRoleResult:
    """Empty, but present: botocore's model gives UpdateRole an (empty) output shape."""


@dataclass(frozen=True, slots=True)
class ListRolesResult:
    roles: list[Role]
    is_truncated: bool
    marker: str | None = None


def validate_trust_policy(text: str) -> Policy:
    """Trust grammar and the 2,048-character quota (principals are checked by bind_trust_principals)."""
    policy = validate_policy_document(text, "trust")
    if policy_size(text) > TRUST_POLICY_MAX_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX_SIZE}")
    return policy


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateRole", request=CreateRoleRequest, writes=True)
def create_role(ctx: ActionContext, request: CreateRoleRequest) -> RoleResult:
    name, path, document, boundary = (
        request.role_name, request.path, request.assume_role_policy_document, request.permissions_boundary,
    )
    account = caller_account(ctx)
    authorize_iam(
        ctx, "CreateRole", resource_arn(account, "role", name, path),
        {**tag_context(request.tags), **boundary_context(boundary)},
    )
    if is_service_linked(path):
        raise InvalidInput(f"Path prefix '{SERVICE_LINKED_ROLE_PATH}' can only be used for AWS Service linked Roles")
    validate_trust_policy(document)
    principal_ids = bind_trust_principals(ctx.runtime, document)
    if boundary:
        check_boundary(ctx, boundary)
    try:
        role = ctx.runtime.store.roles.create(
            role_id=ids.new_role_id(),
            account_id=account,
            name=name,
            path=path,
            assume_role_policy=document,
            description=request.description,
            max_session_duration=request.max_session_duration,
            permissions_boundary_arn=boundary,
            created_at=ctx.request_time,
            tags=pairs(request.tags),
            trust_principal_ids=principal_ids,
        )
    except EntityExists:
        raise EntityAlreadyExists(f"Role with name {name} already exists.") from None
    # CreateRole answers without RoleLastUsed (the role was never used).
    return RoleResult(replace(role_shape(role, pairs(request.tags)), role_last_used=None))


@action("iam", "GetRole", request=RoleNameRequest)
def get_role(ctx: ActionContext, request: RoleNameRequest) -> RoleResult:
    role = authorized_role(ctx, "GetRole", request.role_name)
    store = ctx.runtime.store
    return RoleResult(
        role_shape(
            role, store.roles.tags(role.role_id), pending_use=store.role_use.pending(role.role_id),
            trust_policy=effective_trust_policy(ctx.runtime, role),
        )
    )


@action("iam", "ListRoles", request=ListRolesRequest)
def list_roles(ctx: ActionContext, request: ListRolesRequest) -> ListRolesResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListRoles", resource_arn(account, "role", "", request.path_prefix))
    roles = ctx.runtime.store.roles.list(account, request.path_prefix)
    page = paginate(roles, request.marker, request.max_items, key=lambda r: r.name.lower())
    shapes = [role_shape(r, full=False, trust_policy=effective_trust_policy(ctx.runtime, r)) for r in page.items]
    return ListRolesResult(shapes, page.is_truncated, page.marker)


@action("iam", "UpdateRole", request=UpdateRoleRequest, writes=True)
def update_role(ctx: ActionContext, request: UpdateRoleRequest) -> UpdateRoleResult:
    role = authorized_role(ctx, "UpdateRole", request.role_name)
    if request.max_session_duration is not None:  # a service-linked role's description stays editable
        refuse_protected_role(role.name, role.path)
    changes: dict[str, Any] = {}
    if request.description is not None:
        changes["description"] = request.description
    if request.max_session_duration is not None:
        changes["max_session_duration"] = request.max_session_duration
    if changes:
        ctx.runtime.store.roles.update(role.account_id, role.name, **changes)
    return UpdateRoleResult()


@action("iam", "UpdateRoleDescription", request=UpdateRoleDescriptionRequest, writes=True)
def update_role_description(ctx: ActionContext, request: UpdateRoleDescriptionRequest) -> RoleResult:
    role = authorized_role(ctx, "UpdateRoleDescription", request.role_name)
    updated = ctx.runtime.store.roles.update(role.account_id, role.name, description=request.description)
    if updated is None:  # deleted since the lookup
        raise no_such_role(request.role_name)
    return RoleResult(role_shape(updated, ctx.runtime.store.roles.tags(role.role_id)))


@action("iam", "UpdateAssumeRolePolicy", request=UpdateAssumeRolePolicyRequest, writes=True)
def update_assume_role_policy(ctx: ActionContext, request: UpdateAssumeRolePolicyRequest) -> None:
    document = request.policy_document
    role = authorized_role(ctx, "UpdateAssumeRolePolicy", request.role_name)
    refuse_protected_role(role.name, role.path)
    validate_trust_policy(document)
    principal_ids = bind_trust_principals(ctx.runtime, document)
    updated = ctx.runtime.store.roles.update(
        role.account_id, role.name, assume_role_policy=document, trust_principal_ids=principal_ids
    )
    if updated is None:  # deleted since the lookup
        raise no_such_role(request.role_name)


@action("iam", "DeleteRole", request=RoleNameRequest, writes=True)
def delete_role(ctx: ActionContext, request: RoleNameRequest) -> None:
    role = authorized_role(ctx, "DeleteRole", request.role_name)
    refuse_protected_role(role.name, role.path)
    outcome = ctx.runtime.store.roles.delete(role.account_id, role.name)
    if outcome == "missing":
        raise no_such_role(request.role_name)
    if outcome == "instance_profiles":
        raise DeleteConflict(DELETE_CONFLICT_MESSAGES["instance_profiles"])
    if outcome == "attached":
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if outcome == "inline":
        raise DeleteConflict("Cannot delete entity, must delete policies first.")


@action("iam", "TagRole", request=TagRoleRequest, writes=True)
def tag_role(ctx: ActionContext, request: TagRoleRequest) -> None:
    role = authorized_role(ctx, "TagRole", request.role_name, tag_context(request.tags))
    add_tags(lambda new: ctx.runtime.store.roles.tag(role.role_id, new), request.tags, TAG_QUOTA)


@action("iam", "UntagRole", request=UntagRoleRequest, writes=True)
def untag_role(ctx: ActionContext, request: UntagRoleRequest) -> None:
    role = authorized_role(ctx, "UntagRole", request.role_name, untag_context(request.tag_keys))
    ctx.runtime.store.roles.untag(role.role_id, request.tag_keys)


@action("iam", "ListRoleTags", request=ListRoleTagsRequest)
def list_role_tags(ctx: ActionContext, request: ListRoleTagsRequest) -> ListTagsResult:
    role = authorized_role(ctx, "ListRoleTags", request.role_name)
    return tags_page(ctx.runtime.store.roles.tags(role.role_id), request.marker, request.max_items)


@action("iam", "PutRolePermissionsBoundary", request=PutRolePermissionsBoundaryRequest, writes=True)
def put_role_permissions_boundary(ctx: ActionContext, request: PutRolePermissionsBoundaryRequest) -> None:
    boundary = request.permissions_boundary
    role = authorized_role(ctx, "PutRolePermissionsBoundary", request.role_name, boundary_context(boundary))
    refuse_protected_role(role.name, role.path)
    check_boundary(ctx, boundary)
    ctx.runtime.store.roles.update(role.account_id, role.name, permissions_boundary_arn=boundary)


@action("iam", "DeleteRolePermissionsBoundary", request=RoleNameRequest, writes=True)
def delete_role_permissions_boundary(ctx: ActionContext, request: RoleNameRequest) -> None:
    role = authorized_role(ctx, "DeleteRolePermissionsBoundary", request.role_name, with_boundary=True)
    refuse_protected_role(role.name, role.path)
    if role.permissions_boundary_arn:
        ctx.runtime.store.roles.update(role.account_id, role.name, permissions_boundary_arn=None)
