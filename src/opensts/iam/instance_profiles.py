"""IAM instance profiles: CreateInstanceProfile, GetInstanceProfile, ListInstanceProfiles,
DeleteInstanceProfile, AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile,
ListInstanceProfilesForRole, TagInstanceProfile, UntagInstanceProfile, ListInstanceProfileTags.

Shapes, limits and errors follow botocore's IAM model (``InstanceProfile``) and the API reference
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html and the pages
beside it):

- Names are ``[\\w+=,.@-]+`` of 1-128 characters, unique per account case-insensitively; ids start
  with ``AIPA``; the ARN is ``arn:aws:iam::ACCT:instance-profile/PATH/NAME``.
- An ``InstanceProfile`` carries its ``Roles`` (each a ``Role`` as ListRoles shows it: no boundary,
  tags or last use) and, in CreateInstanceProfile and GetInstanceProfile, its ``Tags``.
- A profile holds at most one role, a quota AWS does not raise: adding a role to a profile that
  holds one (the same role or another) is LimitExceeded "Cannot exceed quota for
  InstanceSessionsPerInstanceProfile: 1".
- DeleteInstanceProfile while it holds a role, and DeleteRole of a role in a profile, are
  DeleteConflict "Cannot delete entity, must remove roles from instance profile first." Nothing is
  removed implicitly: the role must be taken out with RemoveRoleFromInstanceProfile first.
- Every action authorizes ``iam:ACTION`` on the profile's ARN (its real path when it exists)
  before it says whether the profile exists; ListInstanceProfiles on
  ``instance-profile/PATH_PREFIX``, ListInstanceProfilesForRole on the role's ARN, as the service
  authorization reference lists them. Tag calls carry ``aws:RequestTag/*`` and ``aws:TagKeys``.
- AddRoleToInstanceProfile also needs ``iam:PassRole`` on the role, as the API reference says
  ("The caller of this operation must be granted the PassRole permission on the IAM role"). Its
  condition keys: ``iam:AssociatedResourceArn`` is ``arn:aws:ec2:*:ACCT:instance/*``, the value
  the API reference says AWS uses for this action. ``iam:PassedToService`` is
  ``ec2.amazonaws.com``. AWS does not document that value for this action; it is the service
  that uses instance profiles.

Deviations: OpenSTS runs no EC2, so a profile is only a record: nothing launches with it.
RemoveRoleFromInstanceProfile of a role that exists but is not in the profile answers NoSuchEntity
with the role's "cannot be found" message. AWS's wording for that case is not documented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opensts.access.trust_principals import effective_trust_policy
from opensts.actions import ActionContext, action
from opensts.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from opensts.fields import text
from opensts.iam import fields, tagging
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import DELETE_CONFLICT_MESSAGES, authorized_role, no_such_role
from opensts.iam.pagination import paginate
from opensts.iam.shapes import InstanceProfile, Role, instance_profile_shape, role_shape
from opensts.iam.tagging import ListTagsResult, Tag, add_tags, pairs, tag_context, tags_page, untag_context
from opensts.identity import ids
from opensts.store.errors import DeleteBlocked, NameTaken
from opensts.store.iam_instance_profiles import AddRoleOutcome, InstanceProfileRecord
from opensts.store.iam_roles import RoleRecord

TAG_QUOTA = "TagsPerInstanceProfile"
ROLES_PER_PROFILE_EXCEEDED = "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
# ListInstanceProfiles' ``pathPrefixType`` allows \u007F, unlike the other List* actions' prefixes.
LIST_PATH_PREFIX_PATTERN = r"\u002F[\u0021-\u007F]*"
# Where a profile's role is passed: EC2 instances (the values AWS gives for this action).
PASSED_TO_SERVICE = "ec2.amazonaws.com"


def instance_profile_name() -> Any:
    """``instanceProfileNameType``: 1-128 characters of ``[\\w+=,.@-]``."""
    return text("InstanceProfileName", required=True, min_len=1, max_len=128, pattern=fields.ENTITY_NAME_PATTERN)


# --- Requests (botocore: CreateInstanceProfileRequest, ...) and results ---------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateInstanceProfileRequest:
    instance_profile_name: str = instance_profile_name()
    path: str = fields.path()
    tags: list[Tag] = tagging.tags()


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceProfileNameRequest:
    """GetInstanceProfile, DeleteInstanceProfile."""

    instance_profile_name: str = instance_profile_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInstanceProfilesRequest:
    path_prefix: str = text("PathPrefix", min_len=1, max_len=512, pattern=LIST_PATH_PREFIX_PATTERN, default="/")
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceProfileRoleRequest:
    """AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile."""

    instance_profile_name: str = instance_profile_name()
    role_name: str = fields.role_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInstanceProfilesForRoleRequest:
    role_name: str = fields.role_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True, kw_only=True)
class TagInstanceProfileRequest:
    instance_profile_name: str = instance_profile_name()
    tags: list[Tag] = tagging.tags(required=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UntagInstanceProfileRequest:
    instance_profile_name: str = instance_profile_name()
    tag_keys: list[str] = tagging.tag_keys()


@dataclass(frozen=True, slots=True, kw_only=True)
class ListInstanceProfileTagsRequest:
    instance_profile_name: str = instance_profile_name()
    marker: str | None = fields.marker()
    max_items: int = fields.max_items()


@dataclass(frozen=True, slots=True)
class InstanceProfileResult:
    """CreateInstanceProfile, GetInstanceProfile."""

    instance_profile: InstanceProfile


@dataclass(frozen=True, slots=True)
class ListInstanceProfilesResult:
    """ListInstanceProfiles, ListInstanceProfilesForRole."""

    instance_profiles: list[InstanceProfile]
    is_truncated: bool
    marker: str | None = None


def profile_role_shape(ctx: ActionContext, role: RoleRecord) -> Role:
    """A role inside an instance profile, as ListRoles shows it."""
    return role_shape(role, full=False, trust_policy=effective_trust_policy(ctx.runtime, role))


def _shapes(ctx: ActionContext, profiles: list[InstanceProfileRecord]) -> list[InstanceProfile]:
    """Profiles of a list page with their roles, read in one query."""
    roles = ctx.runtime.store.instance_profiles.roles_of(p.instance_profile_id for p in profiles)
    return [
        instance_profile_shape(p, [profile_role_shape(ctx, r) for r in roles[p.instance_profile_id]])
        for p in profiles
    ]


# --- Finding the profile an action names ------------------------------------------------------------
def no_such_instance_profile(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Instance Profile {name} cannot be found.")


def authorized_instance_profile(
    ctx: ActionContext, action_name: str, name: str, context: dict[str, Any] | None = None
) -> InstanceProfileRecord:
    """The profile ``name``, once ``iam:ACTION`` on its ARN is allowed; NoSuchEntity if it is missing."""
    account = caller_account(ctx)
    profile = ctx.runtime.store.instance_profiles.get(account, name)
    resource = profile.arn if profile else resource_arn(account, "instance-profile", name)
    authorize_iam(ctx, action_name, resource, context)
    if profile is None:
        raise no_such_instance_profile(name)
    return profile


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateInstanceProfile", request=CreateInstanceProfileRequest, writes=True)
def create_instance_profile(ctx: ActionContext, request: CreateInstanceProfileRequest) -> InstanceProfileResult:
    name, path = request.instance_profile_name, request.path
    account = caller_account(ctx)
    authorize_iam(ctx, "CreateInstanceProfile", resource_arn(account, "instance-profile", name, path),
                  tag_context(request.tags))
    try:
        profile = ctx.runtime.store.instance_profiles.create(
            profile_id=ids.new_instance_profile_id(), account_id=account, name=name, path=path,
            created_at=ctx.request_time, tags=pairs(request.tags),
        )
    except NameTaken:
        raise EntityAlreadyExists(f"Instance Profile {name} already exists.") from None
    return InstanceProfileResult(instance_profile_shape(profile, [], pairs(request.tags)))


@action("iam", "GetInstanceProfile", request=InstanceProfileNameRequest)
def get_instance_profile(ctx: ActionContext, request: InstanceProfileNameRequest) -> InstanceProfileResult:
    profile = authorized_instance_profile(ctx, "GetInstanceProfile", request.instance_profile_name)
    store = ctx.runtime.store.instance_profiles
    roles = store.roles_of([profile.instance_profile_id])[profile.instance_profile_id]
    return InstanceProfileResult(
        instance_profile_shape(
            profile, [profile_role_shape(ctx, r) for r in roles], store.tags(profile.instance_profile_id)
        )
    )


@action("iam", "ListInstanceProfiles", request=ListInstanceProfilesRequest)
def list_instance_profiles(ctx: ActionContext, request: ListInstanceProfilesRequest) -> ListInstanceProfilesResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "ListInstanceProfiles", resource_arn(account, "instance-profile", "", request.path_prefix))
    profiles = ctx.runtime.store.instance_profiles.list(account, request.path_prefix)
    page = paginate(profiles, request.marker, request.max_items, key=lambda p: p.name.lower())
    return ListInstanceProfilesResult(_shapes(ctx, page.items), page.is_truncated, page.marker)


@action("iam", "ListInstanceProfilesForRole", request=ListInstanceProfilesForRoleRequest)
def list_instance_profiles_for_role(
    ctx: ActionContext, request: ListInstanceProfilesForRoleRequest
) -> ListInstanceProfilesResult:
    role = authorized_role(ctx, "ListInstanceProfilesForRole", request.role_name)
    profiles = ctx.runtime.store.instance_profiles.for_role(role.role_id)
    page = paginate(profiles, request.marker, request.max_items, key=lambda p: p.name.lower())
    return ListInstanceProfilesResult(_shapes(ctx, page.items), page.is_truncated, page.marker)


@action("iam", "DeleteInstanceProfile", request=InstanceProfileNameRequest, writes=True)
def delete_instance_profile(ctx: ActionContext, request: InstanceProfileNameRequest) -> None:
    profile = authorized_instance_profile(ctx, "DeleteInstanceProfile", request.instance_profile_name)
    try:
        deleted = ctx.runtime.store.instance_profiles.delete(profile.instance_profile_id)
    except DeleteBlocked:
        raise DeleteConflict(DELETE_CONFLICT_MESSAGES["instance_profiles"]) from None
    if not deleted:  # deleted since the lookup
        raise no_such_instance_profile(request.instance_profile_name)


@action("iam", "AddRoleToInstanceProfile", request=InstanceProfileRoleRequest, writes=True)
def add_role_to_instance_profile(ctx: ActionContext, request: InstanceProfileRoleRequest) -> None:
    account = caller_account(ctx)
    store = ctx.runtime.store
    profile = store.instance_profiles.get(account, request.instance_profile_name)
    profile_arn = profile.arn if profile else resource_arn(account, "instance-profile", request.instance_profile_name)
    authorize_iam(ctx, "AddRoleToInstanceProfile", profile_arn)
    role = store.roles.get(account, request.role_name)
    # PassRole on the role, as AWS requires, before saying whether the role exists.
    authorize_iam(
        ctx, "PassRole", role.arn if role else resource_arn(account, "role", request.role_name),
        {"iam:PassedToService": PASSED_TO_SERVICE, "iam:AssociatedResourceArn": f"arn:aws:ec2:*:{account}:instance/*"},
    )
    if profile is None:
        raise no_such_instance_profile(request.instance_profile_name)
    if role is None:
        raise no_such_role(request.role_name)
    outcome = store.instance_profiles.add_role(profile.instance_profile_id, role.role_id)
    if outcome is AddRoleOutcome.FULL:
        raise LimitExceeded(ROLES_PER_PROFILE_EXCEEDED)
    if outcome is AddRoleOutcome.GONE:  # the profile or the role was deleted since the lookup
        if store.instance_profiles.get(account, profile.name) is None:
            raise no_such_instance_profile(request.instance_profile_name)
        raise no_such_role(request.role_name)


@action("iam", "RemoveRoleFromInstanceProfile", request=InstanceProfileRoleRequest, writes=True)
def remove_role_from_instance_profile(ctx: ActionContext, request: InstanceProfileRoleRequest) -> None:
    profile = authorized_instance_profile(ctx, "RemoveRoleFromInstanceProfile", request.instance_profile_name)
    store = ctx.runtime.store
    role = store.roles.get(profile.account_id, request.role_name)
    if role is None or not store.instance_profiles.remove_role(profile.instance_profile_id, role.role_id):
        raise no_such_role(request.role_name)


@action("iam", "TagInstanceProfile", request=TagInstanceProfileRequest, writes=True)
def tag_instance_profile(ctx: ActionContext, request: TagInstanceProfileRequest) -> None:
    name = request.instance_profile_name
    profile = authorized_instance_profile(ctx, "TagInstanceProfile", name, tag_context(request.tags))
    store = ctx.runtime.store.instance_profiles
    tagged: list[bool] = []
    add_tags(lambda new: tagged.append(store.tag(profile.instance_profile_id, new)), request.tags, TAG_QUOTA)
    if tagged and not tagged[0]:  # deleted since the lookup
        raise no_such_instance_profile(name)


@action("iam", "UntagInstanceProfile", request=UntagInstanceProfileRequest, writes=True)
def untag_instance_profile(ctx: ActionContext, request: UntagInstanceProfileRequest) -> None:
    name = request.instance_profile_name
    profile = authorized_instance_profile(ctx, "UntagInstanceProfile", name, untag_context(request.tag_keys))
    if not ctx.runtime.store.instance_profiles.untag(profile.instance_profile_id, request.tag_keys):
        raise no_such_instance_profile(name)


@action("iam", "ListInstanceProfileTags", request=ListInstanceProfileTagsRequest)
def list_instance_profile_tags(ctx: ActionContext, request: ListInstanceProfileTagsRequest) -> ListTagsResult:
    profile = authorized_instance_profile(ctx, "ListInstanceProfileTags", request.instance_profile_name)
    tags = ctx.runtime.store.instance_profiles.tags(profile.instance_profile_id)
    return tags_page(tags, request.marker, request.max_items)
