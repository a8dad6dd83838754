"""Customer managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, versions,
Attach/Detach/ListAttached{User,Role,Group}Policies, ListEntitiesForPolicy, TagPolicy/UntagPolicy/
ListPolicyTags.

OpenSTS holds no AWS managed policies (``arn:aws:iam::aws:policy/...``): ListPolicies with
Scope=AWS is empty, and such ARNs are "not attachable". Quotas as in AWS: a document of at most
6,144 characters (whitespace not counted), ``"Version": "2012-10-17"``, at most 5 versions, at
most 10 managed policies attached per user, role or group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensts.access.authorize import authorize
from opensts.actions import ActionContext, Params, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from opensts.iam.shapes import AttachedPolicy, PolicyVersion
from opensts.iam.common import (
    boundary_context,
    tag_context,
    Tag,
    caller_account,
    encode_policy_document,
    paginate,
    read_pagination,
    read_policy_document,
    read_tag_keys,
    read_tags,
    resource_arn,
    validate_policy_document,
    DESCRIPTION_PATTERN,
    POLICY_NAME_PATTERN,
    PATH_PATTERN,
)
from opensts.iam.inline_policies import GROUP, ROLE, USER, OwnerKind, authorized_owner, no_such_owner, read_owner_name
from opensts.iam.roles import (
    ListTagsResult,
    read_required_tags,
    too_many_tags,
)
from opensts.identity import arn as arns
from opensts.params import ParamReader
from opensts.policy import MANAGED_POLICY_MAX_SIZE, policy_size
from opensts.store.iam_policies import PolicyRecord, PolicyVersionRecord
from opensts.store.iam_roles import EntityExists, TooManyTags

POLICY_PATH_PATTERN = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/"
VERSION_ID_PATTERN = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?"
MAX_VERSIONS = 5
MAX_ATTACHED = 10
MAX_TAGS = 50


# --- Shapes -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Policy:
    policy_name: str
    policy_id: str
    arn: str
    path: str
    default_version_id: str
    attachment_count: int
    permissions_boundary_usage_count: int
    is_attachable: bool
    description: str | None
    create_date: datetime
    update_date: datetime
    tags: list[Tag] | None = None


@dataclass(frozen=True, slots=True)
class PolicyResult:
    policy: Policy


@dataclass(frozen=True, slots=True)
class ListPoliciesResult:
    policies: list[Policy]
    is_truncated: bool
    marker: str | None = None




@dataclass(frozen=True, slots=True)
class PolicyVersionResult:
    policy_version: PolicyVersion


@dataclass(frozen=True, slots=True)
class ListPolicyVersionsResult:
    versions: list[PolicyVersion]
    is_truncated: bool
    marker: str | None = None




@dataclass(frozen=True, slots=True)
class ListAttachedPoliciesResult:
    attached_policies: list[AttachedPolicy]
    is_truncated: bool
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyGroup:
    group_name: str
    group_id: str


@dataclass(frozen=True, slots=True)
class PolicyUser:
    user_name: str
    user_id: str


@dataclass(frozen=True, slots=True)
class PolicyRole:
    role_name: str
    role_id: str


@dataclass(frozen=True, slots=True)
class ListEntitiesForPolicyResult:
    policy_groups: list[PolicyGroup]
    policy_users: list[PolicyUser]
    policy_roles: list[PolicyRole]
    is_truncated: bool
    marker: str | None = None


def policy_shape(record: PolicyRecord, tags: list[tuple[str, str]] | None = None, *, full: bool = True) -> Policy:
    """``full``: GetPolicy/CreatePolicy; ListPolicies leaves out Description and Tags, as AWS does."""
    return Policy(
        policy_name=record.name,
        policy_id=record.policy_id,
        arn=record.arn,
        path=record.path,
        default_version_id=record.default_version_id,
        attachment_count=record.attachment_count,
        permissions_boundary_usage_count=record.boundary_usage_count,
        is_attachable=True,
        description=(record.description or None) if full else None,
        create_date=record.created_at,
        update_date=record.updated_at,
        tags=[Tag(k, v) for k, v in tags] if full and tags else None,
    )


def version_shape(version: PolicyVersionRecord, *, with_document: bool) -> PolicyVersion:
    document = encode_policy_document(version.document) if with_document else None
    return PolicyVersion(document, version.version_id, version.is_default, version.created_at)


# --- Helpers ----------------------------------------------------------------------------------
def check_policy_arn(policy_arn: str) -> arns.Arn:
    """InvalidInput unless ``policy_arn`` is an IAM policy ARN."""
    try:
        parsed = arns.Arn.parse(policy_arn)
    except ValueError:
        raise InvalidInput(f"ARN {policy_arn} is not valid.") from None
    if parsed.service != "iam" or parsed.resource_type != "policy" or parsed.region or not parsed.resource_name:
        raise InvalidInput(f"ARN {policy_arn} is not valid.")
    return parsed


def read_policy_arn(reader: ParamReader) -> str:
    return reader.string("PolicyArn", required=True, min_len=20, max_len=2048) or ""


def read_version_id(reader: ParamReader) -> str:
    return reader.string("VersionId", required=True, pattern=VERSION_ID_PATTERN) or ""


def policy_not_found(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} was not found.")


def version_not_found(policy_arn: str, version_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist or is not attachable.")


def authorized_policy(ctx: ActionContext, action_name: str, policy_arn: str) -> PolicyRecord:
    """Check the ARN, authorize ``iam:ACTION`` on it, then find the policy (in the caller's account)."""
    check_policy_arn(policy_arn)
    authorize(ctx, f"iam:{action_name}", policy_arn)
    record = ctx.runtime.store.managed_policies.get(caller_account(ctx), policy_arn)
    if record is None:
        raise policy_not_found(policy_arn)
    return record


def validate_managed_document(document: str) -> None:
    validate_policy_document(document, "identity", managed=True)
    if policy_size(document) > MANAGED_POLICY_MAX_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX_SIZE}")


# --- Policies ---------------------------------------------------------------------------------
@action("iam", "CreatePolicy")
def create_policy(ctx: ActionContext, params: Params) -> PolicyResult:
    reader = ParamReader(params)
    name = reader.string("PolicyName", required=True, min_len=1, max_len=128, pattern=POLICY_NAME_PATTERN) or ""
    path = reader.string("Path", min_len=1, max_len=512, pattern=POLICY_PATH_PATTERN) or "/"
    document = read_policy_document(reader)
    if document is None:
        reader.fail(None, "policyDocument", "Member must not be null")
    # Deviation: botocore's policyDescriptionType has no pattern; AWS's other descriptions (roles)
    # have this one, and a control character in a description would only break clients.
    description = reader.string("Description", max_len=1000, pattern=DESCRIPTION_PATTERN)
    tags = read_tags(reader, max_items=MAX_TAGS)
    reader.done()
    assert document is not None
    account = caller_account(ctx)
    policy_arn = arns.policy_arn(account, name, path)
    authorize(ctx, "iam:CreatePolicy", resource_arn(account, "policy", name, path), context=tag_context(tags))
    validate_managed_document(document)
    from opensts.identity.ids import new_policy_id

    try:
        record = ctx.runtime.store.managed_policies.create(
            policy_id=new_policy_id(), account_id=account, arn=policy_arn, name=name, path=path,
            description=description, document=document, created_at=ctx.request_time,
            tags=[(t.key, t.value) for t in tags],
        )
    except EntityExists:
        raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.") from None
    return PolicyResult(policy_shape(record, [(t.key, t.value) for t in tags]))


@action("iam", "GetPolicy")
def get_policy(ctx: ActionContext, params: Params) -> PolicyResult:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    reader.done()
    record = authorized_policy(ctx, "GetPolicy", policy_arn)
    return PolicyResult(policy_shape(record, ctx.runtime.store.managed_policies.tags(record.policy_id)))


@action("iam", "ListPolicies")
def list_policies(ctx: ActionContext, params: Params) -> ListPoliciesResult:
    reader = ParamReader(params)
    scope = reader.string("Scope")
    if scope is not None and scope not in ("All", "AWS", "Local"):
        reader.fail(scope, "scope", "Member must satisfy enum value set: [All, AWS, Local]")
    only_attached = reader.boolean("OnlyAttached") or False
    prefix = reader.string("PathPrefix", min_len=1, max_len=512, pattern=POLICY_PATH_PATTERN) or "/"
    usage = reader.string("PolicyUsageFilter")
    if usage is not None and usage not in ("PermissionsPolicy", "PermissionsBoundary"):
        reader.fail(usage, "policyUsageFilter", "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]")
    marker, max_items = read_pagination(reader)
    reader.done()
    account = caller_account(ctx)
    authorize(ctx, "iam:ListPolicies", resource_arn(account, "policy", "", prefix))
    records: list[PolicyRecord] = []
    if scope != "AWS":  # OpenSTS holds only the account's own (Local) policies
        records = ctx.runtime.store.managed_policies.list(account, prefix)
    if only_attached:
        if usage == "PermissionsPolicy":
            records = [r for r in records if r.attachment_count]
        elif usage == "PermissionsBoundary":
            records = [r for r in records if r.boundary_usage_count]
        else:
            records = [r for r in records if r.attachment_count or r.boundary_usage_count]
    page = paginate(records, marker, max_items, key=lambda r: r.name.lower())
    return ListPoliciesResult([policy_shape(r, full=False) for r in page.items], page.is_truncated, page.marker)


@action("iam", "DeletePolicy")
def delete_policy(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    reader.done()
    authorized_policy(ctx, "DeletePolicy", policy_arn)
    outcome = ctx.runtime.store.managed_policies.delete(caller_account(ctx), policy_arn)
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "attached":
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    if outcome == "versions":
        raise DeleteConflict(
            "This policy has more than one version. Before you delete a policy, you must delete the policy's "
            "versions. The default version is deleted with the policy."
        )
    return None


# --- Versions ---------------------------------------------------------------------------------
@action("iam", "CreatePolicyVersion")
def create_policy_version(ctx: ActionContext, params: Params) -> PolicyVersionResult:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    document = read_policy_document(reader)
    if document is None:
        reader.fail(None, "policyDocument", "Member must not be null")
    set_default = reader.boolean("SetAsDefault") or False
    reader.done()
    assert document is not None
    authorized_policy(ctx, "CreatePolicyVersion", policy_arn)
    validate_managed_document(document)
    outcome, version = ctx.runtime.store.managed_policies.create_version(
        caller_account(ctx), policy_arn, document, set_default=set_default, now=ctx.request_time,
        max_versions=MAX_VERSIONS,
    )
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "limit":
        raise LimitExceeded(
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
            "existing version."
        )
    assert version is not None
    return PolicyVersionResult(version_shape(version, with_document=False))


@action("iam", "GetPolicyVersion")
def get_policy_version(ctx: ActionContext, params: Params) -> PolicyVersionResult:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    version_id = read_version_id(reader)
    reader.done()
    authorized_policy(ctx, "GetPolicyVersion", policy_arn)
    exists, version = ctx.runtime.store.managed_policies.get_version(caller_account(ctx), policy_arn, version_id)
    if not exists:
        raise policy_not_found(policy_arn)
    if version is None:
        raise version_not_found(policy_arn, version_id)
    return PolicyVersionResult(version_shape(version, with_document=True))


@action("iam", "ListPolicyVersions")
def list_policy_versions(ctx: ActionContext, params: Params) -> ListPolicyVersionsResult:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    authorized_policy(ctx, "ListPolicyVersions", policy_arn)
    versions = ctx.runtime.store.managed_policies.versions(caller_account(ctx), policy_arn)
    if versions is None:
        raise policy_not_found(policy_arn)
    # Newest first; the marker is a key that grows along the list.
    page = paginate(versions, marker, max_items, key=lambda v: f"{10**9 - v.number:010d}")
    return ListPolicyVersionsResult(
        [version_shape(v, with_document=False) for v in page.items], page.is_truncated, page.marker
    )


@action("iam", "SetDefaultPolicyVersion")
def set_default_policy_version(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    version_id = read_version_id(reader)
    reader.done()
    authorized_policy(ctx, "SetDefaultPolicyVersion", policy_arn)
    outcome = ctx.runtime.store.managed_policies.set_default_version(
        caller_account(ctx), policy_arn, version_id, ctx.request_time
    )
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "missing_version":
        raise version_not_found(policy_arn, version_id)
    return None


@action("iam", "DeletePolicyVersion")
def delete_policy_version(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    version_id = read_version_id(reader)
    reader.done()
    authorized_policy(ctx, "DeletePolicyVersion", policy_arn)
    outcome = ctx.runtime.store.managed_policies.delete_version(caller_account(ctx), policy_arn, version_id)
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "missing_version":
        raise version_not_found(policy_arn, version_id)
    if outcome == "default":
        raise DeleteConflict("Cannot delete the default version of a policy.")
    return None


# --- Attachments ------------------------------------------------------------------------------
def _attach(ctx: ActionContext, params: Params, kind: OwnerKind) -> None:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind) if kind is not USER else _read_user_name(reader)
    policy_arn = read_policy_arn(reader)
    reader.done()
    check_policy_arn(policy_arn)
    owner = _authorized_owner(ctx, kind, f"Attach{kind.label}Policy", name, policy_arn)
    outcome = ctx.runtime.store.managed_policies.attach(
        kind.entity_type, caller_account(ctx), owner.name, policy_arn, max_attached=MAX_ATTACHED
    )
    if outcome == "missing_entity":
        raise no_such_owner(kind, name)
    if outcome == "missing":
        raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
    if outcome == "limit":
        raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{kind.label}: {MAX_ATTACHED}")
    return None


def _detach(ctx: ActionContext, params: Params, kind: OwnerKind) -> None:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind) if kind is not USER else _read_user_name(reader)
    policy_arn = read_policy_arn(reader)
    reader.done()
    check_policy_arn(policy_arn)
    owner = _authorized_owner(ctx, kind, f"Detach{kind.label}Policy", name, policy_arn)
    outcome = ctx.runtime.store.managed_policies.detach(kind.entity_type, caller_account(ctx), owner.name, policy_arn)
    if outcome == "missing_entity":
        raise no_such_owner(kind, name)
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    return None


def _list_attached(ctx: ActionContext, params: Params, kind: OwnerKind) -> ListAttachedPoliciesResult:
    reader = ParamReader(params)
    name = read_owner_name(reader, kind) if kind is not USER else _read_user_name(reader)
    prefix = reader.string("PathPrefix", min_len=1, max_len=512, pattern=POLICY_PATH_PATTERN) or "/"
    marker, max_items = read_pagination(reader)
    reader.done()
    owner = authorized_owner(ctx, kind, f"ListAttached{kind.label}Policies", name)
    attached = ctx.runtime.store.managed_policies.attached(kind.entity_type, caller_account(ctx), owner.name)
    if attached is None:
        raise no_such_owner(kind, name)
    attached = [a for a in attached if a.path.startswith(prefix)]
    page = paginate(attached, marker, max_items, key=lambda a: a.name.lower())
    return ListAttachedPoliciesResult(
        [AttachedPolicy(a.name, a.arn) for a in page.items], page.is_truncated, page.marker
    )


def _read_user_name(reader: ParamReader) -> str:
    # Attach/Detach/ListAttachedUserPolicies take userNameType (max 64), not existingUserNameType.
    return reader.string("UserName", required=True, min_len=1, max_len=64, pattern=USER.name_pattern) or ""


def _authorized_owner(ctx: ActionContext, kind: OwnerKind, action_name: str, name: str, policy_arn: str):  # type: ignore[no-untyped-def]
    account = caller_account(ctx)
    owner = ctx.runtime.store.inline_policies.owner(kind.entity_type, account, name)
    resource = (
        resource_arn(account, kind.entity_type, owner.name, owner.path)
        if owner
        else resource_arn(account, kind.entity_type, name)
    )
    context = {"iam:PolicyARN": policy_arn, **(boundary_context(owner.permissions_boundary_arn) if owner else {})}
    authorize(ctx, f"iam:{action_name}", resource, context=context)
    if owner is None:
        raise no_such_owner(kind, name)
    return owner


@action("iam", "AttachUserPolicy")
def attach_user_policy(ctx: ActionContext, params: Params) -> None:
    return _attach(ctx, params, USER)


@action("iam", "AttachRolePolicy")
def attach_role_policy(ctx: ActionContext, params: Params) -> None:
    return _attach(ctx, params, ROLE)


@action("iam", "AttachGroupPolicy")
def attach_group_policy(ctx: ActionContext, params: Params) -> None:
    return _attach(ctx, params, GROUP)


@action("iam", "DetachUserPolicy")
def detach_user_policy(ctx: ActionContext, params: Params) -> None:
    return _detach(ctx, params, USER)


@action("iam", "DetachRolePolicy")
def detach_role_policy(ctx: ActionContext, params: Params) -> None:
    return _detach(ctx, params, ROLE)


@action("iam", "DetachGroupPolicy")
def detach_group_policy(ctx: ActionContext, params: Params) -> None:
    return _detach(ctx, params, GROUP)


@action("iam", "ListAttachedUserPolicies")
def list_attached_user_policies(ctx: ActionContext, params: Params) -> ListAttachedPoliciesResult:
    return _list_attached(ctx, params, USER)


@action("iam", "ListAttachedRolePolicies")
def list_attached_role_policies(ctx: ActionContext, params: Params) -> ListAttachedPoliciesResult:
    return _list_attached(ctx, params, ROLE)


@action("iam", "ListAttachedGroupPolicies")
def list_attached_group_policies(ctx: ActionContext, params: Params) -> ListAttachedPoliciesResult:
    return _list_attached(ctx, params, GROUP)


@action("iam", "ListEntitiesForPolicy")
def list_entities_for_policy(ctx: ActionContext, params: Params) -> ListEntitiesForPolicyResult:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    entity_filter = reader.string("EntityFilter")
    filters = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
    if entity_filter is not None and entity_filter not in filters:
        reader.fail(entity_filter, "entityFilter", f"Member must satisfy enum value set: [{', '.join(filters)}]")
    prefix = reader.string("PathPrefix", min_len=1, max_len=512, pattern=PATH_PATTERN) or "/"
    usage = reader.string("PolicyUsageFilter")
    if usage is not None and usage not in ("PermissionsPolicy", "PermissionsBoundary"):
        reader.fail(usage, "policyUsageFilter", "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]")
    marker, max_items = read_pagination(reader)
    reader.done()
    authorized_policy(ctx, "ListEntitiesForPolicy", policy_arn)
    entities = ctx.runtime.store.managed_policies.entities(
        caller_account(ctx), policy_arn,
        attachments=usage != "PermissionsBoundary", boundaries=usage != "PermissionsPolicy",
    )
    if entities is None:
        raise policy_not_found(policy_arn)
    wanted = {"User": {"user"}, "Role": {"role"}, "Group": {"group"}}.get(
        entity_filter or "", {"user", "role", "group"} if entity_filter is None else set()
    )
    selected = [e for e in entities if e.entity_type in wanted and e.path.startswith(prefix)]
    page = paginate(selected, marker, max_items, key=lambda e: f"{e.entity_type}/{e.name.lower()}")
    items: list[Any] = page.items
    return ListEntitiesForPolicyResult(
        policy_groups=[PolicyGroup(e.name, e.entity_id) for e in items if e.entity_type == "group"],
        policy_users=[PolicyUser(e.name, e.entity_id) for e in items if e.entity_type == "user"],
        policy_roles=[PolicyRole(e.name, e.entity_id) for e in items if e.entity_type == "role"],
        is_truncated=page.is_truncated,
        marker=page.marker,
    )


# --- Tags -------------------------------------------------------------------------------------
@action("iam", "TagPolicy")
def tag_policy(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    tags = read_required_tags(reader)
    reader.done()
    check_policy_arn(policy_arn)
    authorize(ctx, "iam:TagPolicy", policy_arn, context=tag_context(tags))
    record = ctx.runtime.store.managed_policies.get(caller_account(ctx), policy_arn)
    if record is None:
        raise policy_not_found(policy_arn)
    try:
        ctx.runtime.store.managed_policies.tag(record.policy_id, [(t.key, t.value) for t in tags])
    except TooManyTags:
        raise too_many_tags("Policy") from None
    return None


@action("iam", "UntagPolicy")
def untag_policy(ctx: ActionContext, params: Params) -> None:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    keys = read_tag_keys(reader)
    reader.done()
    check_policy_arn(policy_arn)
    authorize(ctx, "iam:UntagPolicy", policy_arn, context={"aws:TagKeys": keys} if keys else None)
    record = ctx.runtime.store.managed_policies.get(caller_account(ctx), policy_arn)
    if record is None:
        raise policy_not_found(policy_arn)
    ctx.runtime.store.managed_policies.untag(record.policy_id, keys)
    return None


@action("iam", "ListPolicyTags")
def list_policy_tags(ctx: ActionContext, params: Params) -> ListTagsResult:
    reader = ParamReader(params)
    policy_arn = read_policy_arn(reader)
    marker, max_items = read_pagination(reader)
    reader.done()
    record = authorized_policy(ctx, "ListPolicyTags", policy_arn)
    tags = ctx.runtime.store.managed_policies.tags(record.policy_id)
    page = paginate(tags, marker, max_items, key=lambda t: t[0].lower())
    return ListTagsResult([Tag(k, v) for k, v in page.items], page.is_truncated, page.marker)
