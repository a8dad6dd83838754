"""What every AssumeRole* action shares: finding the role, duration rules, trust-policy context
keys, and issuing the role session.

``assume_role.py`` (IAM callers), ``web_identity.py`` (OIDC) and ``saml.py`` build on these, each
adding only how its caller is identified. Durations: one hour by default, at most the role's
MaxSessionDuration, at most one hour when chaining roles:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html#id_roles_use_view-role-max-session
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opensts.errors import ValidationError
from opensts.identity import arn as arns
from opensts.store.iam_roles import RoleRecord
from opensts.sts import session_params as sp
from opensts.sts.credentials import AssumedRoleUser, Credentials, issue, packed_size

if TYPE_CHECKING:
    from datetime import datetime

    from opensts.runtime import Runtime

DEFAULT_DURATION = 3600
ROLE_CHAINING_LIMIT = 3600
CHAINING_MESSAGE = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
MAX_SESSION_MESSAGE = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


def find_role(runtime: "Runtime", role_arn: str) -> RoleRecord | None:
    """The role an ARN names, if it exists with exactly that path and name; None otherwise."""
    named = _role_named(role_arn)
    if named is None:
        return None
    account, path, name = named
    role = runtime.policies.role(account, name)
    if role is None or role.path != path or role.name != name:
        return None
    return role


@lru_cache(maxsize=4096)  # callers assume the same few roles over and over
def _role_named(role_arn: str) -> tuple[str, str, str] | None:
    """(account, path, name) of a role ARN; None if it is not one."""
    try:
        parsed = arns.Arn.parse(role_arn)
    except ValueError:
        return None
    if parsed.service != "iam" or parsed.resource_type != "role" or parsed.region:
        return None
    return parsed.account, parsed.resource_path, parsed.resource_name


def session_duration(role: RoleRecord, requested: int | None, *, chained: bool = False) -> int:
    duration = requested or DEFAULT_DURATION
    if chained and duration > ROLE_CHAINING_LIMIT:
        raise ValidationError(CHAINING_MESSAGE)
    if duration > role.max_session_duration:
        raise ValidationError(MAX_SESSION_MESSAGE)
    return duration


def trust_context(
    session_name: str | None, tags: sp.SessionTags, source_identity: str | None, external_id: str | None = None
) -> dict[str, Any]:
    """The ``sts:*`` and request-tag condition keys a trust policy sees."""
    context: dict[str, Any] = {}
    if session_name is not None:
        context["sts:RoleSessionName"] = session_name
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    if tags.transitive_keys:
        context["sts:TransitiveTagKeys"] = list(tags.transitive_keys)
    if tags.tags:
        context["aws:TagKeys"] = [k for k, _ in tags.tags]
        for key, value in tags.tags:
            context[f"aws:RequestTag/{key}"] = value
    return context


def trust_extra_actions(tags: sp.SessionTags, source_identity_requested: bool) -> list[str]:
    """Further trust-policy actions a call needs: sts:TagSession with tags, sts:SetSourceIdentity."""
    extra = []
    if tags.tags:
        extra.append("sts:TagSession")
    if source_identity_requested:
        extra.append("sts:SetSourceIdentity")
    return extra


def issue_role_session(
    runtime: "Runtime",
    role: RoleRecord,
    session_name: str,
    now: "datetime",
    duration: int,
    *,
    policies: sp.SessionPolicies = sp.SessionPolicies(None, ()),
    tags: sp.SessionTags = sp.SessionTags((), ()),
    source_identity: str | None = None,
    mfa_authenticated_at: int | None = None,
    chained: bool = False,
    federated_provider: str | None = None,
    attributes: tuple[tuple[str, str], ...] = (),
    region: str | None = None,
    min_token_size: int | None = None,
) -> tuple[Credentials, AssumedRoleUser, int | None]:
    """Credentials for a session of ``role``, its AssumedRoleUser, and PackedPolicySize."""
    packed = packed_size(policies.policy, policies.policy_arns, tags.tags)
    runtime.store.role_use.note(role.role_id, now, region)  # memory only; written in the background
    session_arn = arns.assumed_role_arn(role.account_id, role.name, session_name)
    principal_id = f"{role.role_id}:{session_name}"
    credentials = issue(
        runtime,
        account_id=role.account_id,
        kind="assumed-role",
        principal_arn=session_arn,
        principal_id=principal_id,
        source_arn=role.arn,
        source_id=role.role_id,
        issued_at=now,
        duration_seconds=duration,
        mfa_authenticated_at=mfa_authenticated_at,
        source_identity=source_identity,
        tags=tags.tags,
        transitive_tag_keys=tags.transitive_keys,
        session_policy=policies.policy,
        policy_arns=policies.policy_arns,
        role_chained=chained,
        federated_provider=federated_provider,
        attributes=attributes,
        min_token_size=min_token_size,
    )
    return credentials, AssumedRoleUser(principal_id, session_arn), packed
