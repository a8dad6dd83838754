"""IAM roles: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole, TagRole/UntagRole/ListRoleTags,
PutRolePermissionsBoundary/DeleteRolePermissionsBoundary.

Shapes follow botocore's IAM model (``Role``); trust policies are validated with the policy
engine's trust grammar and counted against AWS's 2,048-character quota (whitespace not counted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Callable

from opensts.access.authorize import authorize
from opensts.access.trust_principals import bind_trust_principals, effective_trust_policy
from opensts.actions import ActionContext, Params, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from opensts.iam.shapes import PermissionsBoundary, RoleLastUsed, boundary_shape
from opensts.iam.common import (
    tag_context,
    read_tag_keys,
    DESCRIPTION_PATTERN,
    ROLE_NAME_PATTERN,
    Tag,
    caller_account,
    encode_policy_document,
    paginate,
    read_pagination,
    read_path,
    read_path_prefix,
    read_policy_document,
    read_tags,
    resource_arn,
    validate_policy_document,
)
from opensts.params import ParamReader
from opensts.policy import TRUST_POLICY_MAX_SIZE, Policy, policy_size
from opensts.store.iam_roles import EntityExists, RoleRecord, TooManyTags

DEFAULT_MAX_SESSION_DURATION = 3600
MAX_TAGS = 50


# --- Shapes -----------------------------------------------------------------------------------




@dataclass(frozen=True, slots=True)
class Role:
    path: str
    role_name: str
    role_id: str
    arn: str
    create_date: datetime
    assume_role_policy_document: str
    description: str | None = None
    max_session_duration: int | None = None
    permissions_boundary: PermissionsBoundary | None = None
    tags: list[Tag] | None = None
    role_last_used: RoleLastUsed | None = None


@dataclass(frozen=True, slots=True)
class RoleResult:
    role: Role


@dataclass(frozen=True, slots=True)
class UpdateRoleResult:
    """Empty, but present: botocore's model gives UpdateRole an (empty) output shape."""


@dataclass(frozen=True, slots=True)
class ListRolesResult:
    roles: list[Role]
    is_truncated: bool
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class ListTagsResult:
    tags: list[Tag]
    is_truncated: bool
    marker: str | None = None




def role_shape(
    role: RoleRecord,
    tags: list[tuple[str, str]] | None = None,
    *,
    full: bool = True,
    pending_use: tuple | None = None,
    trust_policy: str | None = None,
) -> Role:
    """``full``: GetRole/CreateRole; ListRoles leaves out boundary, tags and last use, as AWS does.
    ``pending_use``: a (when, region) use this process saw but has not written yet.
    ``trust_policy``: the policy to show (principals that no longer exist appear as unique ids)."""
    last_used = RoleLastUsed(role.last_used_at, role.last_used_region)
    if pending_use is not None and (role.last_used_at is None or pending_use[0] > role.last_used_at):
        last_used = RoleLastUsed(pending_use[0].replace(microsecond=0), pending_use[1])
    return Role(
        path=role.path,
        role_name=role.name,
        role_id=role.role_id,
        arn=role.arn,
        create_date=role.created_at,
        assume_role_policy_document=encode_policy_document(trust_policy or role.assume_role_policy),
        description=role.description or None,
        max_session_duration=role.max_session_duration,
        permissions_boundary=boundary_shape(role.permissions_boundary_arn) if full else None,
        tags=[Tag(k, v) for k, v in tags] if full and tags else None,
        role_last_used=last_used if full else None,
    )


# --- Helpers shared with the policy modules ---------------------------------------------------
def read_role_name(reader: ParamReader, name: str = "RoleName") -> str:
    value = reader.string(name, required=True, min_len=1, max_len=64, pattern=ROLE_NAME_PATTERN)
    return value or ""


def no_such_role(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


def authorized_role(
    ctx: ActionContext,
    action_name: str,
    name: str,
    context: dict[str, Any] | None = None,
    context_of: Callable[[RoleRecord], dict[str, Any]] | None = None,
) -> RoleRecord:
    """Look the role up, authorize ``iam:ACTION`` on its ARN, then report it missing (never before
    authorization, so that callers without permission learn nothing about which roles exist).
    ``context_of``: extra condition keys that depend on the role (e.g. its boundary)."""
    account = caller_account(ctx)
    role = ctx.runtime.store.roles.get(account, name)
    resource = role.arn if role else resource_arn(account, "role", name)
    if role is not None and context_of is not None:
        context = {**(context or {}), **context_of(role)}
    authorize(ctx, f"iam:{action_name}", resource, context=context)
    if role is None:
        raise no_such_role(name)
    return role


def read_required_tags(reader: ParamReader) -> list[Tag]:
    if "Tags" not in reader.params:
        reader.fail(None, "tags", "Member must not be null")
    return read_tags(reader, max_items=MAX_TAGS)


def too_many_tags(kind: str) -> LimitExceeded:
    return LimitExceeded(f"Cannot exceed quota for TagsPer{kind}: {MAX_TAGS}")


def read_boundary(reader: ParamReader, *, required: bool = False) -> str | None:
    return reader.string("PermissionsBoundary", required=required, min_len=20, max_len=2048)


def check_boundary(ctx: ActionContext, policy_arn: str) -> None:
    """A permissions boundary must be a managed policy of the caller's account."""
    from opensts.iam.managed_policies import check_policy_arn

    check_policy_arn(policy_arn)
    if ctx.runtime.store.managed_policies.get(caller_account(ctx), policy_arn) is None:
        raise NoSuchEntity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")


def validate_trust_policy(ctx: ActionContext, text: str) -> Policy:
    """Trust grammar and the 2,048-character quota (principals are checked by bind_trust_principals)."""
    policy = validate_policy_document(text, "trust")
    if policy_size(text) > TRUST_POLICY_MAX_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_MAX_SIZE}")
    return policy


# --- Actions ----------------------------------------------------------------------------------
@action("iam", "CreateRole")
def create_role(ctx: ActionContext, params: Params) -> RoleResult:
    reader = ParamReader(params)
    name = read_role_name(reader)
    path = read_path(reader)
    document = read_policy_document(reader, "AssumeRolePolicyDocument")
    if document is None:
        reader.fail(None, "assumeRolePolicyDocument", "Member must not be null")
    description = reader.string("Description", max_len=1000, pattern=DESCRIPTION_PATTERN)
    max_session = reader.integer("MaxSessionDuration", min_value=3600, max_value=43200)
    boundary = read_boundary(reader)
    tags = read_tags(reader, max_items=MAX_TAGS)
    reader.done()
    assert document is not None
    account = caller_account(ctx)
    context = tag_context(tags)
    if boundary:
        context["iam:PermissionsBoundary"] = boundary
    authorize(ctx, "iam:CreateRole", resource_arn(account, "role", name, path), context=context)
    validate_trust_policy(ctx, document)
    principal_ids = bind_trust_principals(ctx.runtime, document)
    if boundary:
        check_boundary(ctx, boundary)
    from opensts.identity.ids import new_role_id

    try:
        role = ctx.runtime.store.roles.create(
            role_id=new_role_id(),
            account_id=account,
            name=name,
            path=path,
            assume_role_policy=document,
            description=description,
            max_session_duration=max_session or DEFAULT_MAX_SESSION_DURATION,
            permissions_boundary_arn=boundary,
            created_at=ctx.request_time,
            tags=[(t.key, t.value) for t in tags],
            trust_principal_ids=principal_ids,
        )
    except EntityExists:
        raise EntityAlreadyExists(f"Role with name {name} already exists.") from None
    full = role_shape(role, [(t.key, t.value) for t in tags])
    # CreateRole answers without RoleLastUsed (the role was never used).
    return RoleResult(replace(full, role_last_used=None))


@action("iam", "GetRole")
def get_role(ctx: ActionContext, params: Params) -> RoleResult:
    reader = ParamReader(params)
    name = read_role_name(reader)
    reader.done()
    role = authorized_role(ctx, "GetRole", name)
    store = ctx.runtime.store
    return RoleResult(
        role_shape(
            role, store.roles.tags(role.role_id), pending_use=store.role_use.pending(role.role_id),
            trust_policy=effective_trust_policy(ctx.runtime, role),
        )
    )


@action("iam", "ListRoles")
def list_roles(ctx: ActionContext, params: Params) -> ListRolesResult:
    reader = ParamReader(params)
    prefix = read_path_prefix(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize(ctx, "iam:ListRoles", resource_arn(account, "role", "", prefix))
    roles = ctx.runtime.store.roles.list(account, prefix)
    page = paginate(roles, marker, max_items, key=lambda r: r.name.lower())
    shapes = [role_shape(r, full=False, trust_policy=effective_trust_policy(ctx.runtime, r)) for r in page.items]
    return ListRolesResult(shapes, page.is_truncated, page.marker)


@action("iam", "UpdateRole")
def update_role(ctx: ActionContext, params: Params) -> UpdateRoleResult:
    reader = ParamReader(params)
    name = read_role_name(reader)
    description = reader.string("Description", max_len=1000, pattern=DESCRIPTION_PATTERN)
    max_session = reader.integer("MaxSessionDuration", min_value=3600, max_value=43200)
    reader.done()
    role = authorized_role(ctx, "UpdateRole", name)
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = description
    if max_session is not None:
        changes["max_session_duration"] = max_session
    if changes:
        ctx.runtime.store.roles.update(role.account_id, role.name, **changes)
    return UpdateRoleResult()


@action("iam", "UpdateRoleDescription")
def update_role_description(ctx: ActionContext, params: Params) -> RoleResult:
    reader = ParamReader(params)
    name = read_role_name(reader)
    description = reader.string("Description", required=True, max_len=1000, pattern=DESCRIPTION_PATTERN)
    reader.done()
    role = authorized_role(ctx, "UpdateRoleDescription", name)
    updated = ctx.runtime.store.roles.update(role.account_id, role.name, description=description)
    if updated is None:
        raise no_such_role(name)
    return RoleResult(role_shape(updated, ctx.runtime.store.roles.tags(role.role_id)))


@action("iam", "UpdateAssumeRolePolicy")
def update_assume_role_policy(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_role_name(reader)
    document = read_policy_document(reader)
    if document is None:
        reader.fail(None, "policyDocument", "Member must not be null")
    reader.done()
    assert document is not None
    role = authorized_role(ctx, "UpdateAssumeRolePolicy", name)
    validate_trust_policy(ctx, document)
    principal_ids = bind_trust_principals(ctx.runtime, document)
    updated = ctx.runtime.store.roles.update(
        role.account_id, role.name, assume_role_policy=document, trust_principal_ids=principal_ids
    )
    if updated is None:
        raise no_such_role(name)
    return None


@action("iam", "DeleteRole")
def delete_role(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_role_name(reader)
    reader.done()
    role = authorized_role(ctx, "DeleteRole", name)
    outcome = ctx.runtime.store.roles.delete(role.account_id, role.name)
    if outcome == "missing":
        raise no_such_role(name)
    if outcome == "attached":
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    if outcome == "inline":
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    return None


@action("iam", "TagRole")
def tag_role(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_role_name(reader)
    tags = read_required_tags(reader)
    reader.done()
    role = authorized_role(ctx, "TagRole", name, tag_context(tags))
    try:
        ctx.runtime.store.roles.tag(role.role_id, [(t.key, t.value) for t in tags])
    except TooManyTags:
        raise too_many_tags("Role") from None
    return None


@action("iam", "UntagRole")
def untag_role(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_role_name(reader)
    keys = read_tag_keys(reader)
    reader.done()
    role = authorized_role(ctx, "UntagRole", name, {"aws:TagKeys": keys} if keys else None)
    ctx.runtime.store.roles.untag(role.role_id, keys)
    return None


@action("iam", "ListRoleTags")
def list_role_tags(ctx: ActionContext, params: Params) -> ListTagsResult:
    reader = ParamReader(params)
    name = read_role_name(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    role = authorized_role(ctx, "ListRoleTags", name)
    tags = ctx.runtime.store.roles.tags(role.role_id)
    page = paginate(tags, marker, max_items, key=lambda t: t[0].lower())
    return ListTagsResult([Tag(k, v) for k, v in page.items], page.is_truncated, page.marker)


@action("iam", "PutRolePermissionsBoundary")
def put_role_permissions_boundary(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_role_name(reader)
    boundary = read_boundary(reader, required=True)
    reader.done()
    assert boundary is not None
    role = authorized_role(ctx, "PutRolePermissionsBoundary", name, {"iam:PermissionsBoundary": boundary})
    check_boundary(ctx, boundary)
    ctx.runtime.store.roles.update(role.account_id, role.name, permissions_boundary_arn=boundary)
    return None


@action("iam", "DeleteRolePermissionsBoundary")
def delete_role_permissions_boundary(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    name = read_role_name(reader)
    reader.done()
    role = authorized_role(
        ctx, "DeleteRolePermissionsBoundary", name,
        context_of=lambda r: {"iam:PermissionsBoundary": r.permissions_boundary_arn} if r.permissions_boundary_arn else {},
    )
    if role.permissions_boundary_arn:
        ctx.runtime.store.roles.update(role.account_id, role.name, permissions_boundary_arn=None)
    return None

