"""Customer managed policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, versions,
Attach/Detach/ListAttached{User,Role,Group}Policies, ListEntitiesForPolicy, TagPolicy/UntagPolicy/
ListPolicyTags (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html and the
pages beside it).

Quotas as in AWS (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html): a
document of at most 6,144 characters (whitespace not counted) that says ``"Version": "2012-10-17"``,
at most 5 versions, at most 10 managed policies attached per user, role or group. An action on a
policy checks that the ARN is a policy ARN (InvalidInput), then authorizes ``iam:ACTION`` on it,
then looks the policy up in the caller's account; attachments are authorized on the user, role or
group (with its real path when it exists) with the policy as ``iam:PolicyARN``.

AWS managed policies (``arn:aws:iam::aws:policy/PATH/NAME``) are shipped, read-only data
(``store/aws_policies.py``; docs/iam/aws-managed-policies.md): ListPolicies lists them with
Scope=AWS or All (the default), GetPolicy/GetPolicyVersion/ListPolicyVersions/ListPolicyTags read
them, and they attach to users, groups and roles (counted in the same quota of 10) and serve as
permissions boundaries and session PolicyArns. Their AttachmentCount and
PermissionsBoundaryUsageCount count the caller's account only, as AWS does. Writes to them
(CreatePolicyVersion, DeletePolicy, DeletePolicyVersion, SetDefaultPolicyVersion, TagPolicy,
UntagPolicy) are AccessDenied for every caller, the account root included: the engine's guardrail
("AWS managed policies cannot be modified"), as in AWS. An ARN under ``arn:aws:iam::aws:policy/``
that names no shipped policy is "not found" / "does not exist or is not attachable", as AWS says.
A policy under ``/aws-service-role/`` attached to a role is PolicyNotAttachable ("Cannot attach a
Service Role Policy to a Customer Role."), as AWS answers.

Attach/DetachRolePolicy on a service-linked role are UnmodifiableEntity, as AWS
(``entities.refuse_protected_owner``).

Deviations from AWS: a policy's Description must be printable text (see CreatePolicyRequest). AWS
managed policies have only their default version (the source holds no other: ListPolicyVersions
lists one, GetPolicyVersion of another id is NoSuchEntity), no Description, no tags, an id derived
from the ARN (not AWS's), and their version's CreateDate is the policy's UpdateDate. Attaching a
``/aws-service-role/`` policy to a user or group is allowed (AWS's answer there is unverified).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity, PolicyNotAttachable
from opensts.fields import boolean, one_of, text
from opensts.iam import fields, tagging
from opensts.iam.common import (
    authorize_iam,
    caller_account,
    encode_policy_document,
    resource_arn,
    validate_policy_document,
)
from opensts.iam.entities import (
    GROUP,
    ROLE,
    USER,
    OwnerKind,
    authorized_owner,
    check_policy_arn,
    no_such_owner,
    refuse_protected_owner,
)
from opensts.iam.pagination import paginate
from opensts.iam.shapes import AttachedPolicy, PolicyVersion
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import arn as arns
from opensts.identity import ids
from opensts.policy import MANAGED_POLICY_MAX_SIZE, policy_size
from opensts.store import aws_policies
from opensts.store.iam_policies import PolicyRecord, PolicyVersionRecord
from opensts.store.errors import EntityExists

POLICY_PATH_PATTERN = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/"  # policyPathType
VERSION_ID_PATTERN = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?"  # policyVersionIdType
SCOPES = ("All", "AWS", "Local")
USAGE_FILTERS = ("PermissionsPolicy", "PermissionsBoundary")
ENTITY_FILTERS = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
MAX_VERSIONS = 5
MAX_ATTACHED = 10
TAG_QUOTA = "TagsPerPolicy"
# AWS's policies for service-linked roles: attached by AWS to the roles it creates, never by customers.
SERVICE_ROLE_POLICY_PREFIX = aws_policies.AWS_POLICY_ARN_PREFIX + "aws-service-role/"


# --- Fields --------------------------------------------------------------------------------------
def policy_arn() -> Any:
    return fields.arn("PolicyArn")


def version_id() -> Any:
    return text("VersionId", required=True, pattern=VERSION_ID_PATTERN)


def policy_path_prefix() -> Any:
    """``policyPathType`` used as a prefix; "/" when absent."""
    return text("PathPrefix", min_len=1, max_len=512, pattern=POLICY_PATH_PATTERN, default="/")


# --- Requests (botocore: CreatePolicyRequest, ...) -------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePolicyRequest:
    policy_name: str = fields.policy_name()
    path: str = text("Path", min_len=1, max_len=512, pattern=POLICY_PATH_PATTERN, default="/")
    policy_document: str = fields.policy_document()
    # Deviation: botocore's policyDescriptionType has no pattern; AWS's other descriptions (roles)
    # have this one, and a control character in a description would only break clients.
    description: str | None = fields.description()
    tags: list[Tag] = tagging.tags()


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyArnRequest:
    """GetPolicy, DeletePolicy."""

    policy_arn: str = policy_arn()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPoliciesRequest:
    scope: str | None = one_of("Scope", SCOPES)
    only_attached: bool = boolean("OnlyAttached", default=False)
    path_prefix: str = policy_path_prefix()
    policy_usage_filter: str | None = one_of("PolicyUsageFilter", USAGE_FILTERS)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePolicyVersionRequest:
    policy_arn: str = policy_arn()
    policy_document: str = fields.policy_document()
    set_as_default: bool = boolean("SetAsDefault", default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyVersionRequest:
    """GetPolicyVersion, SetDefaultPolicyVersion, DeletePolicyVersion."""

    policy_arn: str = policy_arn()
    version_id: str = version_id()


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyPageRequest:
    """ListPolicyVersions, ListPolicyTags."""

    policy_arn: str = policy_arn()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


# Attach/Detach*Policy and ListAttached*Policies take userNameType (1-64), not
# existingUserNameType, as botocore's model says.
@dataclass(frozen=True, slots=True, kw_only=True)
class UserPolicyAttachmentRequest:
    """AttachUserPolicy, DetachUserPolicy."""

    user_name: str = fields.user_name(max_len=64)
    policy_arn: str = policy_arn()


@dataclass(frozen=True, slots=True, kw_only=True)
class RolePolicyAttachmentRequest:
    """AttachRolePolicy, DetachRolePolicy."""

    role_name: str = fields.role_name()
    policy_arn: str = policy_arn()


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupPolicyAttachmentRequest:
    """AttachGroupPolicy, DetachGroupPolicy."""

    group_name: str = fields.group_name()
    policy_arn: str = policy_arn()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAttachedUserPoliciesRequest:
    user_name: str = fields.user_name(max_len=64)
    path_prefix: str = policy_path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAttachedRolePoliciesRequest:
    role_name: str = fields.role_name()
    path_prefix: str = policy_path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAttachedGroupPoliciesRequest:
    group_name: str = fields.group_name()
    path_prefix: str = policy_path_prefix()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListEntitiesForPolicyRequest:
    policy_arn: str = policy_arn()
    entity_filter: str | None = one_of("EntityFilter", ENTITY_FILTERS)
    path_prefix: str = fields.path("PathPrefix")  # pathType here, as botocore's model says
    policy_usage_filter: str | None = one_of("PolicyUsageFilter", USAGE_FILTERS)
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagPolicyRequest:
    policy_arn: str = policy_arn()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagPolicyRequest:
    policy_arn: str = policy_arn()
    tag_keys: list[str] = tagging.tag_keys()


# --- Results ------------------------------------------------------------------------------------
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


# --- Helpers ------------------------------------------------------------------------------------
def policy_not_found(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} was not found.")


def version_not_found(policy_arn: str, version_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist or is not attachable.")


def authorized_policy(
    ctx: ActionContext, action_name: str, policy_arn: str, context: dict[str, Any] | None = None
) -> PolicyRecord:
    """Check the ARN, authorize ``iam:ACTION`` on it, then find the policy (in the caller's account)."""
    check_policy_arn(policy_arn)
    authorize_iam(ctx, action_name, policy_arn, context)  # writes to AWS managed policies stop here
    repo = ctx.runtime.store.managed_policies
    if aws_policies.is_aws_policy_arn(policy_arn):
        record = repo.aws_policy(caller_account(ctx), policy_arn)
    else:
        record = repo.get(caller_account(ctx), policy_arn)
    if record is None:
        raise policy_not_found(policy_arn)
    return record


def aws_versions(policy_arn: str) -> list[PolicyVersionRecord] | None:
    """An AWS managed policy's one shipped version (the default); None for other ARNs."""
    policy = aws_policies.find(policy_arn)
    if policy is None:
        return None
    # The source keeps no version dates: the policy's UpdateDate is when its default version became so.
    return [PolicyVersionRecord(policy.default_version_id, policy.document, True, policy.updated_at)]


def validate_managed_document(document: str) -> None:
    validate_policy_document(document, "identity", managed=True)
    if policy_size(document) > MANAGED_POLICY_MAX_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_MAX_SIZE}")


# --- Policies -----------------------------------------------------------------------------------
@action("iam", "CreatePolicy", request=CreatePolicyRequest, writes=True)
def create_policy(ctx: ActionContext, request: CreatePolicyRequest) -> PolicyResult:
    name, path, document = request.policy_name, request.path, request.policy_document
    account = caller_account(ctx)
    authorize_iam(ctx, "CreatePolicy", resource_arn(account, "policy", name, path), tag_context(request.tags))
    validate_managed_document(document)
    try:
        record = ctx.runtime.store.managed_policies.create(
            policy_id=ids.new_policy_id(), account_id=account, arn=arns.policy_arn(account, name, path), name=name,
            path=path, description=request.description, document=document, created_at=ctx.request_time,
            tags=pairs(request.tags),
        )
    except EntityExists:
        raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.") from None
    return PolicyResult(policy_shape(record, pairs(request.tags)))


@action("iam", "GetPolicy", request=PolicyArnRequest)
def get_policy(ctx: ActionContext, request: PolicyArnRequest) -> PolicyResult:
    record = authorized_policy(ctx, "GetPolicy", request.policy_arn)
    if aws_policies.is_aws_policy_arn(record.arn):
        return PolicyResult(policy_shape(record))
    return PolicyResult(policy_shape(record, ctx.runtime.store.managed_policies.tags(record.policy_id)))


def _list_key(record: PolicyRecord) -> str:
    return f"{record.name.lower()} {record.arn}"


@action("iam", "ListPolicies", request=ListPoliciesRequest)
def list_policies(ctx: ActionContext, request: ListPoliciesRequest) -> ListPoliciesResult:
    prefix, usage = request.path_prefix, request.policy_usage_filter
    account = caller_account(ctx)
    authorize_iam(ctx, "ListPolicies", resource_arn(account, "policy", "", prefix))
    repo = ctx.runtime.store.managed_policies
    records: list[PolicyRecord] = []
    if request.scope != "AWS":
        records += repo.list(account, prefix)
    if request.scope != "Local":
        records += repo.aws_list(account, prefix)
    if request.only_attached:
        if usage == "PermissionsPolicy":
            records = [r for r in records if r.attachment_count]
        elif usage == "PermissionsBoundary":
            records = [r for r in records if r.boundary_usage_count]
        else:
            records = [r for r in records if r.attachment_count or r.boundary_usage_count]
    # By name; an account's policy may share its name with an AWS one, so the ARN breaks ties.
    records.sort(key=_list_key)
    page = paginate(records, request.marker, request.max_items, key=_list_key)
    return ListPoliciesResult([policy_shape(r, full=False) for r in page.items], page.is_truncated, page.marker)


@action("iam", "DeletePolicy", request=PolicyArnRequest, writes=True)
def delete_policy(ctx: ActionContext, request: PolicyArnRequest) -> None:
    policy_arn = request.policy_arn
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


# --- Versions -----------------------------------------------------------------------------------
@action("iam", "CreatePolicyVersion", request=CreatePolicyVersionRequest, writes=True)
def create_policy_version(ctx: ActionContext, request: CreatePolicyVersionRequest) -> PolicyVersionResult:
    policy_arn, document = request.policy_arn, request.policy_document
    authorized_policy(ctx, "CreatePolicyVersion", policy_arn)
    validate_managed_document(document)
    outcome, version = ctx.runtime.store.managed_policies.create_version(
        caller_account(ctx), policy_arn, document, set_default=request.set_as_default, now=ctx.request_time,
        max_versions=MAX_VERSIONS,
    )
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "limit":
        raise LimitExceeded(
            "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
            "existing version."
        )
    assert version is not None  # the store returns a version whenever the outcome is "created"
    return PolicyVersionResult(version_shape(version, with_document=False))


@action("iam", "GetPolicyVersion", request=PolicyVersionRequest)
def get_policy_version(ctx: ActionContext, request: PolicyVersionRequest) -> PolicyVersionResult:
    policy_arn, version_id = request.policy_arn, request.version_id
    authorized_policy(ctx, "GetPolicyVersion", policy_arn)
    shipped = aws_versions(policy_arn)
    if shipped is not None:
        exists, version = True, next((v for v in shipped if v.version_id == version_id), None)
    else:
        exists, version = ctx.runtime.store.managed_policies.get_version(caller_account(ctx), policy_arn, version_id)
    if not exists:
        raise policy_not_found(policy_arn)
    if version is None:
        raise version_not_found(policy_arn, version_id)
    return PolicyVersionResult(version_shape(version, with_document=True))


@action("iam", "ListPolicyVersions", request=PolicyPageRequest)
def list_policy_versions(ctx: ActionContext, request: PolicyPageRequest) -> ListPolicyVersionsResult:
    policy_arn = request.policy_arn
    authorized_policy(ctx, "ListPolicyVersions", policy_arn)
    versions = aws_versions(policy_arn) or ctx.runtime.store.managed_policies.versions(caller_account(ctx), policy_arn)
    if versions is None:
        raise policy_not_found(policy_arn)
    # Newest first; the marker is a key that grows along the list.
    page = paginate(versions, request.marker, request.max_items, key=lambda v: f"{10**9 - v.number:010d}")
    return ListPolicyVersionsResult(
        [version_shape(v, with_document=False) for v in page.items], page.is_truncated, page.marker
    )


@action("iam", "SetDefaultPolicyVersion", request=PolicyVersionRequest, writes=True)
def set_default_policy_version(ctx: ActionContext, request: PolicyVersionRequest) -> None:
    policy_arn, version_id = request.policy_arn, request.version_id
    authorized_policy(ctx, "SetDefaultPolicyVersion", policy_arn)
    outcome = ctx.runtime.store.managed_policies.set_default_version(
        caller_account(ctx), policy_arn, version_id, ctx.request_time
    )
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "missing_version":
        raise version_not_found(policy_arn, version_id)


@action("iam", "DeletePolicyVersion", request=PolicyVersionRequest, writes=True)
def delete_policy_version(ctx: ActionContext, request: PolicyVersionRequest) -> None:
    policy_arn, version_id = request.policy_arn, request.version_id
    authorized_policy(ctx, "DeletePolicyVersion", policy_arn)
    outcome = ctx.runtime.store.managed_policies.delete_version(caller_account(ctx), policy_arn, version_id)
    if outcome == "missing":
        raise policy_not_found(policy_arn)
    if outcome == "missing_version":
        raise version_not_found(policy_arn, version_id)
    if outcome == "default":
        raise DeleteConflict("Cannot delete the default version of a policy.")


# --- Attachments --------------------------------------------------------------------------------
def _attach(ctx: ActionContext, kind: OwnerKind, name: str, policy_arn: str) -> None:
    check_policy_arn(policy_arn)
    owner = authorized_owner(ctx, kind, f"Attach{kind.label}Policy", name, {"iam:PolicyARN": policy_arn})
    refuse_protected_owner(kind, owner)
    if kind is ROLE and policy_arn.startswith(SERVICE_ROLE_POLICY_PREFIX) and aws_policies.find(policy_arn):
        raise PolicyNotAttachable("Cannot attach a Service Role Policy to a Customer Role.")
    outcome = ctx.runtime.store.managed_policies.attach(
        kind.entity_type, caller_account(ctx), owner.name, policy_arn, max_attached=MAX_ATTACHED
    )
    if outcome == "missing_entity":
        raise no_such_owner(kind, name)
    if outcome == "missing":
        raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
    if outcome == "limit":
        raise LimitExceeded(f"Cannot exceed quota for PoliciesPer{kind.label}: {MAX_ATTACHED}")


def _detach(ctx: ActionContext, kind: OwnerKind, name: str, policy_arn: str) -> None:
    check_policy_arn(policy_arn)
    owner = authorized_owner(ctx, kind, f"Detach{kind.label}Policy", name, {"iam:PolicyARN": policy_arn})
    refuse_protected_owner(kind, owner)
    outcome = ctx.runtime.store.managed_policies.detach(kind.entity_type, caller_account(ctx), owner.name, policy_arn)
    if outcome == "missing_entity":
        raise no_such_owner(kind, name)
    if outcome == "missing":
        raise policy_not_found(policy_arn)


def _list_attached(
    ctx: ActionContext, kind: OwnerKind, name: str, prefix: str, marker: str | None, max_items: int
) -> ListAttachedPoliciesResult:
    owner = authorized_owner(ctx, kind, f"ListAttached{kind.label}Policies", name)
    attached = ctx.runtime.store.managed_policies.attached(kind.entity_type, caller_account(ctx), owner.name)
    if attached is None:
        raise no_such_owner(kind, name)
    attached = [a for a in attached if a.path.startswith(prefix)]
    # An account's policy may share its name with an AWS one: the ARN breaks ties.
    page = paginate(attached, marker, max_items, key=lambda a: f"{a.name.lower()} {a.arn}")
    return ListAttachedPoliciesResult(
        [AttachedPolicy(a.name, a.arn) for a in page.items], page.is_truncated, page.marker
    )


@action("iam", "AttachUserPolicy", request=UserPolicyAttachmentRequest, writes=True)
def attach_user_policy(ctx: ActionContext, request: UserPolicyAttachmentRequest) -> None:
    _attach(ctx, USER, request.user_name, request.policy_arn)


@action("iam", "AttachRolePolicy", request=RolePolicyAttachmentRequest, writes=True)
def attach_role_policy(ctx: ActionContext, request: RolePolicyAttachmentRequest) -> None:
    _attach(ctx, ROLE, request.role_name, request.policy_arn)


@action("iam", "AttachGroupPolicy", request=GroupPolicyAttachmentRequest, writes=True)
def attach_group_policy(ctx: ActionContext, request: GroupPolicyAttachmentRequest) -> None:
    _attach(ctx, GROUP, request.group_name, request.policy_arn)


@action("iam", "DetachUserPolicy", request=UserPolicyAttachmentRequest, writes=True)
def detach_user_policy(ctx: ActionContext, request: UserPolicyAttachmentRequest) -> None:
    _detach(ctx, USER, request.user_name, request.policy_arn)


@action("iam", "DetachRolePolicy", request=RolePolicyAttachmentRequest, writes=True)
def detach_role_policy(ctx: ActionContext, request: RolePolicyAttachmentRequest) -> None:
    _detach(ctx, ROLE, request.role_name, request.policy_arn)


@action("iam", "DetachGroupPolicy", request=GroupPolicyAttachmentRequest, writes=True)
def detach_group_policy(ctx: ActionContext, request: GroupPolicyAttachmentRequest) -> None:
    _detach(ctx, GROUP, request.group_name, request.policy_arn)


@action("iam", "ListAttachedUserPolicies", request=ListAttachedUserPoliciesRequest)
def list_attached_user_policies(ctx: ActionContext, request: ListAttachedUserPoliciesRequest) -> ListAttachedPoliciesResult:
    return _list_attached(ctx, USER, request.user_name, request.path_prefix, request.marker, request.max_items)


@action("iam", "ListAttachedRolePolicies", request=ListAttachedRolePoliciesRequest)
def list_attached_role_policies(ctx: ActionContext, request: ListAttachedRolePoliciesRequest) -> ListAttachedPoliciesResult:
    return _list_attached(ctx, ROLE, request.role_name, request.path_prefix, request.marker, request.max_items)


@action("iam", "ListAttachedGroupPolicies", request=ListAttachedGroupPoliciesRequest)
def list_attached_group_policies(
    ctx: ActionContext, request: ListAttachedGroupPoliciesRequest
) -> ListAttachedPoliciesResult:
    return _list_attached(ctx, GROUP, request.group_name, request.path_prefix, request.marker, request.max_items)


@action("iam", "ListEntitiesForPolicy", request=ListEntitiesForPolicyRequest)
def list_entities_for_policy(ctx: ActionContext, request: ListEntitiesForPolicyRequest) -> ListEntitiesForPolicyResult:
    policy_arn, entity_filter, usage = request.policy_arn, request.entity_filter, request.policy_usage_filter
    authorized_policy(ctx, "ListEntitiesForPolicy", policy_arn)
    entities = ctx.runtime.store.managed_policies.entities(
        caller_account(ctx), policy_arn,
        attachments=usage != "PermissionsBoundary", boundaries=usage != "PermissionsPolicy",
    )
    if entities is None:
        raise policy_not_found(policy_arn)
    # LocalManagedPolicy and AWSManagedPolicy select no users, roles or groups.
    wanted = {"User": {"user"}, "Role": {"role"}, "Group": {"group"}}.get(
        entity_filter or "", {"user", "role", "group"} if entity_filter is None else set()
    )
    selected = [e for e in entities if e.entity_type in wanted and e.path.startswith(request.path_prefix)]
    page = paginate(selected, request.marker, request.max_items, key=lambda e: f"{e.entity_type}/{e.name.lower()}")
    items: list[Any] = page.items
    return ListEntitiesForPolicyResult(
        policy_groups=[PolicyGroup(e.name, e.entity_id) for e in items if e.entity_type == "group"],
        policy_users=[PolicyUser(e.name, e.entity_id) for e in items if e.entity_type == "user"],
        policy_roles=[PolicyRole(e.name, e.entity_id) for e in items if e.entity_type == "role"],
        is_truncated=page.is_truncated,
        marker=page.marker,
    )


# --- Tags ---------------------------------------------------------------------------------------
@action("iam", "TagPolicy", request=TagPolicyRequest, writes=True)
def tag_policy(ctx: ActionContext, request: TagPolicyRequest) -> None:
    record = authorized_policy(ctx, "TagPolicy", request.policy_arn, tag_context(request.tags))
    add_tags(lambda new: ctx.runtime.store.managed_policies.tag(record.policy_id, new), request.tags, TAG_QUOTA)


@action("iam", "UntagPolicy", request=UntagPolicyRequest, writes=True)
def untag_policy(ctx: ActionContext, request: UntagPolicyRequest) -> None:
    record = authorized_policy(ctx, "UntagPolicy", request.policy_arn, untag_context(request.tag_keys))
    ctx.runtime.store.managed_policies.untag(record.policy_id, request.tag_keys)


@action("iam", "ListPolicyTags", request=PolicyPageRequest)
def list_policy_tags(ctx: ActionContext, request: PolicyPageRequest) -> ListTagsResult:
    record = authorized_policy(ctx, "ListPolicyTags", request.policy_arn)
    if aws_policies.is_aws_policy_arn(record.arn):
        return tags_page([], request.marker, request.max_items)  # AWS managed policies carry no tags
    return tags_page(ctx.runtime.store.managed_policies.tags(record.policy_id), request.marker, request.max_items)
