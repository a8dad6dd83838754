"""What one authorization request looks like to the engine.

The STS/IAM layers build a :class:`Request` per HTTP request, so these are plain dataclasses whose
construction does all normalisation once (lower-cased context keys, string values, global
condition keys derived from the principal); evaluation then only reads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping, Union

from .arn import parse_arn, role_arn_from_session

ContextScalar = Union[str, int, float, bool, datetime]
ContextValue = Union[ContextScalar, Iterable[ContextScalar]]


class PrincipalType(str, Enum):
    """Who is calling. Values are what ``aws:PrincipalType`` reports where AWS defines one."""

    ACCOUNT = "Account"  # the account root user
    USER = "User"  # an IAM user with long-term keys (or a GetSessionToken session)
    ROLE = "Role"  # the role itself (as named in policies; callers are normally sessions)
    ASSUMED_ROLE = "AssumedRole"  # a role session from AssumeRole*
    FEDERATED_USER = "FederatedUser"  # a GetFederationToken session
    WEB_IDENTITY = "WebIdentity"  # an OIDC identity calling AssumeRoleWithWebIdentity
    SAML = "SAML"  # a SAML identity calling AssumeRoleWithSAML
    SERVICE = "Service"  # an AWS service principal such as lambda.amazonaws.com
    ANONYMOUS = "Anonymous"  # an unsigned request


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller.

    ``arn``: the caller's ARN; for WEB_IDENTITY/SAML the identity provider's ARN (or a well-known
    provider name such as ``accounts.google.com``), for SERVICE the service name, for ANONYMOUS "*".
    ``account``: derived from ``arn`` when omitted. ``role_arn``: for ASSUMED_ROLE, the role's full
    ARN including its path (derived without the path when omitted). ``id``: ``aws:userid``.
    ``tags``: principal and session tags (``aws:PrincipalTag/K``).
    """

    arn: str
    type: PrincipalType = PrincipalType.USER
    account: str | None = None
    id: str | None = None
    role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    canonical_user: str | None = None
    # Global condition keys derived from the fields above, computed once (a caller's Principal is
    # typically cached and reused by many requests).
    derived_context: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", PrincipalType(self.type))
        if self.account is None:
            parsed = parse_arn(self.arn)
            if parsed is not None and parsed.account:
                object.__setattr__(self, "account", parsed.account)
        if self.type is PrincipalType.ASSUMED_ROLE and self.role_arn is None:
            object.__setattr__(self, "role_arn", role_arn_from_session(self.arn))
        object.__setattr__(self, "derived_context", principal_context(self))

    @classmethod
    def from_arn(cls, arn: str, **kw: Any) -> "Principal":
        """Infer the type from an ARN (``:root``, ``:user/``, ``:role/``, ``:assumed-role/``, ...)."""
        return cls(arn=arn, type=kw.pop("type", None) or principal_type_of(arn), **kw)

    @classmethod
    def anonymous(cls) -> "Principal":
        return cls(arn="*", type=PrincipalType.ANONYMOUS)

    @property
    def session_subject(self) -> bool:
        """Whether session policies and the federated-user rule apply to this principal."""
        return self.type in (PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER)


def principal_type_of(arn: str) -> PrincipalType:
    parsed = parse_arn(arn)
    if parsed is None:
        if arn == "*":
            return PrincipalType.ANONYMOUS
        if arn.endswith(".amazonaws.com") or arn.endswith(".amazonaws.com.cn"):
            return PrincipalType.SERVICE
        return PrincipalType.WEB_IDENTITY
    res = parsed.resource
    if res == "root":
        return PrincipalType.ACCOUNT
    if res.startswith("user/"):
        return PrincipalType.USER
    if res.startswith("role/"):
        return PrincipalType.ROLE
    if res.startswith("assumed-role/"):
        return PrincipalType.ASSUMED_ROLE
    if res.startswith("federated-user/"):
        return PrincipalType.FEDERATED_USER
    if res.startswith("saml-provider/"):
        return PrincipalType.SAML
    if res.startswith("oidc-provider/"):
        return PrincipalType.WEB_IDENTITY
    return PrincipalType.USER


def _scalar(value: ContextScalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, int):
        return _int_text(value)
    return value if isinstance(value, str) else str(value)


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # beyond CPython's int->str digit limit; Decimal converts without it
        return str(Decimal(value))


def normalise_context(context: Mapping[str, ContextValue]) -> dict[str, tuple[str, ...]]:
    """Lower-case keys (condition keys are case-insensitive) and turn values into string tuples.

    A scalar becomes a one-element tuple; an iterable keeps all its values (a key with more than
    one value is multivalued; an empty iterable counts as a missing/empty key).
    """
    out: dict[str, tuple[str, ...]] = {}
    for key, value in context.items():
        kind = type(value)  # exact-type dispatch first: the common cases, without isinstance chains
        if kind is str:
            out[key.lower()] = (value,)  # type: ignore[assignment]  # narrowed by `kind is str`
        elif kind is bool:  # before the isinstance chain: request contexts always carry a few
            out[key.lower()] = ("true" if value else "false",)
        elif kind is int:
            out[key.lower()] = (_int_text(value),)  # type: ignore[arg-type]  # narrowed by `kind is int`
        elif value is not None:
            out[key.lower()] = normalise_value(value)  # type: ignore[assignment]
    return out


def normalise_value(value: ContextValue) -> tuple[str, ...] | None:
    """One context value as the engine holds it (None: the key counts as absent)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, int, float, bool, datetime)):
        return (_scalar(value),)  # type: ignore[arg-type]
    return tuple(_scalar(v) for v in value)


def context_values(
    principal: Principal, context: Mapping[str, ContextValue], keys: Iterable[str]
) -> list[tuple[str, ...] | None] | None:
    """``[Request(principal, ..., context=context).ctx.get(key) for key in keys]`` without the Request:
    the given context overrides the keys derived from the principal; ``keys`` are lower-case.

    None when one of those values is a one-shot iterator: reading it here would leave nothing for
    the Request built from the same context.
    """
    given = {key.lower(): value for key, value in context.items() if value is not None}
    derived = principal.derived_context
    out: list[tuple[str, ...] | None] = []
    for key in keys:
        value = given.get(key)
        if value is None:
            out.append(derived.get(key))
        elif isinstance(value, Iterator):
            return None
        else:
            out.append(normalise_value(value))
    return out


@lru_cache(maxsize=4096)  # services ask about the same resources again and again
def _account_in_arn(resource: str) -> str | None:
    """The ARN's account id; None for "aws" (AWS managed policies), "" (S3) or a non-ARN."""
    parsed = parse_arn(resource)
    return parsed.account if parsed is not None and parsed.account.isascii() and parsed.account.isdigit() else None


def principal_context(principal: Principal) -> dict[str, tuple[str, ...]]:
    """Global condition keys AWS derives from the caller (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html); explicit context overrides them."""
    ctx: dict[str, tuple[str, ...]] = {}
    t = principal.type
    if t in (PrincipalType.ANONYMOUS, PrincipalType.SERVICE):
        if t is PrincipalType.SERVICE:
            ctx["aws:principalservicename"] = (principal.arn,)
        return ctx
    ctx["aws:principaltype"] = (t.value,)
    if principal.account:
        ctx["aws:principalaccount"] = (principal.account,)
    if t is PrincipalType.ASSUMED_ROLE and principal.role_arn:
        ctx["aws:principalarn"] = (principal.role_arn,)
    elif t not in (PrincipalType.WEB_IDENTITY, PrincipalType.SAML):
        ctx["aws:principalarn"] = (principal.arn,)
    if principal.id:
        ctx["aws:userid"] = (principal.id,)
    if t is PrincipalType.USER:
        parsed = parse_arn(principal.arn)
        if parsed is not None:
            ctx["aws:username"] = (parsed.resource.rsplit("/", 1)[-1],)
    for k, v in principal.tags.items():
        ctx[f"aws:principaltag/{k.lower()}"] = (v,)
    return ctx


@dataclass(slots=True)  # one per decision: read-only by convention (frozen costs ~2 us to construct)
class Request:
    """One authorization question: may ``principal`` perform ``action`` on ``resource``?

    ``resource_account``: the account owning the resource; taken from the resource ARN when it has
    an account id, else the principal's account (S3 bucket ARNs carry no account: pass it
    explicitly for cross-account access).
    ``context``: condition keys -> a value or an iterable of values (str, int, float, bool, datetime).
    Keys derived from the principal (aws:PrincipalArn, aws:username, aws:PrincipalTag/K, ...)
    are added unless present.
    ``resource_policy_required``: the resource's own policy must allow (role trust policies, KMS
    key policies); None = decide from the action/resource.
    ``resource_is_pattern``: treat ``*``/``?`` in ``resource`` as a pattern standing for many
    resources (what-if simulation): an Allow applies if it covers part of it, a Deny if it covers
    all of it. Off for real requests, whose resource is literal.
    """

    principal: Principal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    resource_policy_required: bool | None = None
    resource_is_pattern: bool = False
    action_lc: str = field(init=False, repr=False, compare=False)
    ctx: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.action_lc = self.action.lower()
        if self.resource_account is None:
            self.resource_account = (
                _account_in_arn(self.resource) if self.resource != "*" else None
            ) or self.principal.account
        ctx = dict(self.principal.derived_context)
        if self.context:
            ctx.update(normalise_context(self.context))
        self.ctx = ctx
