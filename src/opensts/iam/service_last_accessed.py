"""Service last accessed data ("access advisor"): GenerateServiceLastAccessedDetails,
GetServiceLastAccessedDetails and GetServiceLastAccessedDetailsWithEntities
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateServiceLastAccessedDetails.html and
the pages beside it; https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed.html).

**Which services.** As AWS: the services the entity's permissions policies allow, each with its most
recent access attempt or none. The policies are the entity's identity policies (a user's own and
its groups'; a group's; a role's; for a policy ARN, the policy's default version); boundaries,
resource policies and trust policies are not considered, as AWS says. A service is listed when an
``Allow`` statement's ``Action`` names it (the service prefix before ``:``); a prefix with
wildcards, or ``NotAction``, is matched by the policy engine's glob matching against the services
OpenSTS knows by name (:data:`SERVICE_NAMES`) and every service the entities were seen using.

**Which accesses.** The audit trail is the source of truth (docs/AUDIT.md): every STS and IAM call
and every ``/v1/authorize`` decision, successful or not (AWS too counts every attempt), recorded
with the caller's ``userIdentity``. A user's attempts are those signed with its keys or its
GetSessionToken sessions (``IAMUser`` with its unique id); a role's those of its sessions
(``AssumedRole`` whose principal id starts with the role's unique id), so a role deleted and
created again under the same name starts afresh. A group's attempts are its members', a policy's
those of the users and roles it is attached to (directly or through a group).
``LastAuthenticatedEntity`` is the entity that made the newest attempt (the user or role itself,
the group member, the policy's user or role), ``TotalAuthenticatedEntities`` how many entities
made any. With ``ACTION_LEVEL``, services whose actions AWS tracks (:data:`TRACKED_SERVICES`) also
list each tracked action that was attempted, with its newest attempt.

**Jobs** are computed when generated and stored (store/iam_report_jobs.py), with their parameters,
the ARN of the caller that generated them and the result: the report is a snapshot of the moment it
was asked for (as AWS's), later calls page through one unchanging list (markers stay valid), and a
Get costs one row read. Job ids are random UUIDs; ``JobStatus`` is ``COMPLETED`` as soon as the
Generate call returns. As AWS, only the principal that generated a job may read it (the same user,
or the same role session); anyone else, and any unknown id, gets ``NoSuchEntity``. Jobs are kept
30 days.

**Order.** Services by namespace (AWS's default); each service's tracked actions by name; the
entities of WithEntities most recent access first (never-seen entities last, by name).

Authorization (service authorization reference): ``iam:GenerateServiceLastAccessedDetails`` on the
user, group, role or policy ARN, before saying whether it exists; the two Get actions on ``*``.

Deviations from AWS:
- The tracking period is the audit trail's retention (90 days by default), not 400 days; with
  ``--audit off`` nothing is recorded and every service shows no access.
- ``Action: "*"`` lists the services OpenSTS knows by name and those seen in use, not every AWS
  service.
- The report is computed within the Generate call (no ``IN_PROGRESS`` phase is ever visible).
- ``/v1/authorize`` decisions count as access attempts to the service they were asked about.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import InvalidInput, NoSuchEntity
from opensts.fields import one_of, text
from opensts.iam import fields
from opensts.iam.common import allowed_namespaces, authorize_iam, caller_account, resource_arn
from opensts.iam.pagination import paginate
from opensts.identity import arn as arns
from opensts.store import aws_policies
from opensts.store.iam_report_jobs import JobRow

GRANULARITIES = ("SERVICE_LEVEL", "ACTION_LEVEL")
JOB_ID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SERVICE_NAMESPACE_PATTERN = r"[\w-]*"
MAX_ENTITIES = 5000  # entities whose use one job reads (the most a group or policy can reach here)

# AWS tracks actions of these services (IAM User Guide: "IAM action last accessed information
# services and actions": Amazon EC2, IAM, AWS Lambda and Amazon S3 management actions).
TRACKED_SERVICES = frozenset(("ec2", "iam", "lambda", "s3"))

# Service names by namespace, as AWS's service last accessed data names them; namespaces not listed
# here (a custom service asked about through /v1/authorize) are named by their namespace.
SERVICE_NAMES = {
    "iam": "AWS Identity and Access Management",
    "sts": "AWS Security Token Service",
    "s3": "Amazon S3",
    "ec2": "Amazon EC2",
    "lambda": "AWS Lambda",
    "dynamodb": "Amazon DynamoDB",
    "sqs": "Amazon SQS",
    "sns": "Amazon SNS",
    "kms": "AWS Key Management Service",
    "secretsmanager": "AWS Secrets Manager",
    "ssm": "AWS Systems Manager",
    "logs": "Amazon CloudWatch Logs",
    "cloudwatch": "Amazon CloudWatch",
    "cloudtrail": "AWS CloudTrail",
    "cloudformation": "AWS CloudFormation",
    "ecr": "Amazon Elastic Container Registry",
    "ecs": "Amazon Elastic Container Service",
    "eks": "Amazon Elastic Kubernetes Service",
    "rds": "Amazon RDS",
    "route53": "Amazon Route 53",
    "organizations": "AWS Organizations",
}


# --- Requests and results (botocore: GenerateServiceLastAccessedDetailsRequest, ...) --------------
@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateServiceLastAccessedDetailsRequest:
    arn: str = fields.arn("Arn")
    granularity: str = one_of("Granularity", GRANULARITIES, default="SERVICE_LEVEL")


@dataclass(frozen=True, slots=True, kw_only=True)
class GetServiceLastAccessedDetailsRequest:
    job_id: str = text("JobId", required=True, min_len=36, max_len=36)
    max_items: int = fields.max_items()
    marker: str | None = fields.marker()


@dataclass(frozen=True, slots=True, kw_only=True)
class GetServiceLastAccessedDetailsWithEntitiesRequest:
    job_id: str = text("JobId", required=True, min_len=36, max_len=36)
    service_namespace: str = text("ServiceNamespace", required=True, min_len=1, max_len=64,
                                  pattern=SERVICE_NAMESPACE_PATTERN)
    max_items: int = fields.max_items()
    marker: str | None = fields.marker()


@dataclass(frozen=True, slots=True)
class GenerateServiceLastAccessedDetailsResult:
    job_id: str


@dataclass(frozen=True, slots=True)
class TrackedActionLastAccessed:
    action_name: str
    last_accessed_entity: str | None = None
    last_accessed_time: datetime | None = None
    last_accessed_region: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceLastAccessed:
    service_name: str
    service_namespace: str
    last_authenticated: datetime | None = None
    last_authenticated_entity: str | None = None
    last_authenticated_region: str | None = None
    total_authenticated_entities: int | None = None
    tracked_actions_last_accessed: list[TrackedActionLastAccessed] | None = None


@dataclass(frozen=True, slots=True)
class GetServiceLastAccessedDetailsResult:
    job_status: str
    job_type: str
    job_creation_date: datetime
    services_last_accessed: list[ServiceLastAccessed]
    job_completion_date: datetime
    is_truncated: bool
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class EntityInfo:
    arn: str
    name: str
    type: str  # USER | ROLE | GROUP
    id: str
    path: str | None = None


@dataclass(frozen=True, slots=True)
class EntityDetails:
    entity_info: EntityInfo
    last_authenticated: datetime | None = None


@dataclass(frozen=True, slots=True)
class GetServiceLastAccessedDetailsWithEntitiesResult:
    job_status: str
    job_creation_date: datetime
    job_completion_date: datetime
    entity_details_list: list[EntityDetails]
    is_truncated: bool
    marker: str | None = None


# --- Actions ---------------------------------------------------------------------------------------
@action("iam", "GenerateServiceLastAccessedDetails", request=GenerateServiceLastAccessedDetailsRequest, writes=True)
def generate_service_last_accessed_details(
    ctx: ActionContext, request: GenerateServiceLastAccessedDetailsRequest
) -> GenerateServiceLastAccessedDetailsResult:
    account = caller_account(ctx)
    kind, target = _target(ctx, account, request.arn)
    now = _utc(ctx.request_time)
    report = _compute(ctx, account, kind, target, request.granularity)
    job_id = str(uuid.uuid4())
    assert ctx.caller is not None
    ctx.runtime.store.report_jobs.add_job(JobRow(
        job_id, account, request.arn, request.granularity, ctx.caller.arn, now, _utc(ctx.runtime.clock.now()),
        json.dumps(report, separators=(",", ":")),
    ))
    return GenerateServiceLastAccessedDetailsResult(job_id)


@action("iam", "GetServiceLastAccessedDetails", request=GetServiceLastAccessedDetailsRequest)
def get_service_last_accessed_details(
    ctx: ActionContext, request: GetServiceLastAccessedDetailsRequest
) -> GetServiceLastAccessedDetailsResult:
    authorize_iam(ctx, "GetServiceLastAccessedDetails", "*")
    job, report = _job(ctx, request.job_id)
    services = report["services"]  # sorted by namespace when computed
    page = paginate(services, request.marker, request.max_items, key=lambda s: s["namespace"])
    action_level = job.granularity == "ACTION_LEVEL"
    shapes = [_service_shape(s, action_level) for s in page.items]
    return GetServiceLastAccessedDetailsResult(
        "COMPLETED", job.granularity, job.created_at, shapes, job.completed_at, page.is_truncated, page.marker
    )


@action("iam", "GetServiceLastAccessedDetailsWithEntities", request=GetServiceLastAccessedDetailsWithEntitiesRequest)
def get_service_last_accessed_details_with_entities(
    ctx: ActionContext, request: GetServiceLastAccessedDetailsWithEntitiesRequest
) -> GetServiceLastAccessedDetailsWithEntitiesResult:
    authorize_iam(ctx, "GetServiceLastAccessedDetailsWithEntities", "*")
    job, report = _job(ctx, request.job_id)
    service = next((s for s in report["services"] if s["namespace"] == request.service_namespace), None)
    details: list[tuple[str, EntityDetails]] = []
    if service is not None:
        last = service["entities"]  # {arn: iso time} of the entities that accessed it
        ranked = sorted(report["entities"], key=lambda e: (last.get(e["arn"]) is None, _neg(last.get(e["arn"])), e["name"].lower()))
        for i, e in enumerate(ranked):
            info = EntityInfo(e["arn"], e["name"], e["type"], e["id"], e["path"])
            details.append((f"{i:08d}", EntityDetails(info, _parse(last.get(e["arn"])))))
    page = paginate(details, request.marker, request.max_items, key=lambda d: d[0])
    return GetServiceLastAccessedDetailsWithEntitiesResult(
        "COMPLETED", job.created_at, job.completed_at, [d for _, d in page.items], page.is_truncated, page.marker
    )


# --- The target and its entities -------------------------------------------------------------------
def _target(ctx: ActionContext, account: str, arn_text: str) -> tuple[str, Any]:
    """(kind, record) of the user, group, role or managed policy ``arn_text`` names, once
    ``iam:GenerateServiceLastAccessedDetails`` on it is allowed."""
    try:
        parsed = arns.Arn.parse(arn_text)
    except ValueError:
        raise InvalidInput(f"ARN {arn_text} is not valid.") from None
    kind = parsed.resource_type
    if parsed.service != "iam" or parsed.region or kind not in ("user", "group", "role", "policy") or not parsed.resource_name:
        raise InvalidInput(f"ARN {arn_text} is not valid.")
    store = ctx.runtime.store
    name = parsed.resource_name
    record: Any = None
    if parsed.account == account:
        if kind == "user":
            record = store.users.get(account, name)
        elif kind == "group":
            record = store.groups.get(account, name)
        elif kind == "role":
            record = store.roles.get(account, name)
        else:
            record = store.managed_policies.get(account, arn_text)
        # The entity's real ARN (with its path) when the given one names it, else the given one.
        if record is not None and kind != "policy" and _entity_arn(kind, record) != arn_text:
            record = None
    elif kind == "policy" and aws_policies.find(arn_text) is not None:
        # An AWS managed policy: the report covers the caller's account's users and roles using it.
        record = AwsPolicyTarget(account, arn_text)
    authorize_iam(ctx, "GenerateServiceLastAccessedDetails", arn_text)
    if record is None:
        raise NoSuchEntity(f"The {'entity' if kind == 'policy' else kind} with ARN {arn_text} cannot be found.")
    return kind, record


@dataclass(frozen=True, slots=True)
class AwsPolicyTarget:
    """An AWS managed policy as a report's target: its ARN, seen from the caller's account."""

    account_id: str
    arn: str


def _entity_arn(kind: str, record: Any) -> str:
    return resource_arn(record.account_id, kind, record.name, record.path)


def _principals(ctx: ActionContext, kind: str, target: Any) -> list[dict[str, str]]:
    """The users and roles whose attempts count, as EntityInfo-shaped dicts."""
    store = ctx.runtime.store
    users: list[Any] = []
    roles: list[Any] = []
    if kind == "user":
        users = [target]
    elif kind == "role":
        roles = [target]
    elif kind == "group":
        users = store.groups.members(target.group_id)
    else:
        refs = store.managed_policies.entities(target.account_id, target.arn, attachments=True, boundaries=False) or []
        group_ids = [r.entity_id for r in refs if r.entity_type == "group"]
        by_id = {u.user_id: u for u in store.report_jobs.members(group_ids)}
        for ref in refs:
            if ref.entity_type == "user":
                user = store.users.get_by_id(ref.entity_id)
                if user is not None:
                    by_id[user.user_id] = user
            elif ref.entity_type == "role":
                role = store.roles.get_by_id(ref.entity_id)
                if role is not None:
                    roles.append(role)
        users = sorted(by_id.values(), key=lambda u: u.name.lower())
    out = [{"type": "USER", "id": u.user_id, "name": u.name, "path": u.path, "arn": _entity_arn("user", u)} for u in users]
    out += [{"type": "ROLE", "id": r.role_id, "name": r.name, "path": r.path, "arn": r.arn} for r in roles]
    return out[:MAX_ENTITIES]


def _documents(ctx: ActionContext, kind: str, target: Any) -> list[str]:
    """The permissions policies whose services the report lists."""
    policies = ctx.runtime.store.principal_policies
    if kind == "user":
        found = policies.for_user(target.user_id)
        return [d.document for d in found.identity] if found else []
    if kind == "role":
        found = policies.for_role(target.role_id)
        return [d.document for d in found.identity] if found else []
    if kind == "group":
        return [d.document for d in policies.for_group(target.group_id) or ()]
    return [d.document for d in policies.managed_documents((target.arn,)) if d is not None]


# --- Computing a report ----------------------------------------------------------------------------
def _compute(ctx: ActionContext, account: str, kind: str, target: Any, granularity: str) -> dict[str, Any]:
    """The report as stored: ``entities`` (EntityInfo dicts) and ``services`` sorted by namespace,
    each with its newest attempt, tracked actions and {entity ARN: newest attempt}."""
    jobs = ctx.runtime.store.report_jobs
    principals = _principals(ctx, kind, target)
    # (entity, namespace, action) -> newest seq
    seen: dict[tuple[str, str, str], int] = {}
    for p in principals:
        if p["type"] == "USER":
            rows = jobs.usage(account, f'{{"type":"IAMUser","principalId":"{p["id"]}"', username=p["name"])
        else:
            rows = jobs.usage(account, f'{{"type":"AssumedRole","principalId":"{p["id"]}:')
        for row in rows:
            namespace = row.event_source.removesuffix(".amazonaws.com").lower()
            seen[(p["arn"], namespace, row.event_name)] = row.last_seq
    places = jobs.events_at(account, seen.values())
    used = {ns for _, ns, _ in seen}
    namespaces = allowed_namespaces(_documents(ctx, kind, target), set(SERVICE_NAMES) | used)
    services = []
    for namespace in sorted(namespaces):
        entity_last: dict[str, tuple[int, str]] = {}  # arn -> (seq, time)
        actions: dict[str, tuple[int, str]] = {}  # action -> (seq, arn)
        for (arn, ns, name), seq in seen.items():
            if ns != namespace or seq not in places:
                continue
            if arn not in entity_last or seq > entity_last[arn][0]:
                entity_last[arn] = (seq, _iso(places[seq].event_time))
            if name not in actions or seq > actions[name][0]:
                actions[name] = (seq, arn)
        service: dict[str, Any] = {
            "name": SERVICE_NAMES.get(namespace, namespace), "namespace": namespace,
            "entities": {arn: when for arn, (_, when) in entity_last.items()},
        }
        if entity_last:
            newest_arn, (newest_seq, newest_time) = max(entity_last.items(), key=lambda item: item[1][0])
            service["last"] = {"time": newest_time, "entity": newest_arn, "region": _region(places[newest_seq].record)}
        if granularity == "ACTION_LEVEL" and namespace in TRACKED_SERVICES and actions:
            service["actions"] = [
                {"name": name, "entity": arn, "time": _iso(places[seq].event_time), "region": _region(places[seq].record)}
                for name, (seq, arn) in sorted(actions.items())
            ]
        services.append(service)
    return {"entities": principals, "services": services}


def _job(ctx: ActionContext, job_id: str) -> tuple[JobRow, dict[str, Any]]:
    """The caller's job: NoSuchEntity when unknown, of another account, or generated by someone else."""
    account = caller_account(ctx)
    job = ctx.runtime.store.report_jobs.job(account, job_id)
    assert ctx.caller is not None
    if job is None or job.created_by != ctx.caller.arn:
        raise NoSuchEntity(f"No such job: {job_id}")
    return job, json.loads(job.result)


def _service_shape(service: dict[str, Any], action_level: bool) -> ServiceLastAccessed:
    last = service.get("last") or {}
    tracked = None
    if action_level and service.get("actions"):
        tracked = [
            TrackedActionLastAccessed(a["name"], a["entity"], _parse(a["time"]), a["region"]) for a in service["actions"]
        ]
    return ServiceLastAccessed(
        service["name"], service["namespace"], _parse(last.get("time")), last.get("entity"), last.get("region"),
        len(service["entities"]), tracked,
    )


def _region(record: str) -> str | None:
    try:
        region = json.loads(record).get("awsRegion")
    except ValueError:
        return None
    return region if isinstance(region, str) else None


def _iso(value: datetime) -> str:
    return _utc(value).isoformat()


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _neg(value: str | None) -> float:
    return -datetime.fromisoformat(value).timestamp() if value else 0.0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
