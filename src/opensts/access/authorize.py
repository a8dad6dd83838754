"""Deciding whether a caller may perform an action on a resource, with AWS's denial message.

The caller's policies come from :mod:`opensts.access.policy_sets` (cached); the decision from the
pure policy engine. The request context carries every global condition key AWS sets for the
credentials used: principal keys, MFA keys, token issue time, source identity, session and
principal tags, time, source IP, transport and region
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).

Remembered decisions (:func:`decision_for`, :func:`trust_decision_for`) live in two process-wide
caches of ``opensts.cache.Caches``, whatever the number of credentials: ``decisions`` (at most
100,000 decisions in all) and ``decision-keys`` (the context keys each action's decisions read, at
most 100,000 sets in all), both keyed by the :class:`CallerPolicies` they were made with and both
dropped at every IAM change. Decisions on a resource longer than 256 characters, or keyed on context
values longer than 1,024 characters in all, are not remembered: an entry's size does not grow with
what callers send.
"""

from __future__ import annotations

import itertools
import logging
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol, TypedDict

from opensts.access.policy_sets import ALLOW_ALL, EntityPolicySet, IamState
from opensts.cache import BoundedCache, Caches
from opensts.errors import AccessDenied
from opensts.identity import arn as arns
from opensts.identity.principal import Caller, PrincipalKind
from opensts.policy import (
    Decision, Outcome, Policy, Principal, PrincipalType, Request, context_keys, evaluate, evaluate_trust,
    parse_policy,
)
from opensts.policy.errors import PolicyValidationError
from opensts.policy.policyset import PolicySet
from opensts.policy.request import context_values



class CallContext(Protocol):
    """What :func:`authorize` reads of an action's context (``opensts.actions.ActionContext`` is one)."""

    @property
    def runtime(self) -> IamState: ...

    @property
    def caller(self) -> Caller | None: ...

    @property
    def request_time(self) -> datetime: ...

    @property
    def request_id(self) -> str: ...

    @property
    def source_ip(self) -> str | None: ...

    @property
    def region(self) -> str: ...

    @property
    def secure_transport(self) -> bool: ...

_ENGINE_TYPES = {
    PrincipalKind.ROOT: PrincipalType.ACCOUNT,
    PrincipalKind.USER: PrincipalType.USER,
    PrincipalKind.ASSUMED_ROLE: PrincipalType.ASSUMED_ROLE,
    PrincipalKind.FEDERATED_USER: PrincipalType.FEDERATED_USER,
}
log = logging.getLogger("opensts.access")
_NOTHING = Decision(Outcome.IMPLICIT_DENY, reasons=("the user or role behind these credentials no longer exists",))


# Each CallerPolicies' own number: its remembered decisions are keyed by it (never reused, unlike id()).
_memo_ids = itertools.count()


@dataclass(frozen=True, slots=True)
class CallerPolicies:
    """Everything the engine needs about a caller, besides the request."""

    principal: Principal
    identity: "PolicySet | tuple[Policy, ...]"
    boundaries: tuple[Policy, ...]
    session: tuple[Policy, ...]
    exists: bool = True
    # GetScopedCredentials layers: each must allow, on top of everything else (policy.evaluate).
    scopes: tuple[Policy, ...] = ()
    # Where decision_for remembers decisions and the context keys each action's decisions read: the
    # process-wide Caches.decisions and Caches.decision_keys (see the module; memos_of()), shared by
    # every caller and keyed by memo_id, so that a decision is only ever served to the CallerPolicies
    # it was made with. Both are IAM-data caches, dropped at every IAM change, like this object.
    decisions: BoundedCache[tuple[Any, ...], Decision] = field(kw_only=True, compare=False, repr=False)
    keys_read: BoundedCache[tuple[Any, ...], tuple[str, ...]] = field(kw_only=True, compare=False, repr=False)
    memo_id: int = field(init=False, default_factory=_memo_ids.__next__, compare=False, repr=False)


class Memos(TypedDict):
    """The process-wide memos a :class:`CallerPolicies` remembers its decisions in (its keyword arguments)."""

    decisions: BoundedCache[tuple[Any, ...], Decision]
    keys_read: BoundedCache[tuple[Any, ...], tuple[str, ...]]


def memos_of(caches: Caches) -> Memos:
    """This process's :class:`Memos`: ``CallerPolicies(..., **memos_of(runtime.caches))``."""
    return {"decisions": caches.decisions, "keys_read": caches.decision_keys}


# Decisions on a longer resource are not remembered (/v1/authorize accepts up to 2,048 characters).
_MEMO_RESOURCE_CHARS = 256


def decision_for(
    policies: CallerPolicies,
    action: str,
    resource: str,
    resource_account: str | None,
    resource_policy: "Policy | str | None",
    context: Callable[[], Mapping[str, Any]],
) -> tuple[Decision, Request | None]:
    """The engine's decision, and the Request it was made for (None when the context was not needed).

    ``context`` builds the request context. Decisions are remembered per caller (per
    ``policies``), keyed by the action, resource, resource account and the values of the context
    keys that the applying statements read (the engine's :func:`~opensts.policy.context_keys`): the
    engine would decide the same again. Without such keys the context is not even built, and a
    remembered decision is one dict lookup. Services ask about the same action and resource again
    and again, with the same MFA state and from the same addresses; conditions on the time read keys
    whose values change every second. Decisions on a resource longer than 256 characters, or keyed
    on large context values, are not remembered (see the module for the bounds).
    """
    if not policies.exists:
        return _NOTHING, None
    request: Request | None
    if resource_policy is not None:  # a policy the service sent: nothing to key it on cheaply
        request = Request(policies.principal, action, resource, resource_account, context())
        return evaluate(request, policies.identity, resource_policy, policies.boundaries, policies.session,
                        scope_policies=policies.scopes), request
    memo = policies.decisions
    memo_key: tuple[Any, ...] | None = None
    if len(resource) <= _MEMO_RESOURCE_CHARS:
        # The key of a decision that reads no context key. Only such decisions are kept under it
        # (the keys an action's decisions read depend on the policies and the action alone, and a
        # decision that reads some has one value per key more in its key): a hit needs nothing else.
        memo_key = (policies.memo_id, action, resource, resource_account)
        decision = memo.get(memo_key)
        if decision is not None:
            return decision, None
    keys = _keys_read(policies, action, lambda: context_keys(
        action, policies.identity, policies.boundaries, policies.session, scope_policies=policies.scopes))
    given: Mapping[str, Any] | None = None
    if keys:
        given = context()
        if memo_key is not None:
            memo_key = _memo_key(policies, memo_key, given, keys)
            if memo_key is not None:
                decision = memo.get(memo_key)
                if decision is not None:
                    return decision, None
    if given is None:
        # No applying statement reads the context: decide without building it (a caller that needs
        # the Request, for a denial's message, builds one with the context).
        request = None
        decision = evaluate(Request(policies.principal, action, resource, resource_account), policies.identity,
                            None, policies.boundaries, policies.session, scope_policies=policies.scopes)
    else:
        request = Request(policies.principal, action, resource, resource_account, given)
        decision = evaluate(request, policies.identity, None, policies.boundaries, policies.session,
                            scope_policies=policies.scopes)
    if memo_key is not None:
        memo.put(memo_key, decision)
    return decision, request


def trust_decision_for(
    policies: CallerPolicies,
    trust_policy: str,
    role_arn: str,
    role_account: str,
    extra_actions: tuple[str, ...],
    context: Mapping[str, Any],
) -> Decision:
    """May this caller assume the role (``sts:AssumeRole`` plus ``extra_actions``)? Remembered as
    :func:`decision_for` remembers, keyed by role, trust policy and the values of the keys the trust
    policy and the caller's policies read. The trust policy is part of the key: the role record it
    comes from may have been read under another IAM version than ``policies``. (The role is one
    that exists, with its stored trust policy: callers cannot make these keys large.)"""
    shape = ("sts:AssumeRole", role_arn, extra_actions, trust_policy)

    def keys_read() -> frozenset[str]:
        trust = parse_policy(trust_policy, "trust")
        found: frozenset[str] = frozenset()
        for action in ("sts:AssumeRole", *extra_actions):
            found |= context_keys(action, policies.identity, policies.boundaries, policies.session, trust,
                                  scope_policies=policies.scopes)
        return found

    # The shape is a tuple where decision_for's keys have the action, a str: the two never meet.
    memo_key = _memo_key(policies, (policies.memo_id, shape, role_account), context,
                         _keys_read(policies, shape, keys_read))
    if memo_key is not None:
        decision = policies.decisions.get(memo_key)
        if decision is not None:
            return decision
    request = Request(policies.principal, "sts:AssumeRole", role_arn, role_account, context, resource_policy_required=True)
    decision = evaluate_trust(request, trust_policy, policies.identity, policies.boundaries, policies.session,
                              extra_actions=extra_actions, scope_policies=policies.scopes)
    if memo_key is not None:
        policies.decisions.put(memo_key, decision)
    return decision


def _keys_read(policies: CallerPolicies, shape: Any, compute: Callable[[], frozenset[str]]) -> tuple[str, ...]:
    """The context keys decisions of this shape read (sorted), computed once per ``policies``."""
    key = (policies.memo_id, shape)
    keys = policies.keys_read.get(key)
    if keys is None:
        keys = policies.keys_read.put(key, tuple(sorted(compute())))
    return keys


def _memo_key(
    policies: CallerPolicies, prefix: tuple[Any, ...], context: Mapping[str, Any], keys: tuple[str, ...]
) -> tuple[Any, ...] | None:
    """``prefix`` and the values of ``keys`` in ``context``; None when they should not be a key."""
    values = context_values(policies.principal, context, keys)
    return (*prefix, *values) if values is not None and _small(values) else None


_MEMO_VALUE_CHARS = 1024


def _small(values: list[tuple[str, ...] | None]) -> bool:
    """Whether context values are small enough to key a remembered decision on.

    Callers may send large multivalued keys (aws:TagKeys, say): such decisions are not kept, so
    that the memo's size stays bounded by entries, not by what callers send (long resources are
    refused the same way: ``_MEMO_RESOURCE_CHARS``).
    """
    total = 0
    for value in values:
        if value:
            for text in value:
                total += len(text)
            if total > _MEMO_VALUE_CHARS:
                return False
    return True


def caller_policies(runtime: IamState, caller: Caller) -> CallerPolicies:
    """The policies that apply to ``caller`` (blocking on a cache miss).

    Kept per access key id (a session's ASIA id names exactly one session) until the next IAM
    change: building the engine's Principal and its derived condition keys is worth saving. Its
    remembered decisions are not kept in it but in the process-wide memos (see the module).
    """
    cache = runtime.policies
    version = runtime.iam_version
    cached = cache.caller(caller.access_key_id, version)
    if cached is not None:
        return cached
    policies = _load_caller_policies(runtime, caller)
    cache.remember_caller(caller.access_key_id, version, policies)
    return policies


def _load_caller_policies(runtime: IamState, caller: Caller) -> CallerPolicies:
    memos = memos_of(runtime.caches)
    claims = caller.session
    kind = caller.kind
    session_policies: tuple[Policy, ...] = ()
    scopes: tuple[Policy, ...] = ()
    if claims is not None:
        session_policies = _session_policies(runtime, claims.session_policy, claims.policy_arns)
        scopes = scope_policies(claims.scope_policies)
    if kind is PrincipalKind.ROOT:
        principal = Principal(caller.arn, PrincipalType.ACCOUNT, caller.account_id, caller.account_id)
        return CallerPolicies(principal, (ALLOW_ALL,), (), (), scopes=scopes, **memos)
    entity: EntityPolicySet | None
    if kind is PrincipalKind.ASSUMED_ROLE:
        entity = runtime.policies.get("role", caller.entity_id or "")
    elif caller.entity_id:
        entity = runtime.policies.get("user", caller.entity_id)
    else:
        entity = None  # a federated user of the account root
    tags: dict[str, str] = {}
    if entity is not None:
        tags.update(entity.tags)
    if claims is not None:
        for key, value in claims.tags:
            # Session tags override the entity's tags of the same key (case-insensitive).
            for existing in [k for k in tags if k.lower() == key.lower()]:
                del tags[existing]
            tags[key] = value
    role_arn = None
    if kind is PrincipalKind.ASSUMED_ROLE and claims is not None:
        role_arn = claims.source_arn
    principal = Principal(
        caller.arn, _ENGINE_TYPES[kind], caller.account_id, caller.user_id, role_arn=role_arn, tags=tags
    )
    if entity is None:
        if kind is PrincipalKind.FEDERATED_USER and claims is not None and not claims.source_id:
            return CallerPolicies(principal, (ALLOW_ALL,), (), session_policies, scopes=scopes, **memos)
        return CallerPolicies(principal, (), (), (), exists=False, **memos)
    boundaries = (entity.boundary,) if entity.boundary is not None else ()
    return CallerPolicies(principal, entity.identity, boundaries, session_policies, scopes=scopes, **memos)


_ALLOW_NOTHING = '{"Version":"2012-10-17","Statement":[]}'


def scope_policies(texts: tuple[str, ...]) -> tuple[Policy, ...]:
    """A session's scope-down policies (GetScopedCredentials), parsed; one that no longer parses
    (validated when issued, so only a stricter engine) allows nothing: it still counts as a layer."""
    out = []
    for i, text in enumerate(texts, start=1):
        name = f"scope-down-policy-{i}"
        try:
            out.append(parse_policy(text, "identity", name=name))
        except PolicyValidationError:
            out.append(parse_policy(_ALLOW_NOTHING, "identity", name=name))
    return tuple(out)


def _session_policies(runtime: IamState, inline: str | None, policy_arns: tuple[str, ...]) -> tuple[Policy, ...]:
    policies: list[Policy] = []
    if inline:
        try:
            policies.append(parse_policy(inline, "identity", name="session-policy"))
        except PolicyValidationError:
            policies.append(parse_policy('{"Version":"2012-10-17","Statement":[]}', "identity", name="session-policy"))
    if policy_arns:
        for policy in runtime.policies.managed(tuple(policy_arns)):
            if policy is not None:
                policies.append(policy)
    if (inline or policy_arns) and not policies:
        # Session policies were given but none could be read: they allow nothing.
        policies.append(parse_policy('{"Version":"2012-10-17","Statement":[]}', "identity", name="session-policy"))
    return tuple(policies)


@lru_cache(maxsize=8)
def _iso_second(epoch: int) -> str:
    """``aws:CurrentTime`` in the engine's form, formatted once per second rather than per request."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_context(
    caller: Caller | None,
    now: datetime,
    *,
    source_ip: str | None = None,
    secure_transport: bool = False,
    region: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Global condition keys of a request (see the module); ``extra`` may not override ``aws:`` keys."""
    epoch = int(now.timestamp())
    context: dict[str, Any] = {
        "aws:CurrentTime": _iso_second(epoch),
        "aws:EpochTime": epoch,
        "aws:SecureTransport": secure_transport,
    }
    if source_ip:
        context["aws:SourceIp"] = source_ip
    if region:
        context["aws:RequestedRegion"] = region
    claims = caller.session if caller is not None else None
    if claims is not None:
        context["aws:TokenIssueTime"] = datetime.fromtimestamp(claims.issued_at, timezone.utc)
        context["aws:MultiFactorAuthPresent"] = claims.mfa_authenticated_at is not None
        if claims.mfa_authenticated_at is not None:
            context["aws:MultiFactorAuthAge"] = max(0, int(now.timestamp()) - claims.mfa_authenticated_at)
        if claims.source_identity:
            context["aws:SourceIdentity"] = claims.source_identity
        if claims.federated_provider:
            context["aws:FederatedProvider"] = claims.federated_provider
        for key, value in claims.attributes:
            context.setdefault(key, value)
    if extra:
        present = {k.lower() for k in context}
        for key, value in extra.items():
            if key.lower().startswith("aws:") and key.lower() in present:
                continue
            context[key] = value
    return context


def decide(
    runtime: IamState,
    caller: Caller,
    action: str,
    resource: str,
    context: Callable[[], Mapping[str, Any]],
    *,
    resource_account: str | None = None,
    resource_policy: Policy | str | None = None,
) -> Decision:
    """The decision for ``caller`` (blocking on a cache miss); ``context()`` builds the request context."""
    return decision_for(
        caller_policies(runtime, caller), action, resource, resource_account, resource_policy, context
    )[0]


def denial_message(caller_arn: str, action: str, resource: str, decision: Decision) -> str:
    message = f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.outcome is Outcome.EXPLICIT_DENY:
        message += " with an explicit deny"
    return message


def authorize(
    ctx: CallContext,
    action: str,
    resource: str,
    *,
    resource_account: str | None = None,
    context: Mapping[str, Any] | None = None,
    resource_policy: Policy | str | None = None,
    identity_grant: bool = False,
) -> Decision:
    """Allow or raise ``AccessDenied`` with AWS's message. Blocking (may read the store).

    ``identity_grant``: the account grants this request to the caller as if by one more identity
    policy (IAM's AllowUsersToChangePassword): a request denied only for want of an identity-policy
    Allow is allowed; an explicit Deny, a permissions boundary, session policies and scope layers
    still deny."""
    caller = ctx.caller
    if caller is None:
        raise AccessDenied(f"Anonymous callers are not authorized to perform: {action}")

    def full_context() -> dict[str, Any]:
        return request_context(
            caller, ctx.request_time, source_ip=ctx.source_ip, secure_transport=ctx.secure_transport,
            region=ctx.region, extra=context,
        )

    decision = decide(
        ctx.runtime, caller, action, resource, full_context, resource_account=resource_account,
        resource_policy=resource_policy,
    )
    if not decision.allowed and identity_grant and decision.outcome is Outcome.IMPLICIT_DENY:
        if set(decision.blocked_by) == {"identity"}:
            return decision
    if not decision.allowed:
        if log.isEnabledFor(logging.DEBUG):
            # AWS's STS/IAM denials carry no encoded message; the engine's explanation goes to our log.
            log.debug(
                "AccessDenied (%s) for %s: %s on %s; blocked by %s; matched %s; %s (request %s)",
                decision.outcome.value, caller.arn, action, resource, ",".join(decision.blocked_by) or "-",
                [f"{m.source}:{m.policy}#{m.sid or m.index}:{m.effect}" for m in decision.matched],
                "; ".join(decision.reasons) or "-", ctx.request_id,
            )
        raise AccessDenied(denial_message(caller.arn, action, resource, decision))
    return decision


def iam_resource_arn(account: str, resource: str) -> str:
    """``arn:aws:iam::ACCT:RESOURCE`` — the resource ARN of an IAM call."""
    return f"arn:{arns.PARTITION}:iam::{account}:{resource}"
