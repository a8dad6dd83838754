"""Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole,
GetServiceLinkedRoleDeletionStatus
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateServiceLinkedRole.html and the pages
beside it; https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).

A service-linked role is an ordinary row of the roles table with three marks, as in AWS:
- its path is ``/aws-service-role/SERVICE/`` (SERVICE: the service principal, e.g.
  ``elasticbeanstalk.amazonaws.com``), a prefix CreateRole refuses, so the path alone says that a
  role is service-linked;
- its trust policy allows only that service principal ``sts:AssumeRole``, so no user, role or
  federated caller of OpenSTS can assume it (AccessDenied);
- it is protected: DeleteRole, UpdateAssumeRolePolicy, Put/DeleteRolePolicy, Attach/DetachRolePolicy,
  Put/DeleteRolePermissionsBoundary and UpdateRole with MaxSessionDuration fail with
  UnmodifiableEntity ("Cannot perform the operation on the protected role 'NAME' - this role is only
  modifiable by AWS"; ``entities.refuse_protected_role``). Its description (UpdateRole,
  UpdateRoleDescription) and tags stay editable, as AWS documents.

Role names. AWS has no formula: each service chooses its role's name, ``AWSServiceRoleFor`` + a
service-chosen word (``elasticbeanstalk.amazonaws.com`` → ``AWSServiceRoleForElasticBeanstalk``,
``spot.amazonaws.com`` → ``AWSServiceRoleForEC2Spot``), and says whether it takes a CustomSuffix,
appended after ``_`` (``AWSServiceRoleForAutoScaling_my-suffix``). OpenSTS implements:
1. the services of ``KNOWN_SERVICES`` (names and suffix support from each service's
   service-linked role page in the AWS documentation) get AWS's name; a CustomSuffix for one that
   takes none is InvalidInput;
2. any other ``*.amazonaws.com`` principal gets ``AWSServiceRoleFor`` + its labels before
   ``.amazonaws.com``, each dash-separated word capitalised (``my-svc.amazonaws.com`` →
   ``AWSServiceRoleForMySvc``), and accepts a CustomSuffix. Deviation: AWS refuses principals of
   services that have no service-linked role; OpenSTS cannot know every service's choice, so it
   makes one, named by this rule (which may differ from the name AWS would give).
3. anything else (not ending in ``.amazonaws.com``) is InvalidInput, as is a name longer than
   the 64 characters of a role name.
A role of that name already there: InvalidInput "Service role name NAME has been taken in this
account, please try a different suffix.", AWS's words.

Permissions. Deviation: in AWS the service attaches its own AWS managed policy to the role; OpenSTS
has no service to do that, so the role is created with no policies (it grants nothing, and nobody
can assume it). MaxSessionDuration is 3,600 seconds.

Deletion. AWS deletes asynchronously, after asking the service whether the role is still in use.
OpenSTS has no service to ask, so DeleteServiceLinkedRole deletes the role (with any inline
policies, attachments and tags it has) at once and records the deletion task as SUCCEEDED, in one
transaction. The task id has AWS's format, ``task/aws-service-role/SERVICE/NAME/UUID``. It is
stored (``service_linked_role_deletions``) rather than encoded, because GetServiceLinkedRoleDeletionStatus
must say NoSuchEntity for an id that no deletion issued: a stored id answers exactly that, with no
key to sign ids with and no way to forge one; the row is small and kept (one per deleted role). A
deletion task of another account is NoSuchEntity, and so is an id not of that shape (said before
authorization: it reveals only the format). DeleteServiceLinkedRole on an ordinary role is
NoSuchEntity ("Role NAME is not a service-linked role.", OpenSTS's words).

Authorization (service authorization reference): ``iam:CreateServiceLinkedRole`` on the role's ARN
with ``iam:AWSServiceName`` in the context; ``iam:DeleteServiceLinkedRole`` on the role's ARN;
``iam:GetServiceLinkedRoleDeletionStatus`` on the ARN of the role the task id names. Each before
saying whether anything exists.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace

from opensts.access.trust_principals import bind_trust_principals
from opensts.actions import ActionContext, action
from opensts.errors import InvalidInput, NoSuchEntity
from opensts.fields import text
from opensts.iam import fields
from opensts.iam.common import authorize_iam, caller_account, resource_arn
from opensts.iam.entities import SERVICE_LINKED_ROLE_PATH, authorized_role, no_such_role
from opensts.iam.shapes import DEFAULT_MAX_SESSION_DURATION, RoleResult, role_shape
from opensts.identity import ids
from opensts.store.errors import EntityExists

ROLE_NAME_PREFIX = "AWSServiceRoleFor"
SERVICE_SUFFIX = ".amazonaws.com"
ROLE_NAME_MAX = 64
TASK_PREFIX = "task" + SERVICE_LINKED_ROLE_PATH  # task/aws-service-role/
_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

# service principal -> (role name without suffix, whether CustomSuffix is accepted): AWS's choices,
# from each service's "Using service-linked roles" page.
KNOWN_SERVICES: dict[str, tuple[str, bool]] = {
    "access-analyzer.amazonaws.com": ("AWSServiceRoleForAccessAnalyzer", False),
    "acm.amazonaws.com": ("AWSServiceRoleForCertificateManager", False),
    "autoscaling.amazonaws.com": ("AWSServiceRoleForAutoScaling", True),
    "backup.amazonaws.com": ("AWSServiceRoleForBackup", False),
    "batch.amazonaws.com": ("AWSServiceRoleForBatch", False),
    "cloudtrail.amazonaws.com": ("AWSServiceRoleForCloudTrail", False),
    "config.amazonaws.com": ("AWSServiceRoleForConfig", False),
    "connect.amazonaws.com": ("AWSServiceRoleForAmazonConnect", True),
    "dynamodb.application-autoscaling.amazonaws.com": ("AWSServiceRoleForApplicationAutoScaling_DynamoDBTable", False),
    "ec2fleet.amazonaws.com": ("AWSServiceRoleForEC2Fleet", False),
    "ecs.amazonaws.com": ("AWSServiceRoleForECS", False),
    "ecs.application-autoscaling.amazonaws.com": ("AWSServiceRoleForApplicationAutoScaling_ECSService", False),
    "eks.amazonaws.com": ("AWSServiceRoleForAmazonEKS", False),
    "eks-fargate.amazonaws.com": ("AWSServiceRoleForAmazonEKSForFargate", False),
    "eks-nodegroup.amazonaws.com": ("AWSServiceRoleForAmazonEKSNodegroup", False),
    "elasticache.amazonaws.com": ("AWSServiceRoleForElastiCache", False),
    "elasticbeanstalk.amazonaws.com": ("AWSServiceRoleForElasticBeanstalk", False),
    "elasticfilesystem.amazonaws.com": ("AWSServiceRoleForAmazonElasticFileSystem", False),
    "elasticloadbalancing.amazonaws.com": ("AWSServiceRoleForElasticLoadBalancing", False),
    "es.amazonaws.com": ("AWSServiceRoleForAmazonElasticsearchService", False),
    "guardduty.amazonaws.com": ("AWSServiceRoleForAmazonGuardDuty", False),
    "kafka.amazonaws.com": ("AWSServiceRoleForKafka", False),
    "lex.amazonaws.com": ("AWSServiceRoleForLexBots", False),
    "lexv2.amazonaws.com": ("AWSServiceRoleForLexV2Bots", True),
    "opensearchservice.amazonaws.com": ("AWSServiceRoleForAmazonOpenSearchService", False),
    "organizations.amazonaws.com": ("AWSServiceRoleForOrganizations", False),
    "rds.amazonaws.com": ("AWSServiceRoleForRDS", False),
    "redshift.amazonaws.com": ("AWSServiceRoleForRedshift", False),
    "securityhub.amazonaws.com": ("AWSServiceRoleForSecurityHub", False),
    "spot.amazonaws.com": ("AWSServiceRoleForEC2Spot", False),
    "spotfleet.amazonaws.com": ("AWSServiceRoleForEC2SpotFleet", False),
    "sso.amazonaws.com": ("AWSServiceRoleForSSO", False),
    "support.amazonaws.com": ("AWSServiceRoleForSupport", False),
    "trustedadvisor.amazonaws.com": ("AWSServiceRoleForTrustedAdvisor", False),
}


# --- Requests (botocore: CreateServiceLinkedRoleRequest, ...) and results --------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class CreateServiceLinkedRoleRequest:
    # groupNameType in botocore's model: 1-128 of [\w+=,.@-].
    aws_service_name: str = text("AWSServiceName", required=True, min_len=1, max_len=128, pattern=fields.ENTITY_NAME_PATTERN)
    description: str | None = fields.description()
    custom_suffix: str | None = text("CustomSuffix", min_len=1, max_len=64, pattern=fields.ENTITY_NAME_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteServiceLinkedRoleRequest:
    role_name: str = fields.role_name()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetServiceLinkedRoleDeletionStatusRequest:
    deletion_task_id: str = text("DeletionTaskId", required=True, min_len=1, max_len=1000)


@dataclass(frozen=True, slots=True)
class DeleteServiceLinkedRoleResult:
    deletion_task_id: str


@dataclass(frozen=True, slots=True)
class RoleUsage:
    region: str | None = None
    resources: list[str] | None = None


@dataclass(frozen=True, slots=True)
class DeletionTaskFailureReason:
    reason: str | None = None
    role_usage_list: list[RoleUsage] | None = None


@dataclass(frozen=True, slots=True)
class GetServiceLinkedRoleDeletionStatusResult:
    status: str
    reason: DeletionTaskFailureReason | None = None


# --- Names, trust, task ids -------------------------------------------------------------------------
def service_role_name(service: str, custom_suffix: str | None) -> str:
    """The role name for ``service`` (see the module docstring); InvalidInput where AWS refuses."""
    known = KNOWN_SERVICES.get(service)
    if known is not None:
        base, suffix_allowed = known
        if custom_suffix is not None and not suffix_allowed:
            raise InvalidInput(f"Custom suffix is not allowed for {service}")
    else:
        labels = service[: -len(SERVICE_SUFFIX)].split(".") if service.endswith(SERVICE_SUFFIX) else []
        if not labels or not all(_LABEL_RE.match(label) for label in labels):
            raise InvalidInput(f"Invalid service name: {service}")
        base = ROLE_NAME_PREFIX + "".join(word.capitalize() for label in labels for word in label.split("-"))
    name = f"{base}_{custom_suffix}" if custom_suffix is not None else base
    if len(name) > ROLE_NAME_MAX:
        raise InvalidInput(f"The role name {name} is longer than {ROLE_NAME_MAX} characters.")
    return name


def trust_policy(service: str) -> str:
    """Only the service principal may assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _service_of(path: str) -> str:
    """``/aws-service-role/SERVICE/`` -> ``SERVICE``."""
    return path[len(SERVICE_LINKED_ROLE_PATH) :].rstrip("/")


def _role_of_task(task_id: str) -> tuple[str, str]:
    """(role path, role name) of ``task/aws-service-role/SERVICE/NAME/UUID``; NoSuchEntity if the id
    does not have that shape (no deletion issued it)."""
    parts = task_id[len(TASK_PREFIX) :].split("/") if task_id.startswith(TASK_PREFIX) else []
    if len(parts) != 3 or not all(parts):
        raise _no_such_task(task_id)
    service, name, _ = parts
    return f"{SERVICE_LINKED_ROLE_PATH}{service}/", name


def _no_such_task(task_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"Deletion task {task_id} cannot be found.")


# --- Actions ------------------------------------------------------------------------------------
@action("iam", "CreateServiceLinkedRole", request=CreateServiceLinkedRoleRequest, writes=True)
def create_service_linked_role(ctx: ActionContext, request: CreateServiceLinkedRoleRequest) -> RoleResult:
    service = request.aws_service_name
    name = service_role_name(service, request.custom_suffix)
    path = f"{SERVICE_LINKED_ROLE_PATH}{service}/"
    account = caller_account(ctx)
    authorize_iam(
        ctx, "CreateServiceLinkedRole", resource_arn(account, "role", name, path), {"iam:AWSServiceName": service}
    )
    document = trust_policy(service)
    try:
        role = ctx.runtime.store.roles.create(
            role_id=ids.new_role_id(),
            account_id=account,
            name=name,
            path=path,
            assume_role_policy=document,
            description=request.description,
            max_session_duration=DEFAULT_MAX_SESSION_DURATION,
            permissions_boundary_arn=None,
            created_at=ctx.request_time,
            trust_principal_ids=bind_trust_principals(ctx.runtime, document),
        )
    except EntityExists:
        raise InvalidInput(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        ) from None
    return RoleResult(replace(role_shape(role), role_last_used=None))


@action("iam", "DeleteServiceLinkedRole", request=DeleteServiceLinkedRoleRequest, writes=True)
def delete_service_linked_role(ctx: ActionContext, request: DeleteServiceLinkedRoleRequest) -> DeleteServiceLinkedRoleResult:
    role = authorized_role(ctx, "DeleteServiceLinkedRole", request.role_name)
    task_id = f"{TASK_PREFIX}{_service_of(role.path)}/{role.name}/{uuid.uuid4()}"
    outcome = ctx.runtime.store.service_linked_roles.delete(
        role.account_id, role.name, SERVICE_LINKED_ROLE_PATH, task_id, ctx.request_time
    )
    if outcome == "missing":  # deleted since the lookup
        raise no_such_role(request.role_name)
    if outcome == "not_linked":
        raise NoSuchEntity(f"Role {role.name} is not a service-linked role.")
    return DeleteServiceLinkedRoleResult(task_id)


@action("iam", "GetServiceLinkedRoleDeletionStatus", request=GetServiceLinkedRoleDeletionStatusRequest)
def get_service_linked_role_deletion_status(
    ctx: ActionContext, request: GetServiceLinkedRoleDeletionStatusRequest
) -> GetServiceLinkedRoleDeletionStatusResult:
    task_id = request.deletion_task_id
    account = caller_account(ctx)
    path, name = _role_of_task(task_id)
    authorize_iam(ctx, "GetServiceLinkedRoleDeletionStatus", resource_arn(account, "role", name, path))
    task = ctx.runtime.store.service_linked_roles.task(account, task_id)
    if task is None:
        raise _no_such_task(task_id)
    reason = DeletionTaskFailureReason(task.reason) if task.reason else None
    return GetServiceLinkedRoleDeletionStatusResult(task.status, reason)
